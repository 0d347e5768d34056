"""Backups, proven: dump, wipe, restore, and the restored database is the same one.

On a private PostgreSQL: seed a small demo country, note every table's row count and the audit
chain's head, back up with scripts/backup.sh (pg_dump), DROP the database, restore it with
scripts/restore.sh (pg_restore), then check the counts match, the chain verifies with the same
head, new entries still extend it, the app serves from it, and tampering is still detected.
The scripts are run exactly as an operator would (docs/operations.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, select, text

from navreme import config, db, migrate
from navreme.audit import actions as audit
from navreme.audit import queries
from navreme.demo.seed import seed_demo_country
from navreme.models import metadata
from tests.cluster.crash_support import point_at, serving
from tests.servers.postgres import PrivatePostgres, binary

pytestmark = pytest.mark.postgres

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
PERSONS = int(os.environ.get("NAVREME_BACKUP_PERSONS", "300"))
DATABASE = "navreme_backup"


@dataclass
class Seeded:
    cluster: PrivatePostgres
    url: str
    settings: config.Settings
    home: Path


@pytest.fixture(scope="module")
def seeded_template(
    private_postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A demo country with some audit history, seeded once; each test restores a copy."""
    name = f"{DATABASE}_template"
    private_postgres.drop_database(name)
    url = private_postgres.create_database(name)
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = point_at(monkeypatch, url, tmp_path_factory.mktemp("seed"))
        migrate.ensure_database(settings)
        seed_demo_country(settings, persons=PERSONS)
        with db.session_scope() as session:
            for n in range(20):
                audit.record(session, action="test.backup", actor_kind="system", details={"n": n})
        forget(url)
    config.get_settings.cache_clear()
    return name


@pytest.fixture
def seeded(
    private_postgres: PrivatePostgres,
    seeded_template: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Seeded]:
    """This test's copy of the seeded database; dropped afterwards."""
    private_postgres.drop_database(DATABASE)
    private_postgres.execute(f'CREATE DATABASE "{DATABASE}" TEMPLATE "{seeded_template}"')
    url = private_postgres.url(DATABASE)
    settings = point_at(monkeypatch, url, tmp_path)
    try:
        yield Seeded(private_postgres, url, settings, tmp_path)
    finally:
        forget(url)
        config.get_settings.cache_clear()
        private_postgres.drop_database(DATABASE)


def forget(url: str) -> None:
    """Close this process's pooled connections (DROP DATABASE would cut them anyway)."""
    db.engine_for(url).dispose()
    migrate._migrated.discard(url)


def row_counts(engine: Engine) -> dict[str, int]:
    """Every table of the schema, the migrations' bookkeeping included."""
    with engine.connect() as connection:
        counts = {
            name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in metadata.tables.items()
        }
        counts["alembic_version"] = int(
            connection.scalar(text("SELECT count(*) FROM alembic_version")) or 0
        )
    return counts


def chain() -> tuple[int, str, list[queries.ChainProblem]]:
    with db.session_scope() as session:
        return queries.verify_chain(session)


def run_script(script: str, argument: Path) -> subprocess.CompletedProcess[str]:
    """The operator's command: PostgreSQL's client tools and `navreme` on PATH."""
    path = os.pathsep.join(
        [str(Path(binary("pg_dump")).parent), str(Path(sys.executable).parent), os.environ["PATH"]]
    )
    return subprocess.run(
        [str(SCRIPTS / script), str(argument)],
        env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def database_exists(cluster: PrivatePostgres) -> bool:
    with psycopg.connect(cluster.url(), autocommit=True, connect_timeout=5) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
    return found is not None


def tamper_with_one_audit_entry(url: str) -> None:
    """What an intruder with the superuser's password could do: switch the append-only guard
    off, rewrite an entry, switch it back on. Only the hash chain can tell."""
    with psycopg.connect(url, autocommit=True) as superuser:
        superuser.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        superuser.execute(
            "UPDATE audit_entries SET details = '{\"n\": 999}' "
            "WHERE seq = (SELECT min(seq) FROM audit_entries WHERE action = 'test.backup')"
        )
        superuser.execute("ALTER TABLE audit_entries ENABLE TRIGGER USER")


def test_dump_wipe_restore_gives_back_the_same_database_and_a_verifiable_chain(
    seeded: Seeded, tmp_path: Path
) -> None:
    before = row_counts(db.get_engine())
    entries, head, problems = chain()
    assert problems == []
    assert before["persons"] == PERSONS
    assert entries == before["audit_entries"] >= 20

    dump = tmp_path / "navreme.dump"
    backup = run_script("backup.sh", dump)
    assert backup.returncode == 0, backup.stderr
    assert (tmp_path / "navreme.dump.audit-head").read_text().strip() == head

    forget(seeded.url)
    seeded.cluster.drop_database(DATABASE)  # the wipe
    assert not database_exists(seeded.cluster)

    restore = run_script("restore.sh", dump)
    assert restore.returncode == 0, restore.stderr
    assert f"intact: {entries} entries, head {head}" in restore.stdout
    again = run_script("restore.sh", dump)  # over a database that has tables: refused
    assert again.returncode == 2
    assert "refusing" in again.stderr

    assert row_counts(db.get_engine()) == before
    assert chain() == (entries, head, [])
    with db.session_scope() as session:  # the chain goes on from where the backup left it
        audit.record(session, action="test.after_restore", actor_kind="system")
    grown, _, problems = chain()
    assert (grown, problems) == (entries + 1, [])

    with serving(seeded.home / "serve.log") as api:
        assert httpx.get(f"{api}/healthz", timeout=10).status_code == 200
        offices = httpx.get(f"{api}/api/v1/offices", timeout=10)
        assert offices.status_code == 200
        assert offices.json()  # the restored offices, served

    tamper_with_one_audit_entry(seeded.url)  # the restored chain still tells on tampering
    _, _, problems = chain()
    assert len(problems) >= 1
    verify = subprocess.run(
        [str(Path(sys.executable).parent / "navreme"), "audit", "verify"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verify.returncode == 1
    assert "TAMPERED" in verify.stderr
