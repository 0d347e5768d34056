"""Sending: write the message and its first delivery in the caller's transaction (the outbox).

Nothing here calls a provider. `send` adds rows to the session of the business change that
causes the message, so both commit together or neither does (T04); once the transaction
commits, the deliveries' ids are handed to the workers (a hint: if it is lost, the sweeper
finds the rows anyway). The ladder then climbs one step at a time: after a failure at once,
after `ladder_step_hours` without acknowledgement otherwise, never past an acknowledgement.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from navreme import clock
from navreme.config import get_settings
from navreme.db import new_id
from navreme.messaging import choices, templates
from navreme.messaging.channels.registry import Channels
from navreme.messaging.models import (
    FORMATS,
    LANES,
    PURPOSES,
    Conversation,
    ConversationItem,
    Delivery,
    DeliveryEvent,
    Message,
)
from navreme.registry.models import Person

log = logging.getLogger("navreme.messaging")

OUTREACH = "outreach"  # the ladder's last rung: a task for a person to reach the citizen
_PENDING_KEY = "navreme_outbox"
_COMMITTED_KEY = "navreme_outbox_committed"
_channels: Channels | None = None


class MessagingError(ValueError):
    """A message that cannot be sent as asked (unknown template, purpose, …)."""


def channels() -> Channels:
    """This process's adapters (built on first use from the settings)."""
    global _channels
    if _channels is None:
        _channels = Channels(get_settings())
    return _channels


def reset_channels() -> None:
    """Forget built adapters (tests that change NAVREME_CHANNELS, a worker shutting down)."""
    global _channels
    if _channels is not None:
        _channels.close()
    _channels = None


# Accessibility needs that choose a message format, the strongest first.
ACCESSIBLE_FORMATS = ("audio", "easy_read", "large_print")


def preferred_format(needs: Iterable[str]) -> str:
    """The format a person's accessibility needs call for (`standard` when none does)."""
    have = set(needs)
    return next((need for need in ACCESSIBLE_FORMATS if need in have), "standard")


def send(
    session: Session,
    *,
    person_id: uuid.UUID | None,
    purpose: str,
    template: str,
    context: dict[str, Any],
    lane: str = "bulk",
    urgent: bool = False,
    language: str | None = None,
    format: str | None = None,
    subject: tuple[str, uuid.UUID] | None = None,
    dedupe_key: str | None = None,
    to: tuple[str, str] | None = None,
    created_by: str = "system",
) -> Message:
    """Write a message and its first delivery into the caller's transaction.

    `to=(channel, address)` sends on exactly that address (a reply, a login code) instead of
    the person's ladder. With `dedupe_key`, a second call returns the first message.
    """
    check_request(purpose=purpose, template=template, lane=lane, format=format)
    if dedupe_key is not None:
        existing = session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    person = session.get(Person, person_id) if person_id is not None else None
    if person_id is not None and person is None:
        raise MessagingError("unknown person")
    now = clock.now()
    ladder = _ladder(session, person_id, purpose, now, to)
    message = Message(
        id=new_id(), person_id=person_id, purpose=purpose, template=template,
        language=language or (person.language if person else get_settings().default_language),
        format=format or preferred_format(person.accessibility if person else ()), lane=lane, urgent=urgent or purpose == "login",
        context=context, subject_kind=subject[0] if subject else None,
        subject_id=subject[1] if subject else None, dedupe_key=dedupe_key,
        status="active", ladder=ladder, step=0, created_by=created_by,
        created_at=now, updated_at=now,
    )  # fmt: skip
    if dedupe_key is None:
        session.add(message)  # written with the caller's next flush: no round trip per message
    else:
        try:
            with session.begin_nested():  # a concurrent twin may insert the same key first
                session.add(message)
                session.flush()
        except IntegrityError:
            return session.scalars(select(Message).where(Message.dedupe_key == dedupe_key)).one()
    _take_step(session, message, 0, now)
    return message


def check_request(*, purpose: str, template: str, lane: str, format: str | None) -> None:
    if purpose not in PURPOSES:
        raise MessagingError(f"unknown purpose {purpose!r}")
    if lane not in LANES:
        raise MessagingError(f"unknown lane {lane!r}")
    if format is not None and format not in FORMATS:
        raise MessagingError(f"unknown format {format!r}")
    if not templates.exists(template):
        raise MessagingError(f"unknown template {template!r}")


def _ladder(
    session: Session,
    person_id: uuid.UUID | None,
    purpose: str,
    now: datetime,
    to: tuple[str, str] | None,
) -> list[list[str]]:
    if to is not None:
        channel, address = to
        if person_id is not None and not choices.may_send(
            session, person_id, purpose, channel, now
        ):
            return [[OUTREACH, ""]]
        return [[channel, address]]
    if person_id is None:
        raise MessagingError("a message without a person needs an address (`to`)")
    ladder = choices.ladder_for(session, channels(), person_id, purpose, now)
    return [*ladder, [OUTREACH, ""]]


def _take_step(session: Session, message: Message, step: int, now: datetime) -> Delivery | None:
    """Write the delivery for rung `step` of the ladder (or the outreach task at its end)."""
    message.step = step
    message.updated_at = now
    channel, address = message.ladder[step]
    if channel == OUTREACH:
        message.status = "exhausted"
        message.next_step_at = None
        _outreach(session, message, now)
        return None
    rendered = templates.render(
        message.template, channel=channel, language=message.language,
        context=message.context, format=message.format, purpose=message.purpose,
    )  # fmt: skip
    delivery = Delivery(
        id=new_id(), message_id=message.id, step=step, channel=channel, address=address, lane=message.lane,
        status="created", tries=0,
        not_before=choices.not_before(session, message.person_id, now, urgent=message.urgent),
        subject=rendered.subject[:300], body=rendered.text, html=rendered.html,
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(delivery)
    session.add(DeliveryEvent(delivery_id=delivery.id, status="created", source="outbox", at=now))
    hours = get_settings().ladder_step_hours
    last_real_step = step >= len(message.ladder) - 2  # only the outreach rung is left
    message.next_step_at = None if last_real_step else delivery.not_before + timedelta(hours=hours)
    hand_to_workers(session, [delivery.id], message.lane)
    return delivery


def _outreach(session: Session, message: Message, now: datetime) -> None:
    """No channel reached the person: an officer gets a task in the person's conversation."""
    if message.person_id is None or message.purpose in ("surveys", "login"):
        return
    conversation = conversation_of(session, message.person_id, now)
    session.add(
        ConversationItem(
            conversation_id=conversation.id, direction="out", channel=OUTREACH,
            message_id=message.id, needs_officer=True, created_at=now,
            text=f"Reach the person in person or by phone: message {message.template} "
            "reached no channel.",
        )
    )  # fmt: skip


def conversation_of(session: Session, person_id: uuid.UUID, now: datetime) -> Conversation:
    found = session.scalar(select(Conversation).where(Conversation.person_id == person_id))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            created = Conversation(person_id=person_id, created_at=now, last_activity_at=now)
            session.add(created)
            session.flush()
            return created
    except IntegrityError:
        return session.scalars(
            select(Conversation).where(Conversation.person_id == person_id)
        ).one()


def climb(session: Session, message: Message, now: datetime, *, reason: str) -> Delivery | None:
    """The current rung failed or went unanswered: cancel what is unsent, take the next rung.

    The caller holds the message row locked, so a receipt or a reply cannot slip between the
    check and the new step; an unsent current delivery is cancelled first, so it can never
    reach the person after the fallback did (no double notice).
    """
    if message.status != "active":
        return None
    current = session.scalar(
        select(Delivery).where(Delivery.message_id == message.id, Delivery.step == message.step)
    )
    if current is not None and current.status in ("created", "failed-temporary"):
        set_status(session, current, "cancelled", now, source="ladder", detail=reason)
    if current is not None and current.status == "sending":
        message.next_step_at = now + timedelta(minutes=1)  # in flight: look again shortly
        return None
    if message.step + 1 >= len(message.ladder):
        message.status = "exhausted"
        message.next_step_at = None
        return None
    return _take_step(session, message, message.step + 1, now)


def set_status(
    session: Session,
    delivery: Delivery,
    status: str,
    now: datetime,
    *,
    source: str,
    detail: str = "",
) -> None:
    delivery.status = status
    delivery.updated_at = now
    if status != "sending":
        delivery.claimed_until = None
    session.add(
        DeliveryEvent(
            delivery_id=delivery.id, status=status, source=source, detail=detail[:300], at=now
        )
    )


def acknowledge(
    session: Session,
    *,
    person_id: uuid.UUID,
    at: datetime,
    subject: tuple[str, uuid.UUID] | None = None,
) -> int:
    """The person answered: their active messages (about `subject`, or all) stop climbing."""
    query = select(Message).where(Message.person_id == person_id, Message.status == "active")
    if subject is not None:
        query = query.where(Message.subject_kind == subject[0], Message.subject_id == subject[1])
    messages = list(session.scalars(query.with_for_update()))
    for message in messages:
        message.status = "acknowledged"
        message.acknowledged_at = at
        message.next_step_at = None
        message.updated_at = at
        unsent = session.scalars(
            select(Delivery).where(
                Delivery.message_id == message.id,
                Delivery.status.in_(("created", "failed-temporary")),
            )
        )
        for delivery in unsent:
            set_status(session, delivery, "cancelled", at, source="ack", detail="acknowledged")
    return len(messages)


def withdraw(session: Session, *, person_id: uuid.UUID, purpose: str, channel: str) -> int:
    """Consent withdrawn: unsent deliveries for that purpose on that channel are cancelled."""
    now = clock.now()
    rows = session.execute(
        select(Delivery)
        .join(Message, Message.id == Delivery.message_id)
        .where(
            Message.person_id == person_id,
            Message.purpose == purpose,
            Delivery.status.in_(("created", "failed-temporary")),
            *([] if channel == "any" else [Delivery.channel == channel]),
        )
    ).scalars()
    count = 0
    for delivery in rows:
        set_status(session, delivery, "cancelled", now, source="consent", detail="withdrawn")
        count += 1
    return count


# --- handing ids to the workers once the transaction commits ------------------------------


def hand_to_workers(session: Session, delivery_ids: Sequence[uuid.UUID], lane: str) -> None:
    """Once this session's transaction commits, these ids go to the queue (never before)."""
    pending = session.info.setdefault(_PENDING_KEY, {"priority": [], "bulk": []})
    pending[lane].extend(delivery_ids)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info[_COMMITTED_KEY] = True  # a SAVEPOINT's release says so too: decided below


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """Hand the ids over when the outermost transaction has committed, never before."""
    committed = session.info.pop(_COMMITTED_KEY, False)
    if transaction.parent is not None:
        return  # a SAVEPOINT or subtransaction: the transaction itself goes on
    pending = session.info.pop(_PENDING_KEY, None)
    if not committed or not pending:
        return  # rolled back: the deliveries do not exist
    from navreme.messaging import dispatch

    for lane, ids in pending.items():
        if not ids:
            continue
        try:
            dispatch.enqueue(ids, lane)
        except Exception as down:  # noqa: BLE001 - any queue failure (Redis down, full disk)
            # The deliveries are committed and due: the sweeper hands out what nobody took,
            # so the caller's change must not fail for the queue (a 500 for a stored message).
            log.warning("queue unavailable (%s): %d %s deliveries wait for the sweeper",
                        type(down).__name__, len(ids), lane)  # fmt: skip


def climb_due_ladders(session: Session, *, limit: int = 1000) -> int:
    """Every active message whose step went unanswered past its time takes the next rung."""
    now = clock.now()
    due = list(
        session.scalars(
            select(Message)
            .where(Message.status == "active", Message.next_step_at <= now)
            .order_by(Message.next_step_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for message in due:
        climb(session, message, now, reason="no acknowledgement in time")
    return len(due)


def complete(session: Session, message_id: uuid.UUID, now: datetime) -> None:
    """A delivery reached the person as far as its channel can tell: the ladder stops."""
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "active")
        .values(status="completed", next_step_at=None, updated_at=now)
    )
