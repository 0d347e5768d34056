"""`navreme serve` (API and pages) and `navreme demo` (seed if empty, then serve)."""

from __future__ import annotations

import os
import signal
import threading

import typer
import uvicorn
from huey.consumer import Consumer
from sqlalchemy import func, select

from navreme.config import Settings, get_settings
from navreme.db import session_scope
from navreme.migrate import ensure_database

# uvicorn kills a worker that does not answer its supervisor's ping within this (5 s by
# default); importing the app takes longer than that on a busy machine, and a worker killed while
# starting is restarted and killed again, forever: seen with 2 workers at load average 8.
WORKER_START_SECONDS = 60


def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    workers: int = typer.Option(1, min=1, help="API processes"),
) -> None:
    """Serve the JSON API and the pages (embedded mode: the job consumer runs alongside)."""
    settings = get_settings()
    ensure_database(settings)
    consumer = _embedded_consumer() if not settings.queue_url and workers == 1 else None
    if workers > 1:
        _share_metrics(settings, port)
    _load_classifier(settings)
    try:
        uvicorn.run(
            "navreme.web.app:create_app", factory=True, host=host, port=port, workers=workers,
            proxy_headers=True, server_header=False, log_level="info",
            timeout_worker_healthcheck=WORKER_START_SECONDS,
        )  # fmt: skip
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its own clean shutdown
        pass
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


def _share_metrics(settings: Settings, port: int) -> None:
    """Several uvicorn workers answer /metrics in turn, so they must share their figures for a
    scrape to sum them all. A directory the operator chose is left alone (separate `serve`
    processes of a cluster share one, emptied once by whoever starts them); otherwise one under
    NAVREME_HOME, per port, emptied now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from navreme.web import metrics

    shared = (settings.home / "metrics" / str(port)).resolve()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    metrics.empty_shared_directory()


def _load_classifier(settings: Settings) -> None:
    """Load (or, without an installed model, train the built-in) request classifier in the
    background at start-up, so the first request does not wait for it. With several workers
    each loads its own on first use."""
    from navreme.cases.classifier import model_for

    threading.Thread(target=model_for, args=(settings.home.resolve(),), daemon=True).start()


def _embedded_consumer() -> Consumer:
    """One process does it all on a single machine: periodic jobs run in threads beside the API."""
    from navreme.workers.app import huey

    consumer = huey.create_consumer(workers=1, periodic=True, worker_type="thread")
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    consumer.start()
    for number, handler in saved.items():  # the web server owns the process's signals
        signal.signal(number, handler)
    return consumer


def demo(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000, min=1, max=65535),
    persons: int = typer.Option(10_000, min=0, help="persons to seed when the registry is empty"),
) -> None:
    """Create and migrate the embedded database, seed the demo country if empty, serve it."""
    from navreme.cli.seed import start_proactive_rules
    from navreme.demo.seed import seed_demo_country
    from navreme.identity.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
    from navreme.registry.models import Person

    settings = get_settings()
    ensure_database(settings)
    with session_scope() as session:
        empty = not session.scalar(select(func.count()).select_from(Person))
    if empty:
        typer.echo(f"Seeding the demo country ({persons:,} persons)…")
        seed_demo_country(settings, persons=persons)
        typer.echo(start_proactive_rules())
    else:
        from navreme.demo.offices import equip_offices

        with session_scope() as session:  # a database seeded before appointments existed
            if equipped := equip_offices(session):
                typer.echo(f"Gave {equipped} offices their counters and opening hours.")
    typer.echo(f"\nNavreme is running at http://{host}:{port}/")
    typer.echo(f"Database: {settings.resolved_database_url}")
    typer.echo(f"Officer logins (password '{DEMO_PASSWORD}', TOTP code shown on the start page):")
    for username, _name, department, roles in DEMO_ACCOUNTS:
        typer.echo(f"  {username:<18} {department:<5} {', '.join(roles)}")
    typer.echo("Citizens sign in with a demo personal number; codes appear at /dev/outbox.\n")
    serve(host=host, port=port, workers=1)
