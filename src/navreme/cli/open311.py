"""`navreme open311 key …`: API keys for Open311 GeoReport v2 clients (needed to POST requests)."""

from __future__ import annotations

import typer
from sqlalchemy import select

from navreme.cases import open311, open311_keys
from navreme.cases.models import Open311Key
from navreme.db import session_scope
from navreme.migrate import ensure_database

app = typer.Typer(help="Open311 GeoReport v2 clients.", no_args_is_help=True)
key_app = typer.Typer(help="Open311 API keys.", no_args_is_help=True)
app.add_typer(key_app, name="key")


@key_app.command("create")
def create(client: str = typer.Argument(..., help="the client's name, e.g. fixmystreet")) -> None:
    """Issue a key for CLIENT and print it once (it is stored hashed); replaces an earlier key."""
    ensure_database()
    try:
        with session_scope() as session:
            key = open311_keys.issue_key(session, client=client, actor=None)
    except open311.Open311Error as problem:
        typer.echo(problem.description, err=True)
        raise typer.Exit(2) from None
    typer.echo(key)


@key_app.command("revoke")
def revoke(client: str = typer.Argument(..., help="the client's name")) -> None:
    """Stop CLIENT's key at once."""
    ensure_database()
    with session_scope() as session:
        found = open311_keys.revoke_key(session, client=client, actor=None)
    if not found:
        typer.echo(f"no Open311 client {client!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked the key of {client}")


@key_app.command("list")
def list_keys() -> None:
    """Every client, with its key's public prefix and whether it is revoked."""
    ensure_database()
    with session_scope() as session:
        rows = session.scalars(select(Open311Key).order_by(Open311Key.client)).all()
        for row in rows:
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            typer.echo(f"{row.client}\t{open311_keys.KEY_PREFIX}{row.prefix}_…\t{state}")
