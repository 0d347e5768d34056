"""The queue (Redis in the scaled mode) is down when a message is sent: the business change and
its deliveries commit anyway, the caller sees no error, and the sweeper hands the deliveries
out once the queue is back. Nothing lost, nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from huey.storage import PriorityRedisStorage
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.messaging import actions, dispatch
from navreme.messaging.models import Delivery
from navreme.workers.app import huey
from tests.servers.redis import PrivateRedis, private_redis


@pytest.fixture
def redis_queue(tmp_path: Path) -> Iterator[PrivateRedis]:
    previous = huey.storage
    with private_redis(tmp_path / "down") as server:
        huey.storage = PriorityRedisStorage(name="navreme-queue-down", url=server.url)
        try:
            yield server
        finally:
            huey.storage = previous


def test_a_message_sent_while_the_queue_is_down_is_stored_and_swept_out_later(
    db_session: Session, settings: config.Settings, redis_queue: PrivateRedis, tmp_path: Path
) -> None:
    redis_queue.stop()  # Redis gone: enqueueing after the commit fails

    message = actions.send(
        db_session, person_id=None, purpose="service", template="login_code",
        context={"code": "123456", "minutes": 5}, to=("sms", "+38970000001"),
    )  # fmt: skip
    db_session.commit()  # no exception reaches the caller

    delivery = db_session.scalars(select(Delivery).where(Delivery.message_id == message.id)).one()
    assert delivery.status == "created"

    with private_redis(tmp_path / "back") as back:  # the queue is back (a new, empty Redis)
        huey.storage = PriorityRedisStorage(name="navreme-queue-down", url=back.url)
        later = clock.now() + timedelta(seconds=settings.sweep_grace_seconds + 1)
        with clock.frozen(later):
            swept = dispatch.sweep(db_session, settings)
        db_session.commit()
        assert swept["requeued"] == 1
        assert huey.pending_count() == 1
