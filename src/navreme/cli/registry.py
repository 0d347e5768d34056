"""`navreme registry`: bulk import of persons."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from navreme.db import session_scope
from navreme.migrate import ensure_database
from navreme.registry import importer

app = typer.Typer(help="The population registry: persons and their facts.", no_args_is_help=True)


class Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def _report(problem: importer.Problem) -> None:
    typer.echo(str(problem), err=True)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV with a header row, or JSON Lines"),
    fmt: Format | None = typer.Option(None, "--format", help="default: from the extension"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every row, write nothing"),
) -> None:  # fmt: skip
    """Check every row; if none is bad, add all persons in one transaction (else write nothing).

    Columns: national_id, given_name, family_name, birth_date (YYYY-MM-DD), sex (F/M),
    municipality (code like MK-101 or name; empty when abroad); optional abroad_country,
    language, accessibility (separated by ';'), email, phone.
    """
    try:
        chosen = importer.detect_format(file, fmt.value if fmt else None)
    except importer.ImportRefused as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(2) from None
    ensure_database()
    try:
        with session_scope() as session:
            outcome = importer.import_file(
                session, file, fmt=chosen, dry_run=dry_run, report=_report
            )
    except importer.RowsRefused as refused:
        done = refused.outcome
        typer.echo(
            f"refused: {done.problems} problem(s) in {done.rows} rows of {file.name}; "
            "nothing was written",
            err=True,
        )
        raise typer.Exit(1) from None
    except importer.RegistryChanged as changed:
        typer.echo(f"error: {changed}", err=True)
        raise typer.Exit(1) from None
    _summarise(file, outcome, dry_run=dry_run)


def _summarise(file: Path, outcome: importer.Outcome, *, dry_run: bool) -> None:
    if dry_run:
        typer.echo(
            f"dry run: all {outcome.rows} rows of {file.name} are valid; nothing was written"
        )
        return
    typer.echo(
        f"imported {outcome.persons} person(s) and {outcome.contacts} contact endpoint(s) "
        f"from {file.name}"
    )
