"""`navreme messages campaign|sweep|letters`: operators' messaging tools."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer

from navreme import clock
from navreme.audit.actions import record
from navreme.config import get_settings
from navreme.db import session_scope
from navreme.messaging import campaign as campaigns
from navreme.messaging import dispatch
from navreme.messaging.actions import MessagingError
from navreme.messaging.templates import TemplateError
from navreme.migrate import ensure_database

app = typer.Typer(help="Messages: campaigns and the sweeper.", no_args_is_help=True)


@app.command("campaign")
def campaign(
    template: str = typer.Argument(..., help="a template under templates/messages/"),
    purpose: str = typer.Option("proactive_offers", "--purpose", help="the consent it needs"),
    context: str = typer.Option("{}", "--context", help="the template's variables, as JSON"),
    commit: bool = typer.Option(False, "--commit", help="write and queue (default: count only)"),
) -> None:
    """One text to everyone who consented to the purpose, on their preferred channel."""
    settings = get_settings()
    ensure_database(settings)
    try:
        values = json.loads(context)
    except ValueError:
        typer.echo("navreme: --context is not JSON", err=True)
        raise typer.Exit(2) from None
    if not isinstance(values, dict):
        typer.echo("navreme: --context must be a JSON object", err=True)
        raise typer.Exit(2)
    with session_scope(settings) as session:
        try:
            report = campaigns.fan_out(session, template=template, purpose=purpose,
                                       context=values, created_by="cli")  # fmt: skip
        except (MessagingError, TemplateError) as wrong:
            typer.echo(f"navreme: {wrong}", err=True)
            raise typer.Exit(2) from None
        if not commit:
            session.rollback()
            typer.echo(f"{report.messages:,} messages would go out ({report.variants} variants); "
                       "nothing written (add --commit)")  # fmt: skip
            return
        record(session, action="messages.campaign", actor_kind="system",
               details={"template": template, "purpose": purpose, "messages": report.messages})  # fmt: skip
    typer.echo(f"{report.messages:,} messages written and queued ({report.variants} variants)")


@app.command("sweep")
def sweep() -> None:
    """Run the sweeper once now (it also runs every minute in the worker)."""
    settings = get_settings()
    ensure_database(settings)
    with session_scope(settings) as session:
        done = dispatch.sweep(session, settings)
    typer.echo(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in done.items()))


@app.command("letters")
def letters(
    day: datetime = typer.Argument(None, help="the day whose letters to batch; default today"),
    spool: str = typer.Option("", "--spool", help="the letter channel's spool_dir, if not default"),
) -> None:
    """Merge a day's letters into one PDF and a CSV manifest for the print house."""
    from navreme.messaging.channels.letter import NoLettersForDay, batch_for_print

    settings = get_settings()
    folder = Path(spool) if spool else settings.home / "letters"
    chosen = day.date() if day else clock.today(settings.timezone)
    try:
        merged = batch_for_print(folder, chosen)
    except NoLettersForDay:
        typer.echo(f"no letters for {chosen.isoformat()} under {folder}")
        raise typer.Exit(1) from None
    typer.echo(f"print batch: {merged}")
