"""Invitations: on its `invite_on` day, a held appointment goes to the person as an offer.

The invitation is written through the messaging hub's outbox in the same transaction that marks
the appointment's offers `notified`, so either both happen or neither (T04). Its dedupe key
(`invite:<appointment id>`) makes a second run, a concurrent run or a run after a crash send
nothing new. The message goes to the offer's recipient: a guardian for a minor.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import Settings
from navreme.messaging.actions import send
from navreme.messaging.models import Message
from navreme.rules.models import Offer
from navreme.rules.queries import offers_of, service_names
from navreme.scheduling.actions import _set_offers
from navreme.scheduling.models import Appointment, AppointmentItem, Office

TEMPLATE = "appointment_invite"


def local_text(at: datetime, zone: str) -> str:
    """A date and time as people read it in all three languages: 03.03.2027 09:30."""
    return at.astimezone(ZoneInfo(zone)).strftime("%d.%m.%Y %H:%M")


def due_invitations(session: Session, today: date, *, limit: int) -> list[uuid.UUID]:
    invited = exists().where(
        Message.subject_kind == "appointment",
        Message.subject_id == Appointment.id,
        Message.template == TEMPLATE,
    )
    query = (
        select(Appointment.id)
        .where(
            Appointment.status == "held",
            Appointment.invite_on <= today,
            Appointment.held_until > clock.now(),
            ~invited,
        )
        .order_by(Appointment.invite_on, Appointment.starts_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def invite(session: Session, settings: Settings, appointment_id: uuid.UUID) -> Message | None:
    """Write the invitation for one held appointment (nothing if it is no longer held)."""
    appointment = session.get_one(Appointment, appointment_id, with_for_update=True)
    if appointment.status != "held" or appointment.held_until is None:
        return None
    items = list(
        session.scalars(
            select(AppointmentItem).where(AppointmentItem.appointment_id == appointment.id)
        )
    )
    offer = next(
        (session.get(Offer, item.offer_id) for item in items if item.offer_id is not None), None
    )
    recipient = offer.recipient_id if offer is not None else items[0].person_id
    message = send(
        session, person_id=recipient, purpose="proactive_offers", template=TEMPLATE,
        context=_context(session, settings, appointment, items, offer, recipient),
        subject=("appointment", appointment.id), dedupe_key=f"invite:{appointment.id}",
    )  # fmt: skip
    _set_offers(session, appointment.id, "notified", only="pending")
    return message


def _context(
    session: Session,
    settings: Settings,
    appointment: Appointment,
    items: list[AppointmentItem],
    offer: Offer | None,
    recipient: uuid.UUID,
) -> dict[str, str]:
    from navreme.registry.models import Person

    language = session.get_one(Person, recipient).language
    names = service_names(session, language)  # type: ignore[arg-type]
    services = ", ".join(dict.fromkeys(names.get(i.service_code, i.service_code) for i in items))
    reason = ""
    if offer is not None:
        reason = next(
            (o.reason for o in offers_of(session, recipient, language) if o.id == offer.id), ""
        )  # type: ignore[arg-type]
    office = session.get_one(Office, appointment.office_id)
    return {
        "service_name": services,
        "office_name": office.name,
        "starts_at": local_text(appointment.starts_at, settings.timezone),
        "held_until": local_text(
            appointment.held_until or appointment.starts_at, settings.timezone
        ),
        "reason": reason or services,
    }


def send_due_invitations(
    session: Session, settings: Settings, *, today: date | None = None, limit: int = 1000
) -> int:
    """Invite every held appointment whose day has come (one transaction per call)."""
    day = today or clock.today(settings.timezone)
    sent = 0
    for appointment_id in due_invitations(session, day, limit=limit):
        if invite(session, settings, appointment_id) is not None:
            sent += 1
    return sent
