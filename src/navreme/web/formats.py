"""Dates and times the way each language writes them, in the country's time zone."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from navreme.config import get_settings

UTC = ZoneInfo("UTC")


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(moment: dt.datetime) -> dt.datetime:
    """A stored (UTC) moment in the country's time zone; naive values are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone(get_settings().timezone))


def day(value: dt.date | dt.datetime | None, language: str, style: str = "long") -> str:
    """E.g. "3 март 2026 г." / "3 mars 2026" / "3 March 2026"."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local(value).date()
    return format_date(value, style, locale=language)


def clock_time(moment: dt.datetime, language: str) -> str:
    """24-hour local time, "09:15"."""
    return format_time(local(moment), "HH:mm", locale=language)


def when(moment: dt.datetime | None, language: str, style: str = "medium") -> str:
    """Date and local time, e.g. "3.3.2026, 09:15"."""
    if moment is None:
        return ""
    return f"{day(moment, language, style)}, {clock_time(moment, language)}"
