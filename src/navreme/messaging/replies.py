"""What a person's short answer does: to their held appointment, or to their consent.

The appointment an answer is about is the one the newest appointment message to the person
named (the invitation they are answering), else their only held appointment. Nothing is
guessed beyond that: with two held appointments and no message, an officer decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.config import Settings, get_settings
from navreme.identity.principal import Principal
from navreme.messaging.actions import withdraw
from navreme.messaging.models import Message
from navreme.registry.actions import change_consent
from navreme.registry.models import CHANNELS, Person
from navreme.registry.queries import consent_at
from navreme.registry.schemas import ConsentChange
from navreme.scheduling import actions as scheduling
from navreme.scheduling import queries as slots
from navreme.scheduling.models import Appointment, Office

# Proactive contact that STOP ends on the channel (case updates answer the person's own cases).
PROACTIVE_PURPOSES = ("proactive_offers", "reminders", "surveys")
OTHER_TIMES_SHOWN = 3
ANSWERABLE = {"confirm": ("held",), "other_times": ("held", "booked"),
              "cancel": ("held", "booked")}  # fmt: skip


@dataclass
class Acted:
    outcome: str  # confirmed | other_times | cancelled (inbound_messages.outcome)
    template: str
    appointment_id: uuid.UUID
    context: dict[str, Any] = field(default_factory=dict)


def _citizen(person: Person) -> Principal:
    return Principal(kind="citizen", id=person.id)


def _invited_to(session: Session, person: Person) -> Appointment | None:
    """The appointment of the newest appointment message to the person, if they may act on it
    (theirs, or a minor's they are guardian of: invitations for children go to a parent)."""
    query = (
        select(Message.subject_id)
        .where(Message.person_id == person.id, Message.subject_kind == "appointment")
        .order_by(Message.created_at.desc())
        .limit(1)
    )
    appointment_id = session.scalar(query)
    if appointment_id is None:
        return None
    return slots.get_appointment_for(session, _citizen(person), appointment_id)


def answered_appointment(session: Session, person: Person, kind: str) -> Appointment | None:
    """The appointment an answer of `kind` is about, if it can still take that answer."""
    invited = _invited_to(session, person)
    if invited is not None and invited.status in ANSWERABLE[kind]:
        return invited
    held = [a for a in slots.appointments_of(session, person.id) if a.status == "held"]
    return held[0] if len(held) == 1 else None


def _when(appointment: Appointment, settings: Settings) -> dict[str, str]:
    local = clock.local(appointment.starts_at, settings.timezone)
    return {"date": f"{local:%d.%m.%Y}", "time": f"{local:%H:%M}"}


def _place(office: Office) -> dict[str, str]:
    return {"office": office.name, "address": office.address}


def _other_times(
    session: Session, settings: Settings, appointment: Appointment
) -> list[dict[str, str]]:
    office = session.get_one(Office, appointment.office_id)
    items = [
        slots.VisitItem(item.person_id, item.service_code, item.action)
        for item in slots.items_of(session, appointment.id)
    ]
    found = slots.free_slots(
        session, slots.Need.of(items), near=None, office_codes=[office.code],
        after=clock.now(), horizon_days=settings.booking_horizon_days,
        limit=OTHER_TIMES_SHOWN, max_offices=1, zone=settings.timezone, country=settings.country,
    )  # fmt: skip
    return [
        {
            "date": f"{clock.local(slot.starts_at, settings.timezone):%d.%m.%Y}",
            "time": f"{clock.local(slot.starts_at, settings.timezone):%H:%M}",
        }  # fmt: skip
        for slot in found
    ]


def _offer_other_times(session: Session, settings: Settings, appointment: Appointment, *,
                       lapsed: bool = False) -> Acted:  # fmt: skip
    office = session.get_one(Office, appointment.office_id)
    context = {**_when(appointment, settings), **_place(office), "lapsed": lapsed,
               "slots": _other_times(session, settings, appointment)}  # fmt: skip
    return Acted("other_times", "reply_other_times", appointment.id, context)


def _confirm(
    session: Session, settings: Settings, person: Person, appointment: Appointment
) -> Acted:
    try:
        scheduling.confirm(session, _citizen(person), appointment)
    except scheduling.WrongState:
        return _offer_other_times(session, settings, appointment, lapsed=True)
    record(
        session, action="appointment.confirm", actor_kind="citizen", actor_id=person.id,
        object_kind="appointment", object_id=appointment.id, details={"via": "reply"},
    )  # fmt: skip
    office = session.get_one(Office, appointment.office_id)
    context = {**_when(appointment, settings), **_place(office)}
    return Acted("confirmed", "reply_confirmed", appointment.id, context)


def _cancel(
    session: Session, settings: Settings, person: Person, appointment: Appointment
) -> Acted:
    office = session.get_one(Office, appointment.office_id)
    context = {**_when(appointment, settings), **_place(office)}
    scheduling.cancel(session, settings, _citizen(person), appointment)
    return Acted("cancelled", "reply_cancelled", appointment.id, context)


def act_on_appointment(session: Session, person: Person, kind: str) -> Acted | None:
    """Confirm, cancel or offer other times for the answered appointment; None if there is none."""
    appointment = answered_appointment(session, person, kind)
    if appointment is None:
        return None
    settings = get_settings()
    if kind == "confirm":
        return _confirm(session, settings, person, appointment)
    if kind == "cancel":
        return _cancel(session, settings, person, appointment)
    return _offer_other_times(session, settings, appointment)


def change_proactive_consent(
    session: Session, person: Person, channel: str, *, granted: bool
) -> int:
    """STOP / START on a channel: one ledger event per proactive purpose whose answer changes."""
    if channel not in CHANNELS:
        return 0
    changed, now = 0, clock.now()
    for purpose in PROACTIVE_PURPOSES:
        if consent_at(session, person.id, purpose=purpose, channel=channel, at=now) is granted:
            continue
        change = ConsentChange(purpose=purpose, channel=channel, granted=granted)
        change_consent(session, person=person, change=change, actor=_citizen(person),
                       source="channel")  # fmt: skip
        if not granted:
            # Whatever is still waiting to go out on this channel for the purpose stays unsent.
            withdraw(session, person_id=person.id, purpose=purpose, channel=channel)
        changed += 1
    return changed
