"""A mass replacement campaign turned into invitation dates and held slots (M4 waves).

The wave planner (`navreme.planning.waves`) decides who goes to which office on which day so
that no office-day exceeds its capacity net of a no-show buffer, the most urgent come first,
people abroad come in summer and everyone goes near home. This module gives it the real
capacity (counters × opening hours, public holidays, closures and what is already booked) and
writes the plan: per person a held appointment at a concrete counter and time, and the day the
invitation goes out (`invite_on`), a notice period before the visit.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import Settings
from navreme.planning import instance as waves_instance
from navreme.planning.waves import REASONS, plan_waves
from navreme.rules.models import OPEN_OFFER_STATUSES, Offer, Rule
from navreme.rules.schemas import MandatedReplacement, RuleDefinition
from navreme.scheduling import queries
from navreme.scheduling.calendar import OfficeCalendar, office_calendars, public_holidays
from navreme.scheduling.models import Appointment, AppointmentItem, Office, SlotClaim


class NotACampaign(ValueError):
    """The rule is not a published mandated replacement."""


@dataclass
class CampaignReport:
    rule: str
    service: str
    start: date
    deadline: date
    persons: int = 0
    planned: int = 0
    unplanned: dict[str, int] = field(default_factory=dict)
    held: int = 0
    lost_to_bookings: int = 0  # planned, but the office-day filled up since
    peak_load: float = 0.0  # planned ÷ usable capacity, the busiest office-day
    first_visit: date | None = None
    last_visit: date | None = None
    seconds: float = 0.0


def _free_starts(
    calendar: OfficeCalendar, day: date, stretches: dict[uuid.UUID, int],
    taken: dict[uuid.UUID, set[datetime]],
) -> list[tuple[uuid.UUID, datetime]]:  # fmt: skip
    """Every (counter, start) where a whole visit fits, counters side by side through the day."""
    free = []
    for period in calendar.periods(day):
        for counter_id, span in stretches.items():
            at = period.starts_at
            while at + period.slot * span <= period.ends_at:
                stretch = {at + period.slot * i for i in range(span)}
                if stretch.isdisjoint(taken.get(counter_id, set())):
                    free.append((counter_id, at))
                    at += period.slot * span
                else:
                    at += period.slot
    free.sort(key=lambda pair: (pair[1], str(pair[0])))
    return free


def _office_days(
    session: Session, settings: Settings, office_ids: list[uuid.UUID], days: list[date],
    service: str,
) -> tuple[np.ndarray, dict[tuple[int, int], list[tuple[uuid.UUID, datetime]]]]:  # fmt: skip
    """Capacity (offices × days) for one applicant of `service`, and the free starts behind it."""
    offices = [session.get_one(Office, office_id) for office_id in office_ids]
    calendars = office_calendars(session, offices, start=days[0], end=days[-1],
                                 zone=settings.timezone, country=settings.country)  # fmt: skip
    need = queries.Need.of([queries.VisitItem(uuid.uuid4(), service)])
    capacity = np.zeros((len(offices), len(days)), dtype=np.int32)
    starts: dict[tuple[int, int], list[tuple[uuid.UUID, datetime]]] = {}
    for o, office in enumerate(offices):
        counters = queries.capable_counters(session, office.id, need)
        if not counters:
            continue
        stretches = {c.counter_id: math.ceil(c.minutes / office.slot_minutes) for c in counters}
        first = clock.local_midnight(days[0], settings.timezone)
        last = clock.local_midnight(days[-1] + timedelta(days=1), settings.timezone)
        taken = queries.live_claims(session, list(stretches), first, last)
        for d, day in enumerate(days):
            free = _free_starts(calendars[office.id], day, stretches, taken)
            capacity[o, d] = len(free)
            starts[(o, d)] = free
    return capacity, starts


def _offers(
    session: Session, rule_code: str, person_ids: list[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    rows = session.execute(
        select(Offer.person_id, Offer.id).where(
            Offer.rule_code == rule_code, Offer.status.in_(OPEN_OFFER_STATUSES)
        )
    )
    wanted = set(person_ids)
    return {person_id: offer_id for person_id, offer_id in rows if person_id in wanted}


def plan_campaign(
    session: Session,
    settings: Settings,
    rule: Rule,
    *,
    start: date,
    no_show_buffer: float = 0.1,
    notice_days: int = 14,
    commit: bool = False,
) -> CampaignReport:
    """Plan the rule's whole population; with `commit`, hold a slot for everyone planned."""
    began = time.perf_counter()
    definition = RuleDefinition.model_validate(rule.definition)
    trigger = definition.trigger
    if rule.status != "published" or not isinstance(trigger, MandatedReplacement):
        raise NotACampaign(f"{rule.code} is not a published mandated-replacement rule")
    if commit and start <= clock.today(settings.timezone):
        raise NotACampaign("slots can only be held from tomorrow on: choose a later --start")
    holidays = {
        d for year in range(start.year, trigger.deadline.year + 1)
        for d in public_holidays(settings.country, year)
    }  # fmt: skip
    slots: dict[tuple[int, int], list[tuple[uuid.UUID, datetime]]] = {}

    def capacity(offices: waves_instance.Offices, days: np.ndarray) -> np.ndarray:
        as_dates = [d.item() for d in days]
        raw, found = _office_days(session, settings, offices.ids, as_dates, definition.service)
        slots.update(found)
        return raw

    built = waves_instance.build_instance(
        session, definition=definition, start=start, holidays=holidays, capacity=capacity,
        no_show_buffer=no_show_buffer,
    )  # fmt: skip
    plan = plan_waves(built.instance)
    report = CampaignReport(rule.code, definition.service, start, trigger.deadline,
                            persons=len(built.person_ids))  # fmt: skip
    planned = plan.office >= 0
    report.planned = int(planned.sum())
    report.unplanned = {REASONS[int(code)]: n for code, n in
                        sorted(Tally(plan.reason[~planned].tolist()).items())}  # fmt: skip
    if report.planned:
        days = built.instance.days
        report.first_visit = days[plan.day[planned].min()].item()
        report.last_visit = days[plan.day[planned].max()].item()
        load = np.zeros_like(built.instance.capacity)
        np.add.at(load, (plan.office[planned], plan.day[planned]), 1)
        usable = np.maximum(built.instance.capacity, 1)
        report.peak_load = float((load / usable).max())
    if commit and report.planned:
        _hold(session, settings, built, plan, slots, definition.service, rule, notice_days, report)
    report.seconds = time.perf_counter() - began
    return report


def _hold(
    session: Session, settings: Settings, built: waves_instance.Campaign, plan: object,
    slots: dict[tuple[int, int], list[tuple[uuid.UUID, datetime]]], service: str, rule: Rule,
    notice_days: int, report: CampaignReport,
) -> None:  # fmt: skip
    """Write one held appointment, its item and its claims per planned person, in bulk."""
    office_ids = built.offices.ids
    days = built.instance.days
    offers = _offers(session, rule.code, built.person_ids)
    minutes = {}
    now = clock.now()
    appointments, items, claims = [], [], []
    order = np.lexsort((plan.day, plan.office))  # type: ignore[attr-defined]
    used: Tally[tuple[int, int]] = Tally()
    for row in order:
        o, d = int(plan.office[row]), int(plan.day[row])  # type: ignore[attr-defined]
        if o < 0:
            continue
        free = slots.get((o, d), [])
        if used[(o, d)] >= len(free):
            report.lost_to_bookings += 1
            continue
        counter_id, starts_at = free[used[(o, d)]]
        used[(o, d)] += 1
        office_id = office_ids[o]
        if office_id not in minutes:
            office = session.get_one(Office, office_id)
            need = queries.Need.of([queries.VisitItem(uuid.uuid4(), service)])
            minutes[office_id] = (office.slot_minutes, {
                c.counter_id: c.minutes for c in queries.capable_counters(session, office_id, need)
            })  # fmt: skip
        slot_minutes, per_counter = minutes[office_id]
        span = math.ceil(per_counter[counter_id] / slot_minutes)
        visit_day: date = days[d].item()
        invite_on = max(clock.today(settings.timezone), visit_day - timedelta(days=notice_days))
        held_until = min(
            clock.local_midnight(invite_on, settings.timezone)
            + timedelta(hours=settings.offer_hold_hours),
            starts_at - timedelta(hours=12),
        )  # fmt: skip
        appointment_id = uuid.uuid4()
        person_id = built.person_ids[row]
        appointments.append({
            "id": appointment_id, "office_id": office_id, "counter_id": counter_id,
            "starts_at": starts_at, "ends_at": starts_at + timedelta(minutes=slot_minutes * span),
            "status": "held", "held_until": held_until, "made_by_kind": "system",
            "made_by_id": None, "sequence": 0, "replaces_id": None, "invite_on": invite_on,
            "created_at": now, "updated_at": now,
        })  # fmt: skip
        items.append({
            "id": uuid.uuid4(), "appointment_id": appointment_id, "person_id": person_id,
            "service_code": service, "action": "apply", "offer_id": offers.get(person_id),
            "minutes": per_counter[counter_id],
        })  # fmt: skip
        claims += [
            {"counter_id": counter_id, "starts_at": starts_at + timedelta(minutes=slot_minutes * i),
             "appointment_id": appointment_id, "held_until": held_until}
            for i in range(span)
        ]  # fmt: skip
    for table, rows in ((Appointment, appointments), (AppointmentItem, items), (SlotClaim, claims)):
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(table), rows[chunk : chunk + 5000])
    report.held = len(appointments)
