"""Changing appointments: equip offices, hold, book, confirm, reschedule, cancel, no-show, waitlist.

Every slot taken is a `slot_claims` row whose primary key is (counter, slot start). A booking
inserts its claims inside a savepoint; if another transaction got there first the insert fails
on that key (on PostgreSQL it waits for the other to commit, then fails) and the next capable
counter is tried. So two bookings can never share a counter at one instant, and the database
says so even to a raw INSERT that bypasses this module.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.config import Settings
from navreme.identity.principal import Principal
from navreme.registry.models import Person
from navreme.rules.models import Offer
from navreme.scheduling import queries
from navreme.scheduling.calendar import office_calendars
from navreme.scheduling.models import (
    Appointment,
    AppointmentItem,
    Counter,
    CounterService,
    Office,
    OpeningHours,
    SlotClaim,
    WaitlistEntry,
)
from navreme.scheduling.queries import Need, VisitItem


class SchedulingError(Exception):
    """A booking that cannot be made as asked; `status` is the HTTP answer it maps to."""

    status = 422
    code = "not_bookable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotBookable(SchedulingError):
    pass


class SlotTaken(SchedulingError):
    status, code = 409, "slot_taken"


class WrongState(SchedulingError):
    status, code = 409, "wrong_state"


# --- offices ---------------------------------------------------------------------------------


def equip_office(
    session: Session,
    office: Office,
    *,
    counters: int,
    services: dict[str, int],
    hours: Sequence[tuple[int, time, time]],
) -> list[Counter]:
    """Give an office `counters` desks doing `services` (code → minutes) and opening hours."""
    created = [Counter(office_id=office.id, number=n) for n in range(1, counters + 1)]
    session.add_all(created)
    session.flush()
    session.execute(
        insert(CounterService),
        [
            {"counter_id": c.id, "service_code": code, "minutes": minutes}
            for c in created
            for code, minutes in services.items()
        ],
    )
    session.add_all(
        OpeningHours(office_id=office.id, weekday=weekday, opens=opens, closes=closes)
        for weekday, opens, closes in hours
    )
    office.counters = counters
    session.flush()
    return created


# --- claiming slots --------------------------------------------------------------------------


def _expire(session: Session, appointment_ids: set[uuid.UUID]) -> None:
    if not appointment_ids:
        return
    session.execute(delete(SlotClaim).where(SlotClaim.appointment_id.in_(appointment_ids)))
    session.execute(
        update(Appointment)
        .where(Appointment.id.in_(appointment_ids), Appointment.status == "held")
        .values(status="expired", held_until=None, updated_at=clock.now())
    )


def _claim(
    session: Session,
    counter_id: uuid.UUID,
    starts: list[datetime],
    appointment_id: uuid.UUID,
    held_until: datetime | None,
) -> bool:
    """Take `starts` on the counter for the appointment, all or none."""
    lapsed = set(
        session.scalars(
            select(SlotClaim.appointment_id).where(
                SlotClaim.counter_id == counter_id,
                SlotClaim.starts_at.in_(starts),
                SlotClaim.held_until.is_not(None),
                SlotClaim.held_until <= clock.now(),
            )
        )
    )
    _expire(session, lapsed)
    try:
        with session.begin_nested():
            session.execute(
                insert(SlotClaim),
                [
                    {
                        "counter_id": counter_id,
                        "starts_at": start,
                        "appointment_id": appointment_id,
                        "held_until": held_until,
                    }
                    for start in starts
                ],  # fmt: skip
            )
    except IntegrityError:
        return False
    return True


def _counters_for(session: Session, office: Office, need: Need) -> list[queries.CapableCounter]:
    counters = queries.capable_counters(session, office.id, need)
    if not counters:
        raise NotBookable(f"No counter at {office.code} does all of these services together.")
    return counters


def _take_stretch(
    session: Session,
    settings: Settings,
    appointment: Appointment,
    office: Office,
    counters: list[queries.CapableCounter],
) -> None:
    """Claim a capable counter at the appointment's start and set its counter and end."""
    starts_at = appointment.starts_at
    if starts_at <= clock.now():
        raise NotBookable("That time has passed; choose one of the free slots shown.")
    day = clock.local(starts_at, settings.timezone).date()
    calendar = office_calendars(
        session, [office], start=day, end=day, zone=settings.timezone, country=settings.country
    )[office.id]
    stretches = {}
    for counter in counters:
        span = math.ceil(counter.minutes / office.slot_minutes)
        ends_at = starts_at + calendar.slot * span
        if calendar.period_of(starts_at, ends_at) is not None:
            stretches[counter.counter_id] = [starts_at + calendar.slot * i for i in range(span)]
    fits = bool(stretches)
    # One read tells which counters are still free for the whole stretch; only those are tried
    # (a race lost on one of them is caught by the claims' key and the next one is tried).
    taken = queries.live_claims(session, list(stretches), starts_at,
                                max(s[-1] for s in stretches.values()) + calendar.slot
                                if stretches else starts_at)  # fmt: skip
    for counter in counters:
        starts = stretches.get(counter.counter_id)
        if starts is None or not taken[counter.counter_id].isdisjoint(starts):
            continue
        if _claim(session, counter.counter_id, starts, appointment.id, appointment.held_until):
            appointment.counter_id = counter.counter_id
            appointment.ends_at = starts[-1] + calendar.slot
            return
    if not fits:
        raise NotBookable(
            f"{clock.local(starts_at, settings.timezone):%Y-%m-%d %H:%M} is not a slot of "
            f"{office.code} for this visit (closed, not on the slot grid, or too close to closing)."
        )
    raise SlotTaken("That slot was just taken. Here are the next free ones.")


def _check_items(session: Session, actor: Principal, items: Sequence[VisitItem]) -> list[Person]:
    if not items:
        raise NotBookable("A visit needs at least one person and service.")
    persons = []
    for person_id in dict.fromkeys(item.person_id for item in items):
        person = session.get(Person, person_id)
        if person is None or not queries.acts_for(session, actor, person):
            raise NotBookable(f"You cannot book for person {person_id}.")
        if person.death_date is not None:
            raise NotBookable(f"Person {person_id} is recorded as deceased.")
        persons.append(person)
    for item in items:
        if item.offer_id is None:
            continue
        offer = session.get(Offer, item.offer_id)
        if offer is None or offer.person_id != item.person_id:
            raise NotBookable(f"Offer {item.offer_id} is not an offer to {item.person_id}.")
        if offer.service_code != item.service_code:
            raise NotBookable(f"Offer {item.offer_id} is for {offer.service_code}.")
    return persons


def _audit(
    session: Session, action: str, appointment: Appointment, actor: Principal | None,
    **details: Any,
) -> None:  # fmt: skip
    record(
        session, action=action, actor_kind=actor.audit_kind if actor else "system",
        actor_id=actor.id if actor else None, object_kind="appointment",
        object_id=appointment.id, details=details,
    )  # fmt: skip


def _on_behalf(actor: Principal, persons: Sequence[Person]) -> bool:
    return any(person.id != actor.id for person in persons)


def _set_waitlist(session: Session, appointment_id: uuid.UUID, status: str) -> None:
    session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.appointment_id == appointment_id)
        .values(status=status)
    )


def _claims_of(
    session: Session, appointment_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, datetime]]:
    """(counter, slot start) of every claim the appointments hold."""
    rows = session.execute(
        select(SlotClaim.counter_id, SlotClaim.starts_at).where(
            SlotClaim.appointment_id.in_(appointment_ids)
        )
    )
    return [(counter_id, starts_at) for counter_id, starts_at in rows]


def _set_offers(session: Session, appointment_id: uuid.UUID, status: str, *, only: str) -> None:
    offer_ids = select(AppointmentItem.offer_id).where(
        AppointmentItem.appointment_id == appointment_id, AppointmentItem.offer_id.is_not(None)
    )
    session.execute(
        update(Offer)
        .where(Offer.id.in_(offer_ids), Offer.status.in_(only.split()))
        .values(status=status, updated_at=clock.now())
    )


def make_appointment(
    session: Session,
    settings: Settings,
    actor: Principal | None,
    *,
    office: Office,
    starts_at: datetime,
    items: Sequence[VisitItem],
    hold_for: timedelta | None = None,
    replaces: Appointment | None = None,
) -> Appointment:
    """Book (or, with `hold_for`, hold) one visit: several people, several services, one counter."""
    persons = _check_items(session, actor, items) if actor else []
    now, starts_at = clock.now(), starts_at.astimezone(UTC)
    appointment = Appointment(
        id=uuid.uuid4(), office_id=office.id, starts_at=starts_at,
        status="held" if hold_for else "booked",
        held_until=now + hold_for if hold_for else None,
        made_by_kind=actor.kind if actor else "system", made_by_id=actor.id if actor else None,
        replaces_id=replaces.id if replaces else None, created_at=now, updated_at=now,
    )  # fmt: skip
    counters = _counters_for(session, office, Need.of(items))
    # The claims reference the appointment, so its row goes first with the first capable
    # counter; taking the stretch then settles the counter and the end.
    appointment.counter_id = counters[0].counter_id
    appointment.ends_at = starts_at + timedelta(minutes=counters[0].minutes)
    session.add(appointment)
    session.flush()
    _take_stretch(session, settings, appointment, office, counters)
    chosen = next(c for c in counters if c.counter_id == appointment.counter_id)
    session.add_all(
        AppointmentItem(
            appointment_id=appointment.id,
            person_id=item.person_id,
            service_code=item.service_code,
            action=item.action,
            offer_id=item.offer_id,
            minutes=chosen.minutes_for(item.service_code, item.action),
        )  # fmt: skip
        for item in items
    )
    session.flush()
    if not hold_for and any(item.offer_id for item in items):
        _set_offers(session, appointment.id, "accepted", only="pending notified")
    if actor and (actor.is_officer or _on_behalf(actor, persons)):
        _audit(session, "appointment.hold" if hold_for else "appointment.book", appointment, actor,
               office=office.code, persons=len(persons))  # fmt: skip
    return appointment


def confirm(session: Session, actor: Principal, appointment: Appointment) -> Appointment:
    """A held appointment becomes a booking, if the hold has not lapsed."""
    if appointment.status != "held":
        raise WrongState(
            f"Only a held appointment can be confirmed; this one is {appointment.status}."
        )
    if appointment.held_until is not None and appointment.held_until <= clock.now():
        _expire(session, {appointment.id})
        session.refresh(appointment)
        raise WrongState("The hold on this slot has lapsed; choose one of the free slots shown.")
    appointment.status, appointment.held_until = "booked", None
    appointment.updated_at = clock.now()
    session.execute(
        update(SlotClaim).where(SlotClaim.appointment_id == appointment.id).values(held_until=None)
    )
    _set_offers(session, appointment.id, "accepted", only="pending notified")
    _set_waitlist(session, appointment.id, "booked")
    session.flush()
    return appointment


def reschedule(
    session: Session,
    settings: Settings,
    actor: Principal,
    appointment: Appointment,
    *,
    starts_at: datetime,
    office: Office | None = None,
) -> Appointment:
    """Move a booking (or hold) to another slot; the old one is freed only if the new is won."""
    if appointment.status not in ("held", "booked"):
        raise WrongState(f"A {appointment.status} appointment cannot be moved.")
    starts_at = starts_at.astimezone(UTC)
    office = office or session.get_one(Office, appointment.office_id)
    items = [
        VisitItem(i.person_id, i.service_code, i.action, i.offer_id)
        for i in queries.items_of(session, appointment.id)
    ]
    old = _claims_of(session, [appointment.id])
    # Free our own claims inside a savepoint first, so moving by one slot within the same
    # stretch works; if the new stretch cannot be taken, the savepoint puts them back.
    try:
        with session.begin_nested():
            session.execute(delete(SlotClaim).where(SlotClaim.appointment_id == appointment.id))
            length = appointment.ends_at - appointment.starts_at
            appointment.office_id = office.id
            appointment.starts_at, appointment.ends_at = starts_at, starts_at + length
            _take_stretch(session, settings, appointment, office,
                          _counters_for(session, office, Need.of(items)))  # fmt: skip
            session.flush()
    except SchedulingError:
        session.expire(appointment)
        raise
    appointment.sequence += 1
    appointment.updated_at = clock.now()
    session.flush()
    _offer_to_waitlist(session, settings, old)
    _audit(session, "appointment.reschedule", appointment, actor, office=office.code)
    return appointment


def cancel(
    session: Session, settings: Settings, actor: Principal | None, appointment: Appointment
) -> Appointment:
    """Cancel a booking or decline a hold: the slot goes back, to the next person waiting first."""
    if appointment.status not in ("held", "booked"):
        raise WrongState(f"A {appointment.status} appointment cannot be cancelled.")
    freed = _claims_of(session, [appointment.id])
    session.execute(delete(SlotClaim).where(SlotClaim.appointment_id == appointment.id))
    appointment.status, appointment.held_until = "cancelled", None
    appointment.sequence += 1
    appointment.updated_at = clock.now()
    _set_offers(session, appointment.id, "pending", only="accepted")
    _set_waitlist(session, appointment.id, "cancelled")
    session.flush()
    _audit(session, "appointment.cancel", appointment, actor)
    _offer_to_waitlist(session, settings, freed)
    return appointment


OFFICE_TRANSITIONS = {
    "check_in": ({"booked"}, "checked_in"),
    "done": ({"booked", "checked_in"}, "done"),
    "no_show": ({"booked"}, "no_show"),
}


def mark(
    session: Session, settings: Settings, officer: Principal, appointment: Appointment, what: str
) -> Appointment | None:
    """An office marks a visit checked in, done or a no-show. A no-show gets a new held slot,
    which is returned."""
    allowed, status = OFFICE_TRANSITIONS[what]
    if appointment.status not in allowed:
        raise WrongState(f"A {appointment.status} appointment cannot be marked {what}.")
    if what in ("no_show", "done") and appointment.starts_at > clock.now():
        raise WrongState(f"An appointment that has not started cannot be marked {what}.")
    appointment.status, appointment.updated_at = status, clock.now()
    session.flush()
    _audit(session, f"appointment.{what}", appointment, officer)
    if what == "done":
        collected = select(AppointmentItem.offer_id).where(
            AppointmentItem.appointment_id == appointment.id, AppointmentItem.action == "collect"
        )
        session.execute(update(Offer).where(Offer.id.in_(collected)).values(status="completed"))
        return None
    if what == "no_show":
        return _offer_again(session, settings, appointment)
    return None


def _offer_again(session: Session, settings: Settings, missed: Appointment) -> Appointment | None:
    """After a no-show: hold the earliest slot from tomorrow at the same office, same visit."""
    office = session.get_one(Office, missed.office_id)
    items = [
        VisitItem(i.person_id, i.service_code, i.action, i.offer_id)
        for i in queries.items_of(session, missed.id)
    ]
    tomorrow = clock.local_midnight(clock.today(settings.timezone) + timedelta(days=1),
                                    settings.timezone)  # fmt: skip
    for slot in queries.free_slots(
        session, Need.of(items), near=None, office_codes=[office.code], after=tomorrow,
        horizon_days=settings.booking_horizon_days, limit=3, max_offices=1,
        zone=settings.timezone, country=settings.country,
    ):  # fmt: skip
        try:
            with session.begin_nested():
                again = make_appointment(
                    session, settings, None, office=office, starts_at=slot.starts_at,
                    items=items, hold_for=timedelta(hours=settings.offer_hold_hours),
                    replaces=missed,
                )  # fmt: skip
        except SchedulingError:
            continue
        _set_offers(session, again.id, "pending", only="accepted notified")
        return again
    return None


# --- holds that lapse, and the waitlist ------------------------------------------------------


def release_lapsed_holds(session: Session, settings: Settings) -> int:
    """Expire holds whose time ran out and pass their slots to the waitlist; returns how many."""
    lapsed = list(
        session.scalars(
            select(Appointment.id).where(
                Appointment.status == "held", Appointment.held_until <= clock.now()
            )
        )
    )
    if not lapsed:
        return 0
    freed = _claims_of(session, lapsed)
    _expire(session, set(lapsed))
    session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.appointment_id.in_(lapsed), WaitlistEntry.status == "offered")
        .values(status="waiting", appointment_id=None)
    )
    session.flush()
    _offer_to_waitlist(session, settings, freed)
    return len(lapsed)


def join_waitlist(
    session: Session,
    actor: Principal,
    *,
    person: Person,
    service_code: str,
    office: Office | None,
    before: datetime | None,
) -> WaitlistEntry:
    if not queries.acts_for(session, actor, person):
        raise NotBookable(f"You cannot join the waitlist for person {person.id}.")
    entry = WaitlistEntry(
        person_id=person.id, service_code=service_code, office_id=office.id if office else None,
        municipality_code=None if office else person.municipality_code, before=before,
    )  # fmt: skip
    session.add(entry)
    session.flush()
    return entry


def _offer_to_waitlist(
    session: Session, settings: Settings, freed: list[tuple[uuid.UUID, datetime]]
) -> None:
    """Hold each freed stretch's first slot for the longest-waiting person who fits it."""
    first: dict[uuid.UUID, datetime] = {}
    for counter_id, starts_at in freed:
        first[counter_id] = min(starts_at, first.get(counter_id, starts_at))
    for counter_id, starts_at in sorted(first.items(), key=lambda kv: kv[1]):
        if starts_at <= clock.now():
            continue
        counter = session.get(Counter, counter_id)
        office = session.get(Office, counter.office_id) if counter else None
        if office is None:
            continue
        services = select(CounterService.service_code).where(
            CounterService.counter_id == counter_id
        )
        waiting = session.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.status == "waiting",
                WaitlistEntry.service_code.in_(services),
                (WaitlistEntry.office_id == office.id)
                | (WaitlistEntry.municipality_code == office.municipality_code),
                (WaitlistEntry.before.is_(None)) | (WaitlistEntry.before > starts_at),
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(20)
        )
        for entry in waiting:
            item = VisitItem(entry.person_id, entry.service_code)
            try:
                with session.begin_nested():
                    held = make_appointment(
                        session, settings, None, office=office, starts_at=starts_at,
                        items=[item], hold_for=timedelta(hours=settings.waitlist_hold_hours),
                    )  # fmt: skip
            except SchedulingError:
                continue
            entry.status, entry.appointment_id = "offered", held.id
            session.flush()
            break
