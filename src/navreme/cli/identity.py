"""`navreme officer` and `navreme token`: accounts for a real installation (not the demo)."""

from __future__ import annotations

import pyotp
import typer
from sqlalchemy import select

from navreme.db import session_scope
from navreme.identity import actions
from navreme.identity.models import ROLES, Officer
from navreme.identity.queries import department_by_code, officer_by_username
from navreme.migrate import ensure_database

officer_app = typer.Typer(help="Officer accounts (argon2 password + TOTP).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for machine clients.", no_args_is_help=True)


@officer_app.command("create")
def create(
    username: str = typer.Option(..., help="login name"),
    name: str = typer.Option(..., help="display name"),
    department: str = typer.Option(..., help="department code, e.g. MVR"),
    role: list[str] = typer.Option(["officer"], help=f"repeatable: {', '.join(ROLES)}"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="at least 12 characters"
    ),
) -> None:
    """Create an officer and print the TOTP secret to enrol in an authenticator app."""
    problems = [f"unknown role {r!r}" for r in role if r not in ROLES]
    if len(password) < 12:
        problems.append("password must be at least 12 characters")
    ensure_database()
    with session_scope() as session:
        found = department_by_code(session, department)
        if found is None:
            problems.append(
                f"unknown department {department!r} (run `navreme seed` or load the catalogue)"
            )
        if officer_by_username(session, username):
            problems.append(f"username {username!r} is taken")
        if problems or found is None:
            typer.echo("\n".join(problems), err=True)
            raise typer.Exit(1)
        officer = actions.create_officer(
            session, username=username, display_name=name, department_id=found.id,
            roles=role, password=password,
        )  # fmt: skip
        uri = pyotp.TOTP(officer.totp_secret or "").provisioning_uri(
            name=username, issuer_name="Navreme"
        )
    typer.echo(f"created {username} ({', '.join(sorted(set(role)))}, {department})")
    typer.echo(f"TOTP enrolment URI (show once, as a QR code or typed in): {uri}")


@officer_app.command("list")
def list_officers() -> None:
    ensure_database()
    with session_scope() as session:
        for officer in session.scalars(select(Officer).order_by(Officer.username)):
            state = "active" if officer.active else "inactive"
            typer.echo(f"{officer.username:<24} {','.join(officer.roles):<32} {state}")


@token_app.command("create")
def create_token(
    username: str = typer.Option(..., help="the officer the client acts as"),
    name: str = typer.Option(..., help="what the token is for"),
    days: int = typer.Option(365, min=1, max=3650),
) -> None:
    """Print a new API token once; only its hash is kept."""
    ensure_database()
    with session_scope() as session:
        officer = officer_by_username(session, username)
        if officer is None:
            typer.echo(f"no officer {username!r}", err=True)
            raise typer.Exit(1)
        _row, token = actions.create_api_token(
            session, officer_id=officer.id, name=name, actor=None, days=days
        )
    typer.echo(token)
