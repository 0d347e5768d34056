"""What intake looks up for every case, kept per process: categories, routing rules,
department names and municipality centres.

They change a few times a year and are read for every case, so each process keeps a snapshot
per database instead of reading them again for each one. It cannot serve stale data unnoticed:

- A write to one of these tables that goes through SQLAlchemy in this process — ORM or Core,
  any session or connection: `load_categories`, the demo seed, a test, SQL by hand through
  `session.execute(text(...))` — drops every snapshot when the statement is sent, and again when
  its transaction commits or rolls back. Until then the writing transaction reads the tables
  fresh (it sees its own uncommitted rows) and neither uses nor fills the snapshot.
- A write from elsewhere — another API process, a CLI, `psql` — is seen at the latest
  `TTL_SECONDS` after it was committed: a snapshot is read again when it is older than that.

Staleness bound: none for changes made through this process; `TTL_SECONDS` (5 s) for changes
made outside it (documented in docs/benchmarks.md, "Case intake (Open311)").
"""

from __future__ import annotations

import math
import re
import threading
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, fields
from time import monotonic
from typing import Any

from sqlalchemy import Engine, Pool, event, select
from sqlalchemy.orm import Session

from navreme.cases.models import CaseCategory, RoutingRule
from navreme.identity.models import Department
from navreme.registry.models import Municipality

TTL_SECONDS = 5.0  # the longest a change made by another process goes unseen here
NEAREST_WITHIN_KM = 30.0  # farther than this from every municipality centre: no municipality
_DIRTY = "navreme_cases_lookup_written"  # on a connection's info: it wrote one of the tables
_WRITES = re.compile(
    r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+"
    r"(?:\w+\.)?\"?(?:case_categories|routing_rules|departments|municipalities)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Category:
    """A request category as intake and the messages need it (CaseCategory's columns)."""

    code: str
    group: str
    name_mk: str
    name_sq: str
    name_en: str
    description_en: str
    keywords: str
    accept_hours: int
    resolve_days: int
    public: bool
    active: bool


@dataclass(frozen=True)
class Names:
    """A department's names, for the messages (name_mk, name_sq, name_en as on Department)."""

    name_mk: str
    name_sq: str
    name_en: str


@dataclass(frozen=True)
class Snapshot:
    categories: Mapping[str, Category]
    rules: Mapping[tuple[str, str | None], uuid.UUID]  # (category, area or None) → department
    departments: Mapping[uuid.UUID, Names]
    centres: tuple[tuple[str, float, float], ...]  # municipalities with a centre: code, lat, long
    loaded_at: float  # monotonic() before it was read

    def route(self, category_code: str, municipality_code: str | None) -> uuid.UUID | None:
        """The area's own rule, else the country-wide one, else None (triage)."""
        if municipality_code is not None:
            own = self.rules.get((category_code, municipality_code))
            if own is not None:
                return own
        return self.rules.get((category_code, None))

    def nearest(self, latitude: float, longitude: float) -> str | None:
        """The municipality whose centre is nearest the point, within 30 km; None elsewhere."""
        box = NEAREST_WITHIN_KM / 111.0
        scale = math.cos(math.radians(latitude))
        near = [
            (111.0 * math.hypot(lat - latitude, (long - longitude) * scale), code)
            for code, lat, long in self.centres
            if latitude - box <= lat <= latitude + box
            and longitude - 2 * box <= long <= longitude + 2 * box
        ]
        near = [item for item in near if item[0] <= NEAREST_WITHIN_KM]
        return min(near)[1] if near else None


_lock = threading.Lock()
# one per database: keyed by the engine's pool (an engine disposed or made anew starts afresh)
_snapshots: weakref.WeakKeyDictionary[Pool, Snapshot] = weakref.WeakKeyDictionary()
_generation = 0  # bumped by every invalidation: a read that began before one is not kept


def snapshot(session: Session) -> Snapshot:
    """The tables as this session may see them: the process's snapshot while it is younger than
    TTL_SECONDS and nothing here changed them since; fresh from the session otherwise."""
    connection = session.connection()
    if connection.info.get(_DIRTY):
        return _read(session)  # its own uncommitted writes: fresh, and kept out of the cache
    key = connection.engine.pool
    found = _snapshots.get(key)
    if found is not None and monotonic() - found.loaded_at < TTL_SECONDS:
        return found
    generation = _generation
    fresh = _read(session)
    with _lock:
        if generation == _generation:
            _snapshots[key] = fresh
    return fresh


def invalidate() -> None:
    """Drop every snapshot (the next case reads the tables again)."""
    global _generation
    with _lock:
        _generation += 1
        _snapshots.clear()


def _read(session: Session) -> Snapshot:
    loaded_at = monotonic()
    columns = [CaseCategory.__table__.c[field.name] for field in fields(Category)]
    categories = {row.code: Category(*row) for row in session.execute(select(*columns))}
    rules = {
        (row.category_code, row.municipality_code): row.department_id
        for row in session.execute(
            select(RoutingRule.category_code, RoutingRule.municipality_code,
                   RoutingRule.department_id)
        )
    }  # fmt: skip
    departments = {
        row.id: Names(row.name_mk, row.name_sq, row.name_en)
        for row in session.execute(
            select(Department.id, Department.name_mk, Department.name_sq, Department.name_en)
        )
    }
    centres = tuple(
        (row.code, row.latitude, row.longitude)
        for row in session.execute(
            select(Municipality.code, Municipality.latitude, Municipality.longitude)
        )
        if row.latitude is not None and row.longitude is not None
    )
    return Snapshot(categories, rules, departments, centres, loaded_at)


# --- noticing writes: every SQLAlchemy engine and pool of this process ---------------------------


@event.listens_for(Engine, "before_cursor_execute")
def _statement(
    connection: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any,
    _executemany: bool,
) -> None:  # fmt: skip
    if statement[:12].lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE", "TRUNCA") and (
        _WRITES.match(statement)
    ):
        connection.info[_DIRTY] = True
        invalidate()


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _transaction_end(connection: Any) -> None:
    if connection.info.pop(_DIRTY, False):
        invalidate()  # again: a snapshot read between the write and its commit is not kept


@event.listens_for(Pool, "checkin")
def _checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(_DIRTY, False):
        invalidate()
