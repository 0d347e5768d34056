"""`navreme cluster up|down|status`: the scaled mode's processes on one machine, by PID."""

from __future__ import annotations

import typer

from navreme.cluster import (
    ClusterError,
    Plan,
    create_database_if_absent,
    down,
    require_scaled_settings,
    status,
    up,
)
from navreme.config import get_settings

app = typer.Typer(help="The scaled mode on one machine: API processes and workers.",
                  no_args_is_help=True)  # fmt: skip


@app.command("up")
def cluster_up(
    apis: int = typer.Option(2, "--apis", min=1, max=32, help="API processes"),
    workers: int = typer.Option(3, "--workers", min=0, max=64, help="queue worker processes"),
    port: int = typer.Option(8100, "--port", min=1, max=65000, help="first API port (P, P+1, …)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address the API processes listen on"),
    threads: int = typer.Option(4, "--threads", min=1, max=64, help="threads per worker"),
    create_database: bool = typer.Option(
        False, "--create-database", help="CREATE DATABASE first when it does not exist"
    ),
) -> None:
    """Migrate once, start the API processes and workers, return when every API is healthy."""
    settings = get_settings()
    plan = Plan(apis=apis, workers=workers, base_port=port, host=host, worker_threads=threads)
    try:
        require_scaled_settings(settings)
        if create_database and create_database_if_absent(settings.resolved_database_url):
            typer.echo("created the database")
        state = up(settings, plan)
    except ClusterError as wrong:
        typer.echo(f"navreme: {wrong}", err=True)
        raise typer.Exit(2) from None
    for member in state.members:
        where = f" http://{host}:{member.port}/" if member.port else ""
        typer.echo(f"{member.role} {member.index}: pid {member.pid}{where}  log {member.log}")
    typer.echo("Spread requests over the API ports (nginx/HAProxy upstream in production); "
               "`navreme cluster down` stops them.")  # fmt: skip


@app.command("down")
def cluster_down(
    grace: float = typer.Option(20, "--grace", min=0, help="seconds after SIGTERM before SIGKILL"),
) -> None:
    """Stop every process of the cluster by its recorded PID."""
    try:
        stopped = down(get_settings(), grace_s=grace)
    except ClusterError as wrong:
        typer.echo(f"navreme: {wrong}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"stopped {len(stopped)} processes")


@app.command("status")
def cluster_status() -> None:
    """Each process alive or dead, and each API's /healthz; exit 1 when any is not well."""
    settings = get_settings()
    try:
        require_scaled_settings(settings)
        found = status(settings)
    except ClusterError as wrong:
        typer.echo(f"navreme: {wrong}", err=True)
        raise typer.Exit(2) from None
    for entry in found:
        member = entry.member
        port = f":{member.port}" if member.port else ""
        typer.echo(f"{member.role:<6} {member.index}  pid {member.pid:<8} "
                   f"{'alive' if entry.alive else 'DEAD':<5}  {port:<6}  health {entry.health}")  # fmt: skip
    if not all(e.alive and e.health in ("ok", "—") for e in found):
        raise typer.Exit(1)
