"""Huey tasks of the messaging hub: they carry delivery ids; the database holds everything else.

Two task names, one per lane, so the priority lane is its own queue priority: a worker that
frees up always takes a waiting priority batch before any bulk batch, and bulk batches are
small (NAVREME_DISPATCH_BATCH), so a login code never waits behind a campaign for long.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from huey import crontab

from navreme.workers.app import huey, once_per_tick

PRIORITY, BULK = 100, 0


def _run(ids: list[str]) -> int:
    from navreme.messaging import dispatch

    retries = dispatch.deliver([uuid.UUID(i) for i in ids])
    for retry in retries:
        enqueue_batch([str(retry.id)], retry.lane, at=retry.at)
    return len(ids) - len(retries)


@huey.task(name="messaging.deliver_priority", priority=PRIORITY)
def deliver_priority(ids: list[str]) -> int:
    return _run(ids)


@huey.task(name="messaging.deliver_bulk", priority=BULK)
def deliver_bulk(ids: list[str]) -> int:
    return _run(ids)


def enqueue_batch(ids: list[str], lane: str, *, at: datetime | None = None) -> None:
    task = deliver_priority if lane == "priority" else deliver_bulk
    if at is None:
        task(ids)
    else:
        task.schedule(args=(ids,), eta=at)


@huey.periodic_task(crontab(minute="*"), name="messaging.sweep")
@once_per_tick("messaging.sweep")
def sweep() -> dict[str, int]:
    """Every minute: expired leases, deliveries nobody took, ladders whose time ran out."""
    from navreme.config import get_settings
    from navreme.db import session_scope
    from navreme.messaging import dispatch

    with session_scope() as session:
        return dispatch.sweep(session, get_settings())
