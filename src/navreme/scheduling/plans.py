"""A household's open offers as a portfolio plan with held slots, and invites for appointments.

`navreme.planning.portfolio` decides the fewest visits over plain data; this module feeds it the
person's (and their minor wards') open offers and documents, then holds a slot for each visit at
the nearest office that can do the whole visit: the first visit at the earliest free slot, each
later one at the earliest free slot on or after the day its documents are ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import Settings
from navreme.identity.principal import Principal
from navreme.planning.portfolio import (
    Need,
    PlannedVisit,
    PortfolioPlan,
    Window,
    plan_portfolio,
    specs_from_catalogue,
)
from navreme.registry.models import Document, GuardianLink, Person
from navreme.registry.queries import is_minor
from navreme.rules.models import OPEN_OFFER_STATUSES, Offer
from navreme.scheduling import actions, queries
from navreme.scheduling.calendar import is_public_holiday
from navreme.scheduling.ical import Invite, invite_ics
from navreme.scheduling.models import Appointment, Office

# The document that proves a service was done ("a valid ID card" for the passport).
SERVICE_DOCUMENT = {
    "id-card": "id_card", "first-adult-id-card": "id_card", "passport": "passport",
    "passport-minor": "passport", "driving-licence": "driving_licence",
}  # fmt: skip
VALID_FOR_AT_LEAST = timedelta(days=90)  # a document this close to expiry no longer counts
LATER_VISIT_HOLD_ENDS = timedelta(days=2)  # later visits must be confirmed 2 days before


def household(session: Session, person: Person) -> list[Person]:
    """The person and their minor wards: the people whose visits can be bundled."""
    wards = session.scalars(
        select(Person)
        .join(GuardianLink, GuardianLink.ward_id == Person.id)
        .where(GuardianLink.guardian_id == person.id, Person.death_date.is_(None))
    )
    return [person, *(w for w in wards if is_minor(w))]


def _holds(session: Session, person: Person, on: date) -> frozenset[str]:
    """Services whose proof the person already has: a valid document of that kind."""
    kinds = set(
        session.scalars(
            select(Document.kind).where(
                Document.person_id == person.id,
                Document.status == "valid",
                Document.expires_on >= on + VALID_FOR_AT_LEAST,
            )
        )
    )
    return frozenset(code for code, kind in SERVICE_DOCUMENT.items() if kind in kinds)


def _summer(person: Person, start: date) -> list[Window] | None:
    """People living abroad come home in July and August."""
    if person.abroad_country is None:
        return None
    return [Window(date(year, 7, 1), date(year, 8, 31)) for year in (start.year, start.year + 1)]


def open_needs(session: Session, people: list[Person], on: date) -> list[Need]:
    ids = [p.id for p in people]
    offers = session.scalars(
        select(Offer)
        .where(Offer.person_id.in_(ids), Offer.status.in_(OPEN_OFFER_STATUSES))
        .order_by(Offer.created_at, Offer.id)
    ).all()
    by_id = {p.id: p for p in people}
    needs, seen = [], set()
    for offer in offers:
        if (offer.person_id, offer.service_code) in seen:
            continue  # two rules offering the same service make one need
        seen.add((offer.person_id, offer.service_code))
        open_services = {o.service_code for o in offers if o.person_id == offer.person_id}
        holds = _holds(session, by_id[offer.person_id], on) - open_services
        needs.append(Need(person=offer.person_id, service=offer.service_code,
                          offer_id=offer.id, holds=holds))  # fmt: skip
    return needs


def plan_for(session: Session, settings: Settings, person: Person) -> PortfolioPlan:
    """The fewest-visit plan for the person's and their minor wards' open offers."""
    start = clock.today(settings.timezone)
    people = household(session, person)
    windows = {p.id: w for p in people if (w := _summer(p, start)) is not None}
    return plan_portfolio(
        open_needs(session, people, start), specs_from_catalogue(session), start=start,
        is_working_day=lambda d: d.weekday() < 5 and not is_public_holiday(d, settings.country),
        windows=windows,
    )  # fmt: skip


@dataclass(frozen=True)
class HeldVisit:
    visit: PlannedVisit
    appointment: Appointment | None
    problem: str | None = None


def _nearest_point(session: Session, person: Person) -> tuple[float, float] | None:
    if person.municipality_code is None:
        return None
    return queries.municipality_point(session, person.municipality_code)


def hold_plan(
    session: Session,
    settings: Settings,
    actor: Principal,
    person: Person,
    plan: PortfolioPlan,
    *,
    office_code: str | None = None,
) -> list[HeldVisit]:
    """Hold a slot for every visit of the plan, in order, each after the one before."""
    held: list[HeldVisit] = []
    not_before = clock.now()
    for visit in plan.visits:
        items = [queries.VisitItem(i.person, i.service, i.action, i.offer_id) for i in visit.items]
        ready = clock.local_midnight(visit.earliest, settings.timezone)
        slots = queries.free_slots(
            session, queries.Need.of(items), near=_nearest_point(session, person),
            office_codes=[office_code] if office_code else (), after=max(ready, not_before),
            horizon_days=settings.booking_horizon_days, limit=3, max_offices=5,
            zone=settings.timezone, country=settings.country,
        )  # fmt: skip
        made = None
        for slot in slots:
            if actor.is_officer and not queries.works_at(actor, slot.office):
                continue  # officers hold only at their own department's offices
            until = min(clock.now() + timedelta(hours=settings.offer_hold_hours),
                        slot.starts_at - timedelta(hours=1)) if not held else (
                slot.starts_at - LATER_VISIT_HOLD_ENDS)  # fmt: skip
            if until <= clock.now():
                until = slot.starts_at - timedelta(minutes=1)
            try:
                with session.begin_nested():
                    made = actions.make_appointment(
                        session, settings, actor, office=slot.office, starts_at=slot.starts_at,
                        items=items, hold_for=until - clock.now(),
                    )  # fmt: skip
                break
            except actions.SchedulingError:
                continue
        if made is None:
            held.append(HeldVisit(visit, None, "no free slot within the booking horizon"))
            continue
        held.append(HeldVisit(visit, made))
        not_before = made.ends_at
    return held


def invite_for(session: Session, settings: Settings, appointment: Appointment) -> bytes:
    """The appointment's iCalendar object: a REQUEST, or a CANCEL once it is cancelled."""
    office = session.get_one(Office, appointment.office_id)
    services = sorted({i.service_code for i in queries.items_of(session, appointment.id)})
    invite = Invite(
        uid=f"{appointment.id}@navreme", sequence=appointment.sequence,
        start=appointment.starts_at, end=appointment.ends_at,
        summary=f"{office.name}: {', '.join(services)}", location=office.address,
        description=f"Navreme appointment {appointment.id}. Bring your current documents.",
        organizer=settings.mail_from, language=settings.default_language,
    )  # fmt: skip
    cancelled = appointment.status in ("cancelled", "expired")
    return invite_ics(invite, "CANCEL" if cancelled else "REQUEST")
