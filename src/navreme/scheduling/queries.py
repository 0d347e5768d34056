"""Reading appointments: free slots across nearby offices, and access-checked getters.

Free slots are derived, never stored: opening periods cut into slots, minus the claims that are
still live (a hold whose time ran out reads as free at once, before the sweeper gets to it).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.identity.principal import Principal
from navreme.registry.models import Municipality, Person
from navreme.registry.queries import is_guardian_of_minor
from navreme.scheduling.calendar import OfficeCalendar, office_calendars
from navreme.scheduling.models import (
    Appointment,
    AppointmentItem,
    Counter,
    CounterService,
    Office,
    SlotClaim,
)

COLLECT_MINUTES = 5  # handing over a finished document
SEARCH_CHUNK_DAYS = 7  # claims are read a week at a time, so a free office stops early
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class VisitItem:
    """One person and one service on a visit."""

    person_id: uuid.UUID
    service_code: str
    action: str = "apply"
    offer_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Need:
    """What a visit asks of a counter: its services, and how many applicants or collections."""

    applications: tuple[tuple[str, int], ...]  # (service, applicants)
    collections: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, items: Iterable[VisitItem]) -> Need:
        applications: dict[str, int] = {}
        collections: dict[str, int] = {}
        for item in items:
            tally = collections if item.action == "collect" else applications
            tally[item.service_code] = tally.get(item.service_code, 0) + 1
        return cls(tuple(sorted(applications.items())), tuple(sorted(collections.items())))

    @property
    def services(self) -> set[str]:
        return {code for code, _ in self.applications + self.collections}

    def minutes(self, menu: dict[str, int]) -> int | None:
        """Minutes at a counter offering `menu` (service → minutes), None if it cannot."""
        if not self.services <= menu.keys():
            return None
        applying = sum(menu[code] * n for code, n in self.applications)
        return applying + COLLECT_MINUTES * sum(n for _, n in self.collections)


@dataclass(frozen=True)
class CapableCounter:
    counter_id: uuid.UUID
    number: int
    minutes: int
    menu: tuple[tuple[str, int], ...] = ()  # service → minutes per applicant at this counter

    def minutes_for(self, service_code: str, action: str) -> int:
        return COLLECT_MINUTES if action == "collect" else dict(self.menu)[service_code]


@dataclass(frozen=True)
class FreeSlot:
    office: Office
    distance_km: float | None
    starts_at: datetime
    ends_at: datetime
    minutes: int


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def capable_counters(session: Session, office_id: uuid.UUID, need: Need) -> list[CapableCounter]:
    """The office's active counters that can do every service of the visit, by number."""
    rows = session.execute(
        select(Counter.id, Counter.number, CounterService.service_code, CounterService.minutes)
        .join(CounterService, CounterService.counter_id == Counter.id)
        .where(Counter.office_id == office_id, Counter.active.is_(True))
        .order_by(Counter.number)
    )
    menus: dict[tuple[uuid.UUID, int], dict[str, int]] = {}
    for counter_id, number, code, minutes in rows:
        menus.setdefault((counter_id, number), {})[code] = minutes
    found = []
    for (counter_id, number), menu in menus.items():
        minutes = need.minutes(menu)
        if minutes is not None:
            found.append(CapableCounter(counter_id, number, minutes, tuple(sorted(menu.items()))))
    return found


def offices_offering(session: Session, services: set[str]) -> list[Office]:
    """Offices with at least one active counter doing every one of `services`."""
    doing_all = (
        select(Counter.office_id)
        .join(CounterService, CounterService.counter_id == Counter.id)
        .where(Counter.active.is_(True), CounterService.service_code.in_(services))
        .group_by(Counter.id, Counter.office_id)
        .having(func.count() == len(services))
    )
    return list(session.scalars(select(Office).where(Office.id.in_(doing_all))))


def live_claims(
    session: Session, counter_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, set[datetime]]:
    """Slot starts taken on each counter in [start, end): bookings and holds not yet lapsed."""
    now = clock.now()
    rows = session.execute(
        select(SlotClaim.counter_id, SlotClaim.starts_at).where(
            SlotClaim.counter_id.in_(counter_ids),
            SlotClaim.starts_at >= start,
            SlotClaim.starts_at < end,
            or_(SlotClaim.held_until.is_(None), SlotClaim.held_until > now),
        )
    )
    taken: dict[uuid.UUID, set[datetime]] = {counter_id: set() for counter_id in counter_ids}
    for counter_id, starts_at in rows:
        taken[counter_id].add(starts_at)
    return taken


def _free_in_office(
    session: Session,
    calendar: OfficeCalendar,
    counters: list[CapableCounter],
    *,
    after: datetime,
    until: date,
    limit: int,
    zone: str,
) -> list[tuple[datetime, datetime, int]]:
    """The earliest `limit` distinct start times at which some capable counter is free."""
    found: dict[datetime, tuple[datetime, int]] = {}
    day = clock.local(after, zone).date()
    while day <= until and len(found) < limit:
        chunk_end = min(until, day + timedelta(days=SEARCH_CHUNK_DAYS - 1))
        periods = [p for d in _days(day, chunk_end) for p in calendar.periods(d)]
        if periods:
            taken = live_claims(
                session, [c.counter_id for c in counters], periods[0].starts_at, periods[-1].ends_at
            )
            for period in periods:
                for counter in counters:
                    span = math.ceil(counter.minutes / (period.slot.total_seconds() / 60))
                    for start in period.slot_starts():
                        if start < after or start in found:
                            continue
                        stretch = [start + period.slot * i for i in range(span)]
                        ends_at = start + period.slot * span
                        if ends_at <= period.ends_at and taken[counter.counter_id].isdisjoint(
                            stretch
                        ):
                            found[start] = (ends_at, counter.minutes)
        day = chunk_end + timedelta(days=1)
    return sorted((start, end, minutes) for start, (end, minutes) in found.items())[:limit]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def municipality_point(session: Session, code: str) -> tuple[float, float] | None:
    row = session.execute(
        select(Municipality.latitude, Municipality.longitude).where(Municipality.code == code)
    ).first()
    if row is None or row.latitude is None or row.longitude is None:
        return None
    return row.latitude, row.longitude


def free_slots(
    session: Session,
    need: Need,
    *,
    near: tuple[float, float] | None,
    office_codes: Sequence[str] = (),
    after: datetime,
    horizon_days: int,
    limit: int,
    max_offices: int,
    zone: str,
    country: str,
) -> list[FreeSlot]:
    """The earliest free slots for the visit across the nearest offices that can do it."""
    offices = offices_offering(session, need.services)
    if office_codes:
        offices = [o for o in offices if o.code in set(office_codes)]

    def distance(office: Office) -> float | None:
        if near is None or office.latitude is None or office.longitude is None:
            return None
        return distance_km(near[0], near[1], office.latitude, office.longitude)

    ranked = sorted(offices, key=lambda o: (distance(o) is None, distance(o) or 0.0, o.code))
    ranked = ranked[:max_offices]
    start_day = clock.local(after, zone).date()
    until = start_day + timedelta(days=horizon_days)
    calendars = office_calendars(
        session, ranked, start=start_day, end=until, zone=zone, country=country
    )
    slots = []
    for office in ranked:
        counters = capable_counters(session, office.id, need)
        for start, end, minutes in _free_in_office(
            session, calendars[office.id], counters,
            after=after, until=until, limit=limit, zone=zone,
        ):  # fmt: skip
            slots.append(FreeSlot(office, distance(office), start, end, minutes))
    slots.sort(key=lambda s: (s.starts_at, s.distance_km or 0.0, s.office.code))
    return slots[:limit]


def acts_for(session: Session, principal: Principal, person: Person) -> bool:
    """May `principal` book for `person`: themselves, a minor's guardian, or an officer."""
    if principal.is_officer:
        return True
    if not principal.is_citizen or principal.id is None:
        return False
    if principal.id == person.id:
        return True
    return is_guardian_of_minor(session, guardian_id=principal.id, ward=person)


def works_at(principal: Principal, office: Office) -> bool:
    """Officers act on their own department's offices; admins everywhere."""
    return principal.is_admin or (
        principal.is_officer and principal.department_id == office.department_id
    )


def get_appointment_for(
    session: Session, principal: Principal, appointment_id: uuid.UUID
) -> Appointment | None:
    """The appointment if `principal` is on it (or a minor on it is their ward), made it, or
    works at its office."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return None
    office = session.get(Office, appointment.office_id)
    if office is not None and works_at(principal, office):
        return appointment
    if not principal.is_citizen or principal.id is None:
        return None
    if appointment.made_by_id == principal.id:
        return appointment
    persons = session.scalars(
        select(AppointmentItem.person_id).where(AppointmentItem.appointment_id == appointment.id)
    )
    for person_id in set(persons):
        person = session.get(Person, person_id)
        if person is not None and acts_for(session, principal, person):
            return appointment
    return None


def items_of(session: Session, appointment_id: uuid.UUID) -> list[AppointmentItem]:
    return list(
        session.scalars(
            select(AppointmentItem)
            .where(AppointmentItem.appointment_id == appointment_id)
            .order_by(AppointmentItem.person_id, AppointmentItem.service_code)
        )
    )


def appointments_of(session: Session, person_id: uuid.UUID) -> list[Appointment]:
    """Every appointment a person is on, newest first."""
    on = select(AppointmentItem.appointment_id).where(AppointmentItem.person_id == person_id)
    return list(
        session.scalars(
            select(Appointment).where(Appointment.id.in_(on)).order_by(Appointment.starts_at.desc())
        )
    )


def no_show_count(session: Session, person_id: uuid.UUID) -> int:
    on = select(AppointmentItem.appointment_id).where(AppointmentItem.person_id == person_id)
    return (
        session.scalar(
            select(func.count()).where(Appointment.id.in_(on), Appointment.status == "no_show")
        )
        or 0
    )


def office_day(session: Session, office: Office, day: date, zone: str) -> list[Appointment]:
    """The office's appointments on a local day, by counter and time (cancelled ones left out)."""
    start = clock.local_midnight(day, zone)
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.office_id == office.id,
                Appointment.starts_at >= start,
                Appointment.starts_at < start + timedelta(days=1),
                Appointment.status.not_in(("cancelled", "expired")),
            )
            .order_by(Appointment.counter_id, Appointment.starts_at)
        )
    )
