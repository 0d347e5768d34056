"""T17 (part): one migration head, no drift between models and migrations, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from navreme import config, db, migrate
from navreme.db import get_engine
from tests.conftest import _pg_admin, _pg_url


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


@pytest.mark.postgres
def test_migrations__processes_starting_together_on_a_new_database_migrate_it_once(
    tmp_path: Path,
) -> None:
    """A scaled deployment's API and worker processes start at once against a new database:
    each runs the migrations on start-up, and none may fail on another's half-made tables."""
    name = f"navreme_race_{os.getpid()}"
    _pg_admin(f"CREATE DATABASE {name}")
    url = _pg_url(name)
    try:
        go = tmp_path / "go"
        # Each process imports everything first, then all migrate at the same moment.
        script = (
            "import os, pathlib, time\n"
            "from navreme import migrate\n"
            f"pathlib.Path({str(tmp_path)!r}, f'ready-{os.getpid()}').touch()\n"
            f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
            "migrate.ensure_database()\n"
        )
        environment = {**os.environ, "NAVREME_DATABASE_URL": url, "NAVREME_HOME": str(tmp_path)}
        started = [
            subprocess.Popen(
                [sys.executable, "-c", script],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            for _ in range(3)
        ]
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready-*"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        go.touch()
        outputs = [process.communicate(timeout=180)[0].decode() for process in started]
        assert [process.returncode for process in started] == [0, 0, 0], outputs
        engine = db.engine_for(url)
        assert migrate.current_revision(engine) == migrate.heads()[0]
        assert migrate.drift(engine) == []
        engine.dispose()
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
