"""`navreme db`: migrations and schema checks."""

from __future__ import annotations

import typer
from alembic import command

from navreme import migrate
from navreme.config import get_settings
from navreme.db import get_engine

app = typer.Typer(help="Database: create, migrate, check.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Create the database if needed and apply every migration."""
    engine = migrate.ensure_database()
    typer.echo(f"database at revision {migrate.current_revision(engine)}")


@app.command()
def check() -> None:
    """Fail unless there is exactly one head and the models match the migrations."""
    heads = migrate.heads()
    if len(heads) != 1:
        typer.echo(f"expected one migration head, found {len(heads)}: {heads}", err=True)
        raise typer.Exit(1)
    engine = migrate.ensure_database()
    differences = migrate.drift(engine)
    if differences:
        typer.echo("models and migrations differ:", err=True)
        for difference in differences:
            typer.echo(f"  {difference}", err=True)
        raise typer.Exit(1)
    typer.echo(f"one head ({heads[0]}), no drift")


@app.command()
def revision(message: str = typer.Option(..., "-m", help="what the migration does")) -> None:
    """Autogenerate a migration from the models (developers)."""
    engine = migrate.ensure_database()
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
    typer.echo(f"written under {migrate.MIGRATIONS / 'versions'} for {get_settings().env}")


@app.command()
def url() -> None:
    """Print which database the settings point at (without credentials)."""
    typer.echo(get_engine().url.render_as_string(hide_password=True))
