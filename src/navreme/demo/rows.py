"""Row values in the form each database stores them, so bulk writes skip the ORM's per-value
conversions: UUIDs as 32 hex digits, dates as ISO text, instants as UTC text.

Both SQLite (SQLAlchemy's own storage format) and PostgreSQL (text input, also for COPY)
accept these strings; only instants differ, hence `Stamps`.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Column order of every bulk-written table; the generators build tuples in this order.
COLUMNS = {
    "persons": (
        "id", "national_id", "given_name", "family_name", "birth_date", "sex",
        "municipality_code", "abroad_country", "language", "accessibility", "household_id",
        "created_at", "updated_at",
    ),
    "guardian_links": ("id", "guardian_id", "ward_id", "kind", "created_at"),
    "documents": ("id", "person_id", "kind", "number", "issued_on", "expires_on", "status",
                  "created_at"),
    "contact_endpoints": ("id", "person_id", "channel", "address", "preference", "verified_at",
                          "created_at"),
    "consent_events": ("id", "person_id", "purpose", "channel", "granted", "source", "actor",
                       "recorded_at"),
    "life_events": ("id", "person_id", "kind", "occurred_on", "details", "recorded_at"),
}  # fmt: skip
# Persons first: every other table refers to them.
TABLE_ORDER = tuple(COLUMNS)


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n): `randrange`'s job at a third of its cost, for hot loops."""
    return int(rng.random() * n)


class Identifiers:
    """UUIDs for every seeded row: RFC 9562 version 7 with the seed instant as timestamp, a
    42-bit counter (RFC 9562 §6.2, method 1) and 32 random bits from the seed's generator.

    Counter order keeps each index's inserts at its right-hand edge, which makes bulk
    loading several times faster than random version-4 keys; the seed makes them repeatable.
    """

    COUNTER_BITS = 42

    def __init__(self, rng: random.Random, *, seeded_at: datetime) -> None:
        self._rng = rng
        self._prefix = (int(seeded_at.timestamp() * 1000) << 80) | (0x7 << 76) | (0b10 << 62)
        self._counter = 0

    def next(self) -> str:
        """The next id as 32 hex digits."""
        count = self._counter
        self._counter = count + 1
        high, low = count >> 30, count & ((1 << 30) - 1)
        value = self._prefix | (high << 64) | (low << 32) | self._rng.getrandbits(32)
        return f"{value:032x}"


def json_text(value: object) -> str:
    """JSON exactly as SQLAlchemy's JSON type serialises it (json.dumps defaults)."""
    return json.dumps(value)


class Stamps:
    """Instants as the target database's text: naive UTC for SQLite, +00 for PostgreSQL."""

    def __init__(self, *, postgres: bool, seeded_at: datetime) -> None:
        self._suffix = "+00" if postgres else ""
        self._cache: dict[tuple[int, int], str] = {}
        self.seeded_at = self.text(seeded_at)

    def text(self, instant: datetime) -> str:
        utc = instant.astimezone(UTC)
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f") + self._suffix

    def at_hour(self, day_ordinal: int, hour: int) -> str:
        """`day` at `hour`:00 UTC (cached: the seed uses a few thousand distinct instants)."""
        key = (day_ordinal, hour)
        found = self._cache.get(key)
        if found is None:
            instant = datetime.combine(date.fromordinal(day_ordinal), time(hour), tzinfo=UTC)
            found = self._cache[key] = self.text(instant)
        return found


def start_of_day(day: date, tz: str = "Europe/Skopje") -> datetime:
    """Midnight of `day` where the citizen lives, in UTC: the seed's recording instant."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


class Numbering:
    """Unique, random-looking numbers 0 … capacity-1, in a fixed order from a counter.

    c ↦ (c·m + offset) mod capacity is a bijection when m is coprime with capacity, so no
    number repeats and nothing has to be remembered.
    """

    MULTIPLIER = 2_654_435_761  # odd and not a multiple of 5: coprime with 10ⁿ and 8·10ⁿ

    def __init__(self, capacity: int, *, offset: int) -> None:
        self.capacity = capacity
        self._offset = offset % capacity
        self.issued = 0

    def next(self) -> int:
        if self.issued >= self.capacity:
            raise OverflowError(f"all {self.capacity} numbers of this series are issued")
        value = (self.issued * self.MULTIPLIER + self._offset) % self.capacity
        self.issued += 1
        return value


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def days_ago(as_of: date, days: int) -> date:
    return as_of - timedelta(days=days)
