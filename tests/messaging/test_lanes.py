"""The priority lane goes before any bulk batch, in the embedded queue and in Redis alike."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from huey import Huey, PriorityRedisHuey, SqliteHuey

from navreme.messaging import tasks
from navreme.workers.app import huey as app_huey

REDIS_URL = os.environ.get("NAVREME_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _sqlite(tmp_path: Path) -> Huey:
    return SqliteHuey("navreme-lanes", filename=str(tmp_path / "lanes.db"))


def _redis(tmp_path: Path) -> Huey:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as down:
        if IN_CI:
            pytest.fail(f"Redis unreachable at {REDIS_URL}: {down} (CI=true: mandatory)")
        pytest.skip(f"Redis unreachable at {REDIS_URL}")
    return PriorityRedisHuey(f"navreme-lanes-{uuid.uuid4().hex[:8]}", url=REDIS_URL)


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    """The app's tasks, on a queue of this test's own (Huey storage swapped in)."""
    other = _sqlite(tmp_path) if request.param == "sqlite" else _redis(tmp_path)
    previous = app_huey.storage
    app_huey.storage = other.storage
    yield app_huey
    app_huey.storage.flush_all()
    app_huey.storage = previous


def test_a_priority_batch_enqueued_last_is_taken_first(queue: Huey) -> None:
    for n in range(50):
        tasks.enqueue_batch([f"bulk-{n}"], "bulk")
    tasks.enqueue_batch(["urgent"], "priority")
    first = queue.dequeue()
    assert first is not None
    assert first.name == "messaging.deliver_priority"
    assert first.args == (["urgent"],)
    second = queue.dequeue()
    assert second is not None
    assert second.args == (["bulk-0"],)  # bulk keeps its own order behind it
