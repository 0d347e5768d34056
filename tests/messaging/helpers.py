"""Building people with contact endpoints and consents for messaging tests."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select as select_counter
from sqlalchemy.orm import Session

from navreme import clock
from navreme.registry.models import ConsentEvent, ContactEndpoint, Person
from tests import factories

ADDRESSES = {
    "sms": "+38970123456",
    "email": "marija@example.test",
    "telegram": "123456789",
    "matrix": "@marija:localhost",
    "viber": "viber-user-1",
    "messenger": "2460000000000001",
    "letter": "ул. Македонија 1\n1400 Велес",
}


def citizen(
    session: Session,
    *,
    channels: tuple[str, ...] = ("telegram", "sms", "email"),
    consent: dict[str, bool] | None = None,
    purpose: str = "proactive_offers",
    language: str = "mk",
    born: date | None = None,
) -> Person:
    """A person with verified endpoints in the given order and consent per channel
    (default: granted on every one of them)."""
    person = factories.person(session, language=language, born=born or date(1990, 5, 17))
    now = clock.now()
    for rank, channel in enumerate(channels):
        session.add(
            ContactEndpoint(
                person_id=person.id, channel=channel, address=ADDRESSES[channel],
                preference=rank, verified_at=now,
            )
        )  # fmt: skip
    answers = consent if consent is not None else dict.fromkeys(channels, True)
    for offset, (channel, granted) in enumerate(answers.items()):
        give(session, person.id, channel, granted, purpose=purpose, at_offset=offset)
    session.flush()
    return person


def give(
    session: Session,
    person_id: uuid.UUID,
    channel: str,
    granted: bool,
    *,
    purpose: str = "proactive_offers",
    at_offset: int = 0,
) -> ConsentEvent:
    event = ConsentEvent(
        person_id=person_id, purpose=purpose, channel=channel, granted=granted, source="test",
        actor="test", recorded_at=clock.now() - timedelta(seconds=60 - at_offset),
    )  # fmt: skip
    session.add(event)
    session.flush()
    return event


def held_appointments(
    session: Session, count: int, *, invite_on: object = None, channels: tuple[str, ...] = ("sms",)
) -> list[uuid.UUID]:
    """`count` citizens, each with a pending offer and an appointment held for it, due today."""
    from navreme.rules.models import Offer
    from navreme.scheduling.models import Appointment, AppointmentItem, Counter
    from tests.rules_support import published_expiry_rule

    rule = published_expiry_rule(session)
    office = factories.office(session)
    counter = session.scalars(select_counter(Counter).where(Counter.office_id == office.id)).first()
    assert counter is not None
    today = clock.today()
    ids = []
    for n in range(count):
        person = citizen(session, channels=channels)
        offer = Offer(
            rule_id=rule.id, rule_code=rule.code, person_id=person.id, recipient_id=person.id,
            period=f"test-{n}", service_code="passport", level="offer", status="pending",
            fact_kind="person", as_of=today,
        )  # fmt: skip
        session.add(offer)
        session.flush()
        starts = clock.now() + timedelta(days=7, minutes=15 * n)
        appointment = Appointment(
            office_id=office.id, counter_id=counter.id, starts_at=starts,
            ends_at=starts + timedelta(minutes=15), status="held",
            held_until=clock.now() + timedelta(days=3), made_by_kind="system",
            invite_on=invite_on or today,
        )  # fmt: skip
        session.add(appointment)
        session.flush()
        session.add(
            AppointmentItem(
                appointment_id=appointment.id, person_id=person.id, service_code="passport",
                action="apply", offer_id=offer.id, minutes=15,
            )
        )  # fmt: skip
        ids.append(appointment.id)
    session.flush()
    return ids
