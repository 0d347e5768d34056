"""SLA clocks on the working calendar: Monday to Friday, 08:00–16:00 in the country's time zone,
less the country's public holidays (`holidays`, as the offices use).

A clock only runs in working time: a request sent on Friday evening before a holiday Monday has
its first working hour on Tuesday at 08:00. Deadlines are moments (aware, UTC); "at risk" is the
last quarter of the working time allowed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from navreme.scheduling.calendar import is_public_holiday

DAY_STARTS, DAY_ENDS = time(8), time(16)
WORKING_DAY = timedelta(hours=8)
AT_RISK_SHARE = 0.75  # past three quarters of the allowed working time: at risk


def is_working_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and not is_public_holiday(day, country)


def _next_working_start(moment: datetime, zone: ZoneInfo, country: str) -> datetime:
    """The moment itself if it is working time, else the start of the next working period."""
    local = moment.astimezone(zone)
    day = local.date()
    if is_working_day(day, country) and local.time() < DAY_ENDS:
        return max(local, datetime.combine(day, DAY_STARTS, zone))
    day += timedelta(days=1)
    while not is_working_day(day, country):
        day += timedelta(days=1)
    return datetime.combine(day, DAY_STARTS, zone)


def add_working_time(start: datetime, span: timedelta, *, zone: str, country: str) -> datetime:
    """`start` plus `span` of working time (e.g. 8 working hours from Friday 15:00 is Monday
    15:00, or Tuesday's if Monday is a holiday)."""
    tz = ZoneInfo(zone)
    at, left = _next_working_start(start, tz, country), span
    while True:
        day_end = datetime.combine(at.date(), DAY_ENDS, tz)
        if at + left <= day_end:
            return (at + left).astimezone(UTC)
        left -= day_end - at
        at = _next_working_start(day_end, tz, country)


def add_working_days(start: datetime, days: int, *, zone: str, country: str) -> datetime:
    return add_working_time(start, WORKING_DAY * days, zone=zone, country=country)


def working_time_between(start: datetime, end: datetime, *, zone: str, country: str) -> timedelta:
    """Working time from `start` to `end` (zero when end is not after start)."""
    tz = ZoneInfo(zone)
    total, at = timedelta(0), _next_working_start(start, tz, country)
    end_local = end.astimezone(tz)
    while at < end_local:
        day_end = datetime.combine(at.date(), DAY_ENDS, tz)
        total += min(day_end, end_local) - at
        at = _next_working_start(day_end, tz, country)
    return total


def sla_state(
    started: datetime, due: datetime, now: datetime, *, zone: str, country: str
) -> str:  # fmt: skip
    """on_time, at_risk (past three quarters of the working time allowed) or breached."""
    if now >= due:
        return "breached"
    allowed = working_time_between(started, due, zone=zone, country=country)
    used = working_time_between(started, now, zone=zone, country=country)
    if allowed and used >= allowed * AT_RISK_SHARE:
        return "at_risk"
    return "on_time"
