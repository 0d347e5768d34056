"""T09: receipts are idempotent and monotonic; replayed in any order the most final one wins."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.messaging import actions, dispatch
from navreme.messaging.channels.base import Receipt
from navreme.messaging.models import Delivery, Message
from navreme.messaging.receipts import apply_receipts
from tests.messaging.helpers import citizen

NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def sent_delivery(session: Session, channel: str) -> Delivery:
    person = citizen(session, channels=(channel,))
    message = actions.send(
        session, person_id=person.id, purpose="service", template="login_code",
        context={"code": "123456", "minutes": 5},
    )  # fmt: skip
    session.commit()
    delivery = session.scalars(select(Delivery).where(Delivery.message_id == message.id)).one()
    dispatch.deliver([delivery.id])
    session.expire_all()
    assert delivery.status == "sent"
    return delivery


@pytest.mark.parametrize("seed", range(3))
def test_receipts_replayed_three_times_in_random_order_end_most_final(
    db_session: Session, seed: int
) -> None:
    with clock.frozen(NOON):
        delivery = sent_delivery(db_session, "matrix")
        pid = delivery.provider_message_id
        assert pid is not None
        receipts = [Receipt("matrix", pid, status) for status in ("sent", "delivered", "read")] * 3
        random.Random(seed).shuffle(receipts)
        seen = []
        for receipt in receipts:
            apply_receipts(db_session, [receipt])
            db_session.commit()
            db_session.expire_all()
            seen.append(delivery.status)
    assert delivery.status == "read"
    ranks = {"sent": 0, "delivered": 1, "read": 2}
    assert [ranks[s] for s in seen] == sorted(ranks[s] for s in seen)  # never went back
    assert delivery.read_at is not None
    assert delivery.delivered_at is not None
    message = db_session.get_one(Message, delivery.message_id)
    assert message.status == "completed"


def test_a_failure_after_delivery_does_not_undo_it_and_unknown_ids_are_counted(
    db_session: Session,
) -> None:
    with clock.frozen(NOON):
        delivery = sent_delivery(db_session, "sms")
        pid = delivery.provider_message_id
        assert pid is not None
        result = apply_receipts(db_session, [
            Receipt("sms", pid, "delivered"), Receipt("sms", pid, "permanent-failure"),
            Receipt("sms", "no-such-id", "delivered"), Receipt("matrix", pid, "read"),
        ])  # fmt: skip
        db_session.commit()
    assert (result.applied, result.stale, result.unknown) == (1, 1, 2)
    db_session.expire_all()
    assert delivery.status == "delivered"


def test_a_read_watermark_marks_everything_sent_before_it_read(db_session: Session) -> None:
    from datetime import timedelta

    from navreme.messaging.models import Delivery as Row

    with clock.frozen(NOON):
        earlier = sent_delivery(db_session, "messenger")
    with clock.frozen(NOON + timedelta(minutes=5)):
        person_id = db_session.get_one(Message, earlier.message_id).person_id
        later_message = actions.send(
            db_session, person_id=person_id, purpose="service", template="login_code",
            context={"code": "654321", "minutes": 5},
        )  # fmt: skip
        db_session.commit()
        later = db_session.scalars(select(Row).where(Row.message_id == later_message.id)).one()
        dispatch.deliver([later.id])
    watermark = int((NOON + timedelta(minutes=1)).timestamp() * 1000)
    receipt = Receipt("messenger", f"watermark:{earlier.address}:{watermark}", "read")
    with clock.frozen(NOON + timedelta(minutes=6)):
        result = apply_receipts(db_session, [receipt])
        db_session.commit()
        again = apply_receipts(db_session, [receipt])
    db_session.expire_all()
    assert (result.applied, again.applied) == (1, 0)
    assert earlier.status == "read"
    assert later.status == "sent"  # sent after the watermark: not yet read
    bad = apply_receipts(db_session, [Receipt("messenger", "watermark:nonsense", "read")])
    assert bad.unknown == 1
