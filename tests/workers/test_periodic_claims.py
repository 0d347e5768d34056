"""Several `navreme worker` consumers each enqueue every periodic job at every tick; in the
scaled mode the first copy claims the tick in Redis and the others skip. Real Redis servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from navreme import config
from navreme.workers import app
from tests.servers.redis import PrivateRedis, private_redis


@pytest.fixture
def shared_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path / "redis") as server:
        monkeypatch.setenv("NAVREME_REDIS_URL", server.url)
        config.get_settings.cache_clear()
        yield server
    app._claims.cache_clear()
    config.get_settings.cache_clear()


def counting_job(name: str) -> tuple[list[int], object]:
    runs: list[int] = []

    @app.once_per_tick(name)
    def job() -> int:
        runs.append(1)
        return len(runs)

    return runs, job


def test_copies_of_one_tick_run_once_and_the_next_tick_runs_again(
    shared_redis: PrivateRedis,
) -> None:
    runs, job = counting_job("test.job")
    assert [job(), job(), job()] == [1, None, None]  # type: ignore[operator]
    app._claims(shared_redis.url).delete("navreme-tick:test.job")  # the claim lapsed: next tick
    assert job() == 2  # type: ignore[operator]
    assert len(runs) == 2


def test_the_claim_lapses_by_itself_so_a_killed_worker_blocks_nothing(
    shared_redis: PrivateRedis,
) -> None:
    _runs, job = counting_job("test.ttl")
    job()  # type: ignore[operator]
    ttl = app._claims(shared_redis.url).ttl("navreme-tick:test.ttl")
    assert 0 < ttl <= app.TICK_CLAIM_SECONDS


def test_without_redis_every_copy_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAVREME_REDIS_URL", raising=False)
    monkeypatch.delenv("NAVREME_QUEUE_URL", raising=False)
    config.get_settings.cache_clear()
    runs, job = counting_job("test.embedded")
    assert [job(), job()] == [1, 2]  # type: ignore[operator]
    assert len(runs) == 2


def test_with_redis_down_every_copy_runs(shared_redis: PrivateRedis) -> None:
    shared_redis.stop()
    runs, job = counting_job("test.down")
    assert [job(), job()] == [1, 2]  # type: ignore[operator]
    assert len(runs) == 2


def test_the_real_periodic_jobs_are_claimed(
    shared_redis: PrivateRedis, settings: config.Settings
) -> None:
    from navreme.messaging import tasks

    assert app.release_lapsed_holds.call_local() == 0
    assert app.release_lapsed_holds.call_local() is None  # a second consumer's copy
    assert tasks.sweep.call_local() is not None
    assert tasks.sweep.call_local() is None
