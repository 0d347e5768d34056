"""The one clock: aware UTC everywhere, the citizen's zone only at the edge.

Tests move time with `frozen(...)`; nothing else in Navreme calls datetime.now().
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

_frozen: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def today(tz: str = "Europe/Skopje") -> date:
    """Today's date where the citizen lives (Europe/Skopje by default)."""
    return now().astimezone(ZoneInfo(tz)).date()


def local(instant: datetime, tz: str = "Europe/Skopje") -> datetime:
    return instant.astimezone(ZoneInfo(tz))


def local_midnight(day: date, tz: str = "Europe/Skopje") -> datetime:
    """The instant (UTC) a local day begins."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


@contextlib.contextmanager
def frozen(instant: datetime) -> Iterator[None]:
    """Freeze the clock at an aware instant (tests only)."""
    global _frozen
    if instant.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous, _frozen = _frozen, instant.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous
