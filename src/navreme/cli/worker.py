"""`navreme worker`: the Huey consumer: message deliveries (priority lane first) and periodic jobs."""

from __future__ import annotations

import typer

from navreme.migrate import ensure_database


def worker(
    workers: int = typer.Option(2, min=1, max=64, help="worker threads"),
    periodic: bool = typer.Option(True, help="also run the periodic schedule"),
) -> None:
    """Run the job consumer until interrupted (Ctrl-C stops it gracefully)."""
    from navreme.workers.app import huey

    ensure_database()
    huey.create_consumer(workers=workers, periodic=periodic, worker_type="thread").run()
