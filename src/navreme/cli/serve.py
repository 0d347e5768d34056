def serve() -> None:
    """Serve."""
def demo() -> None:
    """Demo."""
