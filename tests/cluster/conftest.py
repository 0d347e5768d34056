"""Fixtures for the scaled mode: private PostgreSQL and Redis servers, and the cluster itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.cluster_fixture import cluster, cluster_home  # noqa: F401 - fixtures
from tests.servers.postgres import PrivatePostgres
from tests.servers.postgres import private_postgres as start_postgres
from tests.servers.redis import PrivateRedis
from tests.servers.redis import private_redis as start_redis


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this run only (tests may crash it); a few seconds to initdb."""
    with start_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A Redis of this run only, no persistence: the scaled mode's queue."""
    with start_redis(tmp_path_factory.mktemp("redis")) as redis:
        yield redis
