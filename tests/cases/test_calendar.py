"""SLA clocks run in working time only: weekends, public holidays and nights do not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from navreme.cases import calendar

SKOPJE = ZoneInfo("Europe/Skopje")
WHERE = {"zone": "Europe/Skopje", "country": "MK"}


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SKOPJE)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(2026, 11, 23, 9, 0), 4, at(2026, 11, 23, 13, 0)),  # Monday morning, same day
        (at(2026, 11, 23, 15, 0), 8, at(2026, 11, 24, 15, 0)),  # over one night
        (at(2026, 11, 20, 15, 0), 8, at(2026, 11, 23, 15, 0)),  # Friday → Monday
        (at(2026, 11, 21, 11, 0), 1, at(2026, 11, 23, 9, 0)),  # sent on Saturday
        (at(2026, 11, 23, 19, 30), 1, at(2026, 11, 24, 9, 0)),  # sent in the evening
        (at(2026, 11, 23, 6, 0), 1, at(2026, 11, 23, 9, 0)),  # sent before opening
        # Friday 22 May before Cyril and Methodius (Sunday 24, observed Monday 25)
        (at(2026, 5, 22, 15, 0), 8, at(2026, 5, 26, 15, 0)),
        # Thursday 30 April: Labour Day Friday 1 May, then the weekend
        (at(2026, 4, 30, 12, 0), 8, at(2026, 5, 4, 12, 0)),
        # 7 December (Monday) before St Clement (Tuesday 8 December)
        (at(2026, 12, 7, 16, 0), 2, at(2026, 12, 9, 10, 0)),
    ],
)
def test_add_working_time__skips_nights_weekends_holidays(
    start: datetime, hours: int, due: datetime
) -> None:
    got = calendar.add_working_time(start, timedelta(hours=hours), **WHERE)
    assert got == due.astimezone(UTC)
    assert got.tzinfo is UTC


def test_add_working_days__whole_days_of_eight_hours() -> None:
    # Tuesday 8 September is Independence Day: Monday 7 + 3 working days → Friday 11
    assert calendar.add_working_days(at(2026, 9, 7, 10, 0), 3, **WHERE) == at(2026, 9, 11, 10, 0)


def test_working_time_between__inverse_of_adding() -> None:
    start = at(2026, 10, 9, 14, 30)  # Friday before National Uprising Day (observed Monday)
    due = calendar.add_working_time(start, timedelta(hours=13), **WHERE)
    assert calendar.working_time_between(start, due, **WHERE) == timedelta(hours=13)
    assert calendar.working_time_between(due, start, **WHERE) == timedelta(0)


def test_sla_state__on_time_then_at_risk_then_breached() -> None:
    start = at(2026, 11, 23, 8, 0)
    due = calendar.add_working_days(start, 2, **WHERE)  # Wednesday 08:00 = Tuesday 16:00
    assert calendar.sla_state(start, due, at(2026, 11, 23, 15, 0), **WHERE) == "on_time"
    assert calendar.sla_state(start, due, at(2026, 11, 24, 13, 0), **WHERE) == "at_risk"
    assert calendar.sla_state(start, due, due, **WHERE) == "breached"
    # the weekend does not use up time: Friday 15:00 is still on time for a Friday 8:00 case
    friday = at(2026, 11, 20, 8, 0)
    due = calendar.add_working_days(friday, 2, **WHERE)
    assert calendar.sla_state(friday, due, at(2026, 11, 22, 20, 0), **WHERE) == "on_time"
