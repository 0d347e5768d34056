"""Create and migrate the database: every command that needs it calls `ensure_database`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

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
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as connection:
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
