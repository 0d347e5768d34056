"""The `cluster` fixture: Navreme's scaled mode for real, on a fresh database and a private Redis.

A database `navreme_cluster_<hex>` is cloned from the run's migrated PostgreSQL template and
dropped at teardown; a redis-server of its own runs on a free loopback port (nothing on disk)
and is stopped by its PID; `navreme.cluster.up` starts 2 API processes and 3 workers as the
`navreme cluster up` command does, and `stop` ends them by PID however the test ended.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from navreme import cluster as cluster_mode
from navreme import config, db
from tests.conftest import _pg_admin, _pg_url
from tests.servers.process import free_port, port_answers, require_binary, stop, wait_until_ready

API_PORTS_FROM = 21100  # below the ephemeral range, clear of tests/servers' fixed bases
REDIS_PORTS_FROM = 21300


@dataclass
class Cluster:
    """A running cluster and how to reach it."""

    settings: config.Settings
    state: cluster_mode.State
    database_url: str
    queue_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return self.state.urls

    def client(self) -> cluster_mode.RoundRobinClient:
        return cluster_mode.RoundRobinClient(self.urls)


def start_private_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server for this cluster only: loopback, a free port, no persistence."""
    binary = require_binary("redis-server")
    port = free_port(REDIS_PORTS_FROM)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "redis.log"
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - a fixed binary with our own arguments
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(folder)],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    wait_until_ready("redis-server", lambda: port_answers(port), process, log, within_s=20)
    return process, port


def consecutive_free_ports(count: int, first: int = API_PORTS_FROM) -> int:
    """The first port from which `count` loopback ports in a row are free."""
    port = first
    while port < first + 400:
        start = free_port(port)
        if all(free_port(start + i, span=1) == start + i for i in range(count)):
            return start
        port = start + 1
    raise RuntimeError(f"no {count} consecutive free ports from {first}")


def fresh_database(template: str) -> str:
    name = f"navreme_cluster_{secrets.token_hex(4)}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    return name


def drop_database(name: str) -> None:
    db.engine_for(_pg_url(name)).dispose()
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def scaled_env(home: Path, database_url: str, queue_url: str) -> dict[str, str]:
    return {
        "NAVREME_DATABASE_URL": database_url,
        "NAVREME_QUEUE_URL": queue_url,
        "NAVREME_HOME": str(home),
        "NAVREME_ENV": "test",
        "NAVREME_SECRET_KEY": "test-secret-" + "x" * 40,
        "NAVREME_COOKIE_SECURE": "false",
    }


def running_cluster(
    request: pytest.FixtureRequest, home: Path, plan: cluster_mode.Plan
) -> Iterator[Cluster]:
    """Database, Redis and the cluster's processes; all of them gone again afterwards."""
    template = request.getfixturevalue("postgres_template")
    name = fresh_database(template)
    redis_process = None
    state: cluster_mode.State | None = None
    try:
        redis_process, redis_port = start_private_redis(home / "redis")
        env = scaled_env(home, _pg_url(name), f"redis://127.0.0.1:{redis_port}/0")
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            config.get_settings.cache_clear()
            settings = config.get_settings()
            plan = cluster_mode.Plan(apis=plan.apis, workers=plan.workers, worker_threads=2,
                                base_port=consecutive_free_ports(plan.apis))  # fmt: skip
            state = cluster_mode.up(settings, plan)
            yield Cluster(settings, state, _pg_url(name), env["NAVREME_QUEUE_URL"], env)
    finally:
        if state is not None:
            cluster_mode.stop(state)
        if redis_process is not None:
            stop(redis_process)
        config.get_settings.cache_clear()
        drop_database(name)


@pytest.fixture(scope="module")
def cluster_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, cluster_home: Path) -> Iterator[Cluster]:
    """The module's cluster: 2 API processes and 3 workers (started once per test module)."""
    yield from running_cluster(request, cluster_home, cluster_mode.Plan(apis=2, workers=3))
