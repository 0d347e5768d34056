"""T08 and T20: the fallback ladder under 1,000 random set-ups of channels, consents and faults.

Each set-up draws a person's endpoints and their order, a consent ledger (per channel and for
any channel, granted and withdrawn at random moments, some withdrawals arriving mid-flight),
and a provider that fails at random (retryable or not). The message then lives through
retries, ladder timeouts and sweeps on a simulated clock. Afterwards, from the records alone:

- every delivery handed to a provider was on a channel with consent in force at that instant
  (reconstructed from the append-only ledger): 0 messages without consent, 0 after withdrawal;
- no rung was ever sent after the next rung had been written: a slow primary that succeeds
  later cannot make a second notice.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock, config, db
from navreme.messaging import actions, dispatch
from navreme.messaging.models import Delivery, DeliveryEvent, Message
from navreme.registry.queries import consent_at
from tests.messaging.helpers import ADDRESSES, citizen, give

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHANNELS = ("telegram", "matrix", "viber", "sms", "email")
SETUPS = 1000


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> None:
    ADDRESSES.setdefault("viber", "viber-user-1")
    faults = {c: {"adapter": "fake", "fail_rate": 0.3, "permanent_rate": 0.15} for c in CHANNELS}
    monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(faults))
    monkeypatch.setenv("NAVREME_MAX_TRIES", "3")
    monkeypatch.setenv("NAVREME_RETRY_BASE_SECONDS", "600")
    monkeypatch.setenv("NAVREME_LADDER_STEP_HOURS", "1")
    monkeypatch.setenv("NAVREME_BREAKER_THRESHOLD", "1000")
    config.get_settings.cache_clear()
    actions.reset_channels()


def live_one(session: Session, rng: random.Random, at: datetime) -> uuid.UUID:
    """One random set-up, lived through to the end; returns its message id."""
    channels = tuple(rng.sample(CHANNELS, rng.randint(1, len(CHANNELS))))
    consent = {c: rng.random() < 0.6 for c in channels if rng.random() < 0.8}
    if rng.random() < 0.2:
        consent["any"] = rng.random() < 0.5
    with clock.frozen(at):
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(25_000))
        person = citizen(
            session, channels=channels, consent=consent, purpose="reminders", born=born
        )
        message = actions.send(
            session, person_id=person.id, purpose="reminders", template="appointment_reminder",
            context={"service_name": "Пасош", "office_name": "МВР", "starts_at": "01.12.2026",
                     "reason": "имате термин"},
            urgent=True,
        )  # fmt: skip
        session.commit()
    withdraw_at = at + timedelta(minutes=rng.randint(1, 300)) if rng.random() < 0.3 else None
    withdrawn = False
    for _ in range(30):
        at += timedelta(minutes=rng.choice((5, 15, 45, 90)))
        with clock.frozen(at):
            if withdraw_at is not None and not withdrawn and at >= withdraw_at:
                give(session, person.id, rng.choice((*channels, "any")), False,
                     purpose="reminders", at_offset=60)  # fmt: skip
                session.commit()
                withdrawn = True
            due = session.scalars(
                select(Delivery.id).where(
                    Delivery.message_id == message.id,
                    Delivery.status.in_(("created", "failed-temporary")),
                )
            ).all()
            dispatch.deliver(list(due))
            with db.session_scope() as sweeper:
                dispatch.sweep(sweeper, config.get_settings())
        session.expire_all()
        if session.get_one(Message, message.id).status != "active":
            break
    return message.id


def test_t08_t20_random_setups_never_send_without_consent_nor_twice(
    db_session: Session, flaky: None
) -> None:
    rng = random.Random(2026)
    ids = [live_one(db_session, rng, START + timedelta(days=n)) for n in range(SETUPS)]
    handed, climbed_over = 0, 0
    for message_id in ids:
        message = db_session.get_one(Message, message_id)
        rungs = db_session.scalars(
            select(Delivery).where(Delivery.message_id == message_id).order_by(Delivery.step)
        ).all()
        created = {d.step: d.created_at for d in rungs}
        for delivery in rungs:
            sent = db_session.scalars(
                select(DeliveryEvent.at).where(
                    DeliveryEvent.delivery_id == delivery.id, DeliveryEvent.status == "sent"
                )
            ).all()
            for at in sent:
                handed += 1
                assert message.person_id is not None
                assert consent_at(
                    db_session, message.person_id, purpose="reminders",
                    channel=delivery.channel, at=at,
                ), (message_id, delivery.channel)  # fmt: skip
                later = created.get(delivery.step + 1)
                assert later is None or at <= later, "a rung was sent after the next one"
            climbed_over += delivery.step > 0
    assert handed > SETUPS // 2  # the drill really sent a lot
    assert climbed_over > SETUPS // 10  # and really climbed ladders
