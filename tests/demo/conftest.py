"""A seeded population shared by the read-only tests of a module, on SQLite and PostgreSQL.

Seeding 20,000 people takes seconds, so the tests that only read it share one database per
module and backend (cloned from the root conftest's migrated templates, like `settings`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest

from navreme import db
from navreme.config import Settings
from navreme.demo.seed import SeedReport, seed_demo_country
from tests.conftest import PG_ADMIN_URL

AS_OF = date(2025, 6, 1)
PEOPLE = 20_000
SEED = 7


@dataclass(frozen=True)
class Population:
    settings: Settings
    report: SeedReport
    backend: str


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _clone(backend: str, request: pytest.FixtureRequest, folder: Path) -> tuple[str, str | None]:
    """(database URL, PostgreSQL database name to drop afterwards or None)."""
    if backend == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), folder / "navreme.db")
        return f"sqlite:///{folder / 'navreme.db'}", None
    template = request.getfixturevalue("postgres_template")
    name = f"navreme_demo_{os.getpid()}_{folder.name.replace('-', '_')}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, name


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def population(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Population]:
    folder = tmp_path_factory.mktemp("population")
    url, pg_name = _clone(request.param, request, folder)
    settings = Settings(database_url=url, home=folder, env="test", secret_key="t" * 40)
    report = seed_demo_country(settings, persons=PEOPLE, seed=SEED, as_of=AS_OF)
    yield Population(settings, report, request.param)
    db.engine_for(url).dispose()
    if pg_name:
        _pg_admin(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
