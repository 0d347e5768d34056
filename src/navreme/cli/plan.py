"""`navreme plan campaign RULE`: plan a mass replacement's waves and hold everyone's slot."""

from __future__ import annotations

from datetime import datetime

import typer
from sqlalchemy import select

from navreme import clock
from navreme.config import get_settings
from navreme.db import session_scope
from navreme.migrate import ensure_database
from navreme.rules.models import Rule
from navreme.scheduling.campaign import NotACampaign, plan_campaign

app = typer.Typer(help="Capacity-aware campaign planning.", no_args_is_help=True)


@app.command("campaign")
def campaign(
    rule_code: str = typer.Argument(..., help="a published mandated-replacement rule"),
    start: datetime = typer.Option(None, "--start", help="first campaign day; default today"),
    buffer: float = typer.Option(0.1, "--buffer", min=0.0, max=0.9, help="no-show buffer"),
    notice_days: int = typer.Option(14, "--notice-days", min=0, help="invite this long before"),
    commit: bool = typer.Option(False, "--commit", help="write the held slots (default: report)"),
) -> None:
    """Plan who comes where and when, within every office-day's capacity; --commit holds slots."""
    settings = get_settings()
    ensure_database(settings)
    with session_scope(settings) as session:
        rule = session.scalar(
            select(Rule).where(Rule.code == rule_code, Rule.status == "published")
        )
        if rule is None:
            typer.echo(f"navreme: no published rule {rule_code!r}", err=True)
            raise typer.Exit(2)
        try:
            report = plan_campaign(
                session, settings, rule, start=start.date() if start else clock.today(),
                no_show_buffer=buffer, notice_days=notice_days, commit=commit,
            )  # fmt: skip
        except NotACampaign as error:
            typer.echo(f"navreme: {error}", err=True)
            raise typer.Exit(2) from error
    typer.echo(f"campaign {report.rule} ({report.service}) {report.start} → {report.deadline}")
    typer.echo(f"  persons targeted   {report.persons:,}")
    typer.echo(f"  planned            {report.planned:,}  "
               f"(visits {report.first_visit} … {report.last_visit})")  # fmt: skip
    for reason, count in report.unplanned.items():
        typer.echo(f"  not planned        {count:,}  {reason}")
    typer.echo(f"  busiest office-day {report.peak_load:.0%} of usable capacity")
    if commit:
        typer.echo(f"  slots held         {report.held:,}  "
                   f"(lost to bookings made meanwhile: {report.lost_to_bookings:,})")  # fmt: skip
    typer.echo(f"  seconds            {report.seconds:.1f}")
