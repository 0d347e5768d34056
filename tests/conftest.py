"""Shared fixtures: every test gets a fresh, fully migrated database, on SQLite and PostgreSQL.

Databases are cloned from a template migrated once per run (a file copy on SQLite, CREATE
DATABASE … TEMPLATE on PostgreSQL), so each test starts from real migrations and is isolated
even when it commits or runs concurrent requests. Under CI=true the PostgreSQL runs are
mandatory: an unreachable server fails them instead of skipping.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme import config, db, migrate

PG_ADMIN_URL = os.environ.get("NAVREME_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_counter = itertools.count()


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _configure(monkeypatch: pytest.MonkeyPatch, url: str, home: Path) -> config.Settings:
    monkeypatch.setenv("NAVREME_DATABASE_URL", url)
    monkeypatch.setenv("NAVREME_HOME", str(home))
    monkeypatch.setenv("NAVREME_ENV", "test")
    monkeypatch.setenv("NAVREME_SECRET_KEY", "test-secret-" + "x" * 40)
    monkeypatch.setenv("NAVREME_COOKIE_SECURE", "false")
    # every test client calls from one address: T11's own tests set the limits they prove
    monkeypatch.setenv(
        "NAVREME_RATE_LIMITS", json.dumps(dict.fromkeys(config.DEFAULT_RATE_LIMITS, ""))
    )
    config.get_settings.cache_clear()
    return config.get_settings()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "navreme.db"
    engine = db.engine_for(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"navreme_tpl_{os.getpid()}"
    try:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _pg_admin(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as unreachable:
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {unreachable}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: PostgreSQL tests are mandatory)")
        pytest.skip(f"{message}; start it or set NAVREME_TEST_PG to run the PostgreSQL half")
    engine = db.engine_for(_pg_url(name))
    migrate.upgrade(engine)
    engine.dispose()
    db.engine_for.cache_clear()
    yield name
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database for this test only."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "navreme.db")
        yield f"sqlite:///{tmp_path / 'navreme.db'}"
        db.engine_for(f"sqlite:///{tmp_path / 'navreme.db'}").dispose()
        return
    template = request.getfixturevalue("postgres_template")
    name = f"navreme_t_{os.getpid()}_{next(_counter)}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    url = _pg_url(name)
    yield url
    db.engine_for(url).dispose()
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[config.Settings]:
    """Environment pointed at this test's database; `get_settings()` sees it too."""
    yield _configure(monkeypatch, database_url, tmp_path)
    config.get_settings.cache_clear()


@pytest.fixture
def db_session(settings: config.Settings) -> Iterator[Session]:
    """A session on the test's database; commit what the API should see.

    On SQLite it runs without transactions of its own (every statement commits), so it always
    reads what the API just wrote and never holds the single write lock while the API works.
    """
    engine = db.get_engine(settings)
    if engine.dialect.name == "sqlite":
        engine = engine.execution_options(sqlite_begin="none")
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def client(settings: config.Settings) -> Iterator[TestClient]:
    from navreme.web.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def live_server(settings: config.Settings) -> Iterator[str]:
    """Navreme served by uvicorn on a loopback port in a thread of this process (for tests that
    need real concurrent HTTP: races, parallel webhooks); stopped when the test ends."""
    import threading
    import time

    import uvicorn

    from navreme.web.app import create_app
    from tests.servers.process import any_free_port

    port = any_free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
