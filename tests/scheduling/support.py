"""Shared set-up for appointment tests: an equipped office, a citizen, the next working day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from navreme import clock
from navreme.catalogue.actions import load_demo_catalogue
from navreme.registry.models import Person
from navreme.scheduling.calendar import is_public_holiday
from navreme.scheduling.models import Office
from tests import factories

SKOPJE = ZoneInfo("Europe/Skopje")


def next_working_day(after: date | None = None, skip: int = 0) -> date:
    """The first Monday–Friday, non-holiday day after `after` (default today), `skip` more on."""
    day = (after or clock.today()) + timedelta(days=1)
    while True:
        if day.weekday() < 5 and not is_public_holiday(day):
            if skip == 0:
                return day
            skip -= 1
        day += timedelta(days=1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local wall-clock time in Skopje, as an aware instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=SKOPJE)


@dataclass
class Setup:
    office: Office
    citizen: Person
    headers: dict[str, str]


def setup(session: Session, *, counters: int = 2) -> Setup:
    load_demo_catalogue(session)
    office = factories.office(session, counters=counters)
    citizen = factories.person(session)
    headers = factories.session_token(session, citizen)
    session.commit()
    return Setup(office, citizen, headers)


def booking(person: Person, starts_at: datetime, *, service: str = "id-card",
            office: str = "MVR-MK-101", hold: bool = False) -> dict[str, object]:  # fmt: skip
    return {
        "office": office, "starts_at": starts_at.isoformat(), "hold": hold,
        "items": [{"person_id": str(person.id), "service": service}],
    }  # fmt: skip
