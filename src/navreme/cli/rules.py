"""`navreme rules`: the proactive engine's rules — list, sync from files, dry-run, run, daily.

`navreme rules daily` is the daily job: cron (or the Huey periodic task) calls it once a day;
it runs every published rule for each day it missed (at most a month back), then today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.catalogue.models import Service
from navreme.db import session_scope
from navreme.migrate import ensure_database
from navreme.rules import actions, loader, queries
from navreme.rules.models import Rule, RuleRun
from navreme.rules.schemas import RuleDefinition

app = typer.Typer(help="Proactive rules: list, sync, dry-run, run, daily.", no_args_is_help=True)

AS_OF = typer.Option(None, "--as-of", help="the day to evaluate (YYYY-MM-DD); default today")


def _day(value: datetime | None) -> date:
    return value.date() if value else clock.today()


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    cells = [list(map(str, header)), *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        typer.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _version(session: Session, code: str, *, published_only: bool) -> Rule:
    """The published version of a rule; for dry runs, else the newest draft."""
    query = select(Rule).where(Rule.code == code)
    if published_only:
        query = query.where(Rule.status == "published")
    ranked = query.order_by((Rule.status == "published").desc(), Rule.version.desc())
    rule = session.scalars(ranked.limit(1)).first()
    if rule is None:
        raise _fail(f"no {'published ' if published_only else ''}rule {code!r}")
    return rule


@app.command("list")
def list_rules() -> None:
    """Every rule version: code, version, status, service, trigger, level, last run."""
    ensure_database()
    with session_scope() as session:
        runs = queries.last_runs(session)
        rows = [
            (v.code, v.version, v.status, v.service, v.trigger_kind, v.level, _last(runs, v.code))
            for summary in queries.rules_overview(session)
            for v in summary.versions
        ]
    _table(("code", "version", "status", "service", "trigger", "level", "last run"), rows)


def _last(runs: dict[str, RuleRun], code: str) -> str:
    run = runs.get(code)
    return f"{run.as_of} ({run.matched} matched, {run.created} new)" if run else "never"


@app.command("sync")
def sync(
    publish: bool = typer.Option(True, help="publish new versions (the old ones retire)"),
) -> None:
    """Load the definition files: new or changed files become new versions."""
    ensure_database()
    with session_scope() as session:
        if not session.scalar(select(func.count()).select_from(Service)):
            raise _fail("the service catalogue is empty: run `navreme seed` first", 2)
        try:
            report = loader.sync_definitions(session, publish=publish)
        except loader.DefinitionsInvalid as invalid:
            for name, problems in invalid.problems.items():
                for problem in problems:
                    typer.echo(f"{name}: {problem}", err=True)
            raise _fail("invalid rule files; nothing was written") from None
    typer.echo(
        f"created {len(report.created)}, published {len(report.published)}, "
        f"unchanged {len(report.unchanged)}"
    )
    for line in report.created:
        typer.echo(f"  new: {line}")


@app.command("dry-run")
def dry_run(
    rule: str = typer.Argument(..., help="rule code"), as_of: datetime | None = AS_OF
) -> None:
    """Who the rule would match (published version, else the newest draft); writes nothing."""
    ensure_database()
    day = _day(as_of)
    with session_scope() as session:
        found = _version(session, rule, published_only=False)
        label = f"{found.code} v{found.version} ({found.status})"
        result = queries.dry_run(session, RuleDefinition.model_validate(found.definition), day)
        session.rollback()  # a dry run writes nothing, whatever it touched
    typer.echo(f"{label} as of {day}: {result.matched} matched")
    for title, counts in (
        ("municipality", result.by_municipality),
        ("age band", result.by_age_band),
        ("language", result.by_language),
    ):
        typer.echo("")
        _table((title, "persons"), ((c.key, c.count) for c in counts))


@app.command("run")
def run(
    rule: str | None = typer.Argument(None, help="rule code (or --all)"),
    all_rules: bool = typer.Option(False, "--all", help="every published rule"),
    as_of: datetime | None = AS_OF,
) -> None:
    """Run one published rule, or all of them, as of a day."""
    if bool(rule) == all_rules:
        raise _fail("name one rule or pass --all", 2)
    ensure_database()
    day = _day(as_of)
    with session_scope() as session:
        if all_rules:
            runs = actions.run_published(session, as_of=day, trigger="manual")
        else:
            found = _version(session, rule or "", published_only=True)
            runs = [actions.run_rule(session, found, as_of=day, trigger="manual")]
        _print_runs(runs)


def _print_runs(runs: list[RuleRun]) -> None:
    _table(
        ("rule", "as of", "trigger", "matched", "new offers"),
        ((r.rule_code, r.as_of, r.trigger, r.matched, r.created) for r in runs),
    )


@app.command("daily")
def daily(as_of: datetime | None = AS_OF) -> None:
    """The daily job (cron / Huey): every published rule for each missed day, then today."""
    ensure_database()
    with session_scope() as session:
        runs = actions.catch_up(session, until=_day(as_of))
        _print_runs(runs)
    typer.echo(f"{len(runs)} run(s)")
