def seed() -> None:
    """Seed."""
