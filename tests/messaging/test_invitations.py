"""Invitations of held appointments, and T04: the offer's change and its message commit together.

T04 kills the process (SIGKILL, no clean-up) at a random point of the transaction that
writes an invitation: after the business write, after the outbox write, or just before
COMMIT. Whatever the moment, afterwards each appointment's offer is `notified` exactly when
its invitation message and delivery exist.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
from datetime import UTC, datetime

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from navreme import clock, config, db
from navreme.messaging.models import Delivery, Message
from navreme.rules.models import Offer
from navreme.scheduling.invitations import send_due_invitations
from navreme.scheduling.models import AppointmentItem
from tests.messaging.helpers import held_appointments

NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def test_due_appointments_are_invited_once_and_their_offers_notified(
    db_session: Session,
) -> None:
    with clock.frozen(NOON):
        ids = held_appointments(db_session, 3)
        db_session.commit()
        with db.session_scope() as session:
            assert send_due_invitations(session, config.get_settings()) == 3
        with db.session_scope() as session:
            assert send_due_invitations(session, config.get_settings()) == 0
    messages = db_session.scalars(select(Message)).all()
    assert sorted(m.subject_id for m in messages) == sorted(ids)  # type: ignore[type-var]
    assert {m.template for m in messages} == {"appointment_invite"}
    bodies = db_session.scalars(select(Delivery.body)).all()
    assert all("Одговорете 1" in body and "СТОП" in body for body in bodies)
    statuses = db_session.scalars(select(Offer.status)).all()
    assert statuses == ["notified"] * 3


def _invite_and_maybe_die(url: str, seed: int) -> None:
    """Child process: invite due appointments, killed at a random point of a transaction."""
    db.engine_for.cache_clear()  # the parent's connections are not ours
    config.get_settings.cache_clear()
    rng = random.Random(seed)
    moments = ["after_flush", "before_commit", None]
    moment = rng.choice(moments)

    def die(*_: object) -> None:
        if rng.random() < 0.4:
            os.kill(os.getpid(), signal.SIGKILL)

    if moment is not None:
        event.listen(Session, moment, die)
    with clock.frozen(NOON), db.session_scope() as session:
        send_due_invitations(session, config.get_settings(), limit=rng.randint(1, 4))
    os._exit(0)


def test_t04_a_crash_anywhere_in_the_transaction_leaves_both_or_neither(
    db_session: Session, settings: config.Settings
) -> None:
    with clock.frozen(NOON):
        held_appointments(db_session, 12)
        db_session.commit()
    context = multiprocessing.get_context("fork")
    killed = 0
    for seed in range(100):
        child = context.Process(
            target=_invite_and_maybe_die, args=(settings.resolved_database_url, seed)
        )
        child.start()
        child.join(60)
        killed += child.exitcode == -signal.SIGKILL
        db_session.expire_all()
        rows = db_session.execute(
            select(AppointmentItem.appointment_id, Offer.status).join(
                Offer, Offer.id == AppointmentItem.offer_id
            )
        ).all()
        for appointment_id, status in rows:
            messages = db_session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.subject_id == appointment_id)
            )
            deliveries = db_session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(Message, Message.id == Delivery.message_id)
                .where(Message.subject_id == appointment_id)
            )
            assert (status == "notified") == (messages == 1), (seed, status, messages)
            assert deliveries == messages
    assert killed > 10  # the crash really happened, many times
    assert db_session.scalar(select(func.count()).select_from(Message)) == 12
