"""Shared set-up for inbound tests: people with verified endpoints, held appointments, and
signed webhooks in the fake channel's format (messaging/webhooks.py documents it)."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.catalogue.actions import load_demo_catalogue
from navreme.config import get_settings
from navreme.messaging.models import ConversationItem, InboundMessage, Message
from navreme.messaging.webhooks import fake_signature
from navreme.registry.models import ContactEndpoint, Person
from navreme.scheduling.actions import make_appointment
from navreme.scheduling.models import Appointment, Office
from navreme.scheduling.queries import VisitItem
from tests import factories
from tests.scheduling.support import at, next_working_day

_ids = itertools.count(1)
_phones = itertools.count(1)


def phone() -> str:
    return f"+3897{next(_phones) % 10_000_000:07d}"


def signed(body: bytes) -> dict[str, str]:
    return {
        "X-Navreme-Signature": fake_signature(get_settings().secret_key, body),
        "Content-Type": "application/json",
    }


def payload(sender: str, text: str, *, message_id: str | None = None) -> bytes:
    item = {"id": message_id or f"m-{next(_ids)}", "from": sender, "text": text}
    return json.dumps({"inbound": [item]}, ensure_ascii=False).encode()


def reply(client: TestClient, channel: str, sender: str, text: str, **kwargs: Any) -> Any:
    """The person's answer arrives through the webhook; returns the HTTP response."""
    body = payload(sender, text, **kwargs)
    return client.post(f"/api/v1/channels/{channel}/webhook", content=body, headers=signed(body))


def endpoint(session: Session, person: Person, channel: str, address: str) -> ContactEndpoint:
    row = ContactEndpoint(
        person_id=person.id, channel=channel, address=address, preference=2,
        verified_at=clock.now(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def held_appointment(session: Session, person: Person, *, invited: bool = True) -> Appointment:
    """A slot held for the person at the next working day 10:00 (a campaign's invitation)."""
    office = session.scalar(select(Office).limit(1))
    if office is None:
        load_demo_catalogue(session)
        office = factories.office(session)
    appointment = make_appointment(
        session, get_settings(), None, office=office, starts_at=at(next_working_day(), 10),
        items=[VisitItem(person.id, "id-card")], hold_for=timedelta(hours=72),
    )  # fmt: skip
    if invited:
        session.add(invitation(person, appointment))
        session.flush()
    return appointment


def invitation(person: Person, appointment: Appointment) -> Message:
    """The outbox's row for the invitation the person answers (written as the outbox does)."""
    return Message(
        person_id=person.id, purpose="reminders", template="appointment_invite",
        language=person.language, context={}, subject_kind="appointment",
        subject_id=appointment.id, dedupe_key=f"invite:{uuid.uuid4()}",
        created_at=clock.now() - timedelta(minutes=5),
    )  # fmt: skip


def count(session: Session, model: type, *where: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def replies(session: Session, template: str | None = None) -> list[Message]:
    """Messages written in answer to inbound ones, oldest first."""
    session.expire_all()
    query = select(Message).where(Message.created_by == "inbound")
    if template:
        query = query.where(Message.template == template)
    return list(session.scalars(query.order_by(Message.created_at)))


def inbound_rows(session: Session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(select(InboundMessage).order_by(InboundMessage.created_at)))


def items_in(session: Session, direction: str) -> list[ConversationItem]:
    session.expire_all()
    query = select(ConversationItem).where(ConversationItem.direction == direction)
    return list(session.scalars(query.order_by(ConversationItem.created_at)))


def login_code_sms(session: Session, count: int, *, prefix: str = "+3897000") -> list[uuid.UUID]:
    """`count` one-time-code SMS through the real action, committed; their delivery ids."""
    from navreme.messaging import actions
    from navreme.messaging.models import Delivery

    ids = []
    for n in range(count):
        message = actions.send(
            session, person_id=None, purpose="service", template="login_code",
            context={"code": f"{n:06d}", "minutes": 5}, to=("sms", f"{prefix}{n:04d}"),
        )  # fmt: skip
        session.flush()
        ids.append(
            session.scalars(select(Delivery.id).where(Delivery.message_id == message.id)).one()
        )
    session.commit()
    return ids


def login_code_campaign(session: Session, messages: int) -> None:
    """A bulk campaign of `messages` one-time-code SMS (not committed: the caller's transaction)."""
    from navreme.messaging import actions

    for n in range(messages):
        actions.send(
            session, person_id=None, purpose="service", template="login_code",
            context={"code": f"{n:06d}", "minutes": 5}, to=("sms", f"+389{n:08d}"), lane="bulk",
        )  # fmt: skip
