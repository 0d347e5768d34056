"""Messaging fixtures: a private job queue per test, adapters rebuilt from each test's settings,
and Navreme on a real loopback HTTP server for the tests that post webhooks in parallel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from huey.storage import SqliteStorage

from navreme.messaging import actions, dispatch
from navreme.workers.app import huey


@pytest.fixture(autouse=True)
def _fresh_hub(tmp_path: Path) -> Iterator[None]:
    """Each test: its own queue file (where a `navreme worker` of the test looks: NAVREME_HOME),
    no adapters or breakers left over from another test."""
    previous = huey.storage
    huey.storage = SqliteStorage(name="navreme", filename=str(tmp_path / "queue.db"))
    actions.reset_channels()
    dispatch.reset_process_state()
    yield
    actions.reset_channels()
    dispatch.reset_process_state()
    huey.storage = previous


def queued_ids() -> list[str]:
    """Delivery ids waiting in the queue, in the order a worker would take them."""
    ids: list[str] = []
    for raw in huey.storage.enqueued_items():
        task = huey.deserialize_task(raw)
        ids.extend(task.args[0])
    return ids
