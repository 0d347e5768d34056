"""`navreme seed`: create and migrate the database, then seed the demo country into it."""

from __future__ import annotations

import time
from datetime import datetime

import typer

from navreme.config import get_settings
from navreme.demo.seed import MAX_PERSONS, Progress, SeedReport, seed_demo_country
from navreme.migrate import ensure_database

PROGRESS_STEP = 0.1  # print progress every tenth of the way


def seed(
    persons: int = typer.Option(
        20_000, "--persons", min=0, max=MAX_PERSONS, help="how many people to draw"
    ),
    seed: int = typer.Option(2021, "--seed", help="the same seed gives the same registry"),
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="the seed's 'today' for ages and expiry (default: today in Europe/Skopje)",
    ),  # fmt: skip
    rules: bool = typer.Option(
        True, help="then load the rule definitions and run today's proactive rules"
    ),
) -> None:
    """Seed a synthetic North Macedonia: municipalities, services, offices, people."""
    settings = get_settings()
    ensure_database(settings)
    typer.echo(
        f"Seeding {persons:,} persons (seed {seed}) into {_where(settings.resolved_database_url)}"
    )
    report = seed_demo_country(
        settings, persons=persons, seed=seed, as_of=as_of.date() if as_of else None,
        progress=_progress_printer(time.perf_counter()),
    )  # fmt: skip
    for note in report.notes:
        typer.echo(f"note: {note}")
    if not report.skipped:
        typer.echo(summary(report))
    if rules:
        typer.echo(start_proactive_rules())


def start_proactive_rules() -> str:
    """Load the rule files (new versions where changed) and run every rule up to today."""
    from navreme import clock
    from navreme.db import session_scope
    from navreme.rules.actions import catch_up
    from navreme.rules.loader import sync_definitions

    with session_scope() as session:
        sync_definitions(session)
        runs = catch_up(session, until=clock.today(get_settings().timezone))
    offers = sum(run.created for run in runs)
    return f"proactive rules: {len(runs)} run(s), {offers:,} new offer(s)"


def _where(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


def _progress_printer(started: float) -> Progress:
    next_mark = [PROGRESS_STEP]

    def show(done: int, wanted: int) -> None:
        if done >= wanted or done / wanted >= next_mark[0]:
            next_mark[0] = done / wanted + PROGRESS_STEP
            typer.echo(
                f"  {done:>10,} / {wanted:,} persons  {time.perf_counter() - started:7.1f} s"
            )

    return show


def summary(report: SeedReport) -> str:
    """The closing lines: what was created, how long it took, how fast."""
    elapsed = max(report.elapsed_s, 1e-9)
    rows = report.rows
    lines = [
        f"as of {report.as_of.isoformat()}, seed {report.seed}:",
        f"  municipalities {report.municipalities_created:,} new, offices {report.offices_created:,} new",
        f"  persons {report.persons:,} in {report.households:,} households",
        f"  documents {rows['documents']:,}, contact endpoints {rows['contact_endpoints']:,}",
        f"  consent events {rows['consent_events']:,}, guardian links {rows['guardian_links']:,}, "
        f"life events {rows['life_events']:,}",
        f"  {elapsed:.1f} s: {report.persons / elapsed:,.0f} persons/s, "
        f"{report.total_rows / elapsed:,.0f} rows/s ({report.total_rows:,} rows)",
    ]
    return "\n".join(lines)
