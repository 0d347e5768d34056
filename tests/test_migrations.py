"""T17 (part): one migration head, no drift between models and migrations, on both backends."""

from __future__ import annotations

from navreme import config, migrate
from navreme.db import get_engine


def test_migrations__single_head() -> None:
    assert len(migrate.heads()) == 1


def test_migrations__models_match_the_migrated_schema(settings: config.Settings) -> None:
    assert migrate.drift(get_engine(settings)) == []


def test_migrations__downgrade_to_base_and_up_again(settings: config.Settings) -> None:
    from alembic import command

    engine = get_engine(settings)
    alembic_config = migrate.alembic_config()
    with engine.begin() as connection:
        alembic_config.attributes["connection"] = connection
        command.downgrade(alembic_config, "base")
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.heads()[0]
    assert migrate.drift(engine) == []
