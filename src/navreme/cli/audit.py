"""`navreme audit`: verify the tamper-evident log."""

from __future__ import annotations

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.audit import queries
from navreme.audit.models import AuditEntry
from navreme.db import session_scope
from navreme.migrate import ensure_database

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command()
def verify(
    expect_head: str = typer.Option(
        "", help="a head hash noted earlier (e.g. from a nightly export): detects cut-off tails"
    ),
) -> None:
    """Chain pending entries, then walk the whole hash chain; exit 1 and list every problem if
    it was tampered with (or an entry could not be chained)."""
    ensure_database()
    with session_scope() as session:
        count, head, problems = queries.verify_chain(session)
        if expect_head and not _chain_contains(session, expect_head):
            problems.append(queries.ChainProblem(0, f"noted head {expect_head[:12]}… is gone"))
    for problem in problems[:50]:
        typer.echo(f"entry {problem.seq}: {problem.reason}", err=True)
    if problems:
        typer.echo(f"TAMPERED: {len(problems)} problem(s) in {count} entries", err=True)
        raise typer.Exit(1)
    typer.echo(f"intact: {count} entries, head {head}")


def _chain_contains(session: Session, head: str) -> bool:
    return session.scalar(select(AuditEntry.seq).where(AuditEntry.hash == head)) is not None
