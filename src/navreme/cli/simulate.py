"""`navreme simulate renewal-campaign`: the 2023–24 campaign replayed, reactive vs Navreme."""

from __future__ import annotations

import shlex
import sys
from datetime import datetime
from pathlib import Path

import typer

app = typer.Typer(help="Simulations of whole campaigns (needs the `sim` extra).",
                  no_args_is_help=True)  # fmt: skip


@app.command("renewal-campaign")
def renewal_campaign(
    persons: int = typer.Option(1_800_000, "--persons", min=100, help="synthetic persons"),
    start: datetime = typer.Option("2023-05-01", "--start", formats=["%Y-%m-%d"]),
    deadline: datetime = typer.Option("2024-02-12", "--deadline", formats=["%Y-%m-%d"]),
    seed: int = typer.Option(2023, "--seed", help="the same seed gives the same run"),
    out: Path = typer.Option(Path("docs"), "--out", help="writes simulation.md and simulation/"),
) -> None:
    """Simulate both arms on one synthetic country and capacity; write tables and charts."""
    try:
        from navreme.simulation.campaign import run_campaign
        from navreme.simulation.charts import write_charts
        from navreme.simulation.report import write_report
    except ImportError as missing:
        typer.echo(f"navreme: {missing.name} is missing: install the `sim` extra", err=True)
        raise typer.Exit(2) from None
    if deadline <= start:
        raise typer.BadParameter("must be after --start", param_hint="--deadline")
    campaign = run_campaign(
        persons=persons, start=start.date(), deadline=deadline.date(), seed=seed
    )
    charts = write_charts(campaign, out / "simulation")
    command = "navreme " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    write_report(campaign, command=command, path=out / "simulation.md", charts=charts)
    typer.echo((out / "simulation.md").read_text(encoding="utf-8"))
