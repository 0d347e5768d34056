"""Working days and slot starts: opening hours in local time, public holidays, closures.

Slots are computed, never stored. An office's day is its opening periods cut into
`slot_minutes` pieces in the country's local time and converted to UTC, so a slot at 08:00
stays at 08:00 on both sides of a daylight-saving change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from navreme.scheduling.models import Closure, Office, OpeningHours


@lru_cache(maxsize=64)
def public_holidays(country: str, year: int) -> dict[date, str]:
    """The country's public holidays in `year` (with observed days), from `holidays`."""
    return dict(holidays.country_holidays(country, years=year).items())


def is_public_holiday(day: date, country: str = "MK") -> bool:
    return day in public_holidays(country, day.year)


def working_days(start: date, end: date, country: str = "MK") -> list[date]:
    """Monday to Friday from `start` to `end` inclusive, less the public holidays."""
    days, day = [], start
    while day <= end:
        if day.weekday() < 5 and not is_public_holiday(day, country):
            days.append(day)
        day += timedelta(days=1)
    return days


def add_working_days(start: date, count: int, country: str = "MK") -> date:
    """The working day `count` working days after `start` (count 0: start, or the next one)."""
    day = start
    while day.weekday() >= 5 or is_public_holiday(day, country):
        day += timedelta(days=1)
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and not is_public_holiday(day, country):
            count -= 1
    return day


@dataclass(frozen=True)
class Period:
    """One opening period of an office on one day, in UTC, cut into slots."""

    starts_at: datetime
    ends_at: datetime
    slot: timedelta

    def slot_starts(self) -> Iterator[datetime]:
        at = self.starts_at
        while at + self.slot <= self.ends_at:
            yield at
            at += self.slot

    def contains(self, starts_at: datetime, ends_at: datetime) -> bool:
        aligned = (starts_at - self.starts_at) % self.slot == timedelta(0)
        return aligned and self.starts_at <= starts_at and ends_at <= self.ends_at


@dataclass(frozen=True)
class OfficeCalendar:
    """What an office's opening hours and closures say about any day."""

    office_id: uuid.UUID
    slot: timedelta
    hours: dict[int, tuple[tuple[time, time], ...]]  # weekday → opening periods
    closed_days: frozenset[date]
    zone: ZoneInfo
    country: str

    def is_open(self, day: date) -> bool:
        return (
            bool(self.hours.get(day.weekday()))
            and day not in self.closed_days
            and not is_public_holiday(day, self.country)
        )

    def periods(self, day: date) -> list[Period]:
        if not self.is_open(day):
            return []
        return [
            Period(self._utc(day, opens), self._utc(day, closes), self.slot)
            for opens, closes in self.hours[day.weekday()]
        ]

    def period_of(self, starts_at: datetime, ends_at: datetime) -> Period | None:
        """The opening period that holds the stretch [starts_at, ends_at) on slot boundaries."""
        day = starts_at.astimezone(self.zone).date()
        return next((p for p in self.periods(day) if p.contains(starts_at, ends_at)), None)

    def _utc(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)


def office_calendars(
    session: Session,
    offices: Iterable[Office],
    *,
    start: date,
    end: date,
    zone: str,
    country: str,
) -> dict[uuid.UUID, OfficeCalendar]:
    """Calendars of `offices` with their closures between `start` and `end` (two queries)."""
    by_id = {office.id: office for office in offices}
    hours: dict[uuid.UUID, dict[int, list[tuple[time, time]]]] = {i: {} for i in by_id}
    rows = session.execute(
        select(
            OpeningHours.office_id, OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes
        )
        .where(OpeningHours.office_id.in_(by_id))
        .order_by(OpeningHours.weekday, OpeningHours.opens)
    )
    for office_id, weekday, opens, closes in rows:
        hours[office_id].setdefault(weekday, []).append((opens, closes))
    closed: dict[uuid.UUID | None, set[date]] = {}
    closures = session.execute(
        select(Closure.office_id, Closure.day).where(
            Closure.day.between(start, end),
            or_(Closure.office_id.is_(None), Closure.office_id.in_(by_id)),
        )
    )
    for office_id, day in closures:
        closed.setdefault(office_id, set()).add(day)
    everywhere = closed.get(None, set())
    return {
        office_id: OfficeCalendar(
            office_id=office_id,
            slot=timedelta(minutes=office.slot_minutes),
            hours={weekday: tuple(periods) for weekday, periods in hours[office_id].items()},
            closed_days=frozenset(everywhere | closed.get(office_id, set())),
            zone=ZoneInfo(zone),
            country=country,
        )
        for office_id, office in by_id.items()
    }
