"""A private PostgreSQL on loopback, for the tests that crash, wipe or restore a database.

The machine's shared server (5432) holds every other test's databases, so nothing destructive
happens there: this helper runs `initdb` into its own folder (owned by the postgres user, since
initdb refuses root), starts the server on a free port with fsync off, and can crash it
(`pg_ctl stop -m immediate`: no checkpoint, crash recovery on the next start) and start it again.
The postmaster is stopped by the PID in its own postmaster.pid, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.servers import process

FIRST_PORT = 25432
# fsync off is safe here: a crashed server (not a crashed machine) leaves the kernel's pages.
# synchronous_commit stays on, as in production, so a crash loses no acknowledged commit.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "64MB",
}


def binary(name: str) -> str:
    """A PostgreSQL server program: from the versioned folder Debian installs, else PATH."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return process.require_binary(name)


def _as_postgres(*command: str) -> list[str]:
    """Root may not run the server; the postgres user does (when the tests run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


@dataclass
class PrivatePostgres:
    """One initdb'ed cluster of this test run: its port, folder, and how to crash and revive it."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement as the superuser, outside any transaction (CREATE/DROP DATABASE)."""
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def start(self, within_s: float = 60.0) -> None:
        """Start the server (after a crash: it replays its WAL first) and wait until it answers."""
        self._pg_ctl("start", "-w", "-t", str(int(within_s)), "-l", str(self.log))
        deadline = time.monotonic() + within_s
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"private PostgreSQL not ready:\n{self._tail()}")
            time.sleep(0.1)

    def crash(self) -> None:
        """Stop like a power cut: `pg_ctl stop -m immediate` (no shutdown checkpoint)."""
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def restart_immediate(self, down_s: float = 0.0) -> None:
        """Crash the server, stay down `down_s` seconds, start it again."""
        self.crash()
        time.sleep(down_s)  # an outage of this length is the point, not synchronisation
        self.start()

    def pid(self) -> int | None:
        """The postmaster's PID, from the postmaster.pid it writes (None when it is not running)."""
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def stop(self, within_s: float = 30.0) -> None:
        """Fast shutdown by the postmaster's PID; immediate, then SIGKILL, if it lingers."""
        pid = self.pid()
        if pid is None:
            return
        for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, number)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + within_s / 3
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.05)

    def _pg_ctl(self, *arguments: str) -> None:
        subprocess.run(
            _as_postgres(binary("pg_ctl"), "-D", str(self.data), *arguments),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def _tail(self) -> str:
        return self.log.read_text("utf-8", errors="replace")[-4000:] if self.log.exists() else ""


def _alive(pid: int) -> bool:
    """Whether the process exists (pg_ctl detaches the postmaster: init reaps it, not us)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _initdb(folder: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        _as_postgres(binary("initdb"), "-D", str(folder / "data"), "-U", "postgres",
                     "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def _configure(cluster: PrivatePostgres) -> None:
    lines = [f"{key} = {value}" for key, value in SETTINGS.items()]
    lines += [f"port = {cluster.port}", f"unix_socket_directories = '{cluster.folder}'"]
    with (cluster.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n".join(lines) + "\n")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh cluster on a free port for the duration of the block; always stopped and removed.

    The folder is made directly under the system temp dir: pytest's tmp_path is private to root
    and the postgres user could not enter it.
    """
    binary("initdb")
    folder = Path(tempfile.mkdtemp(prefix="navreme-pg-"))
    folder.chmod(0o700)
    cluster = PrivatePostgres(folder, process.free_port(FIRST_PORT))
    try:
        _initdb(folder)
        _configure(cluster)
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
