"""Create and migrate the database: every command that needs it calls `ensure_database`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from navreme.config import Settings, get_settings
from navreme.db import get_engine

MIGRATIONS = Path(__file__).parent / "migrations"
_migrated: set[str] = set()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision(connection)


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


# Any fixed number: every Navreme process that migrates a PostgreSQL database takes this lock.
MIGRATION_LOCK = 0x6E617672656D65  # "navreme"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate in one transaction. On PostgreSQL an advisory lock makes the API and worker
    processes of a scaled deployment, started together on a new release, migrate one at a
    time: the first does the work, the others find the database already there."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            if revision == "head" and _revision(connection) in heads():
                return
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_database(settings: Settings | None = None) -> Engine:
    """Create the database if new and bring it to the latest migration (once per process)."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    url = settings.resolved_database_url
    if url not in _migrated:
        if current_revision(engine) not in heads():
            upgrade(engine)
        _migrated.add(url)
    return engine


def drift(engine: Engine) -> list[object]:
    """Differences between the models and the migrated schema (empty means none)."""
    from navreme.models import metadata

    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))
