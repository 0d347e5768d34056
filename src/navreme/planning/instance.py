"""A wave instance from a Navreme database: the persons a mandated-replacement rule targets.

Persons are the rule's matches (`rules.compiler.compile_rule` on the campaign's first day), so
the planner sees exactly whom the rule would make an offer to. Residents may go to their
municipality's MVR office or the K-1 nearest others; persons abroad only in July–August, to
the office of their last municipality (their latest move abroad), else the capital's.
Capacity is a parameter until the office calendar exists: an (O, D) array or a function of
the offices and days, e.g. `counters_times(per_counter)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.identity.models import Department
from navreme.planning import inputs
from navreme.planning.waves import WaveInstance, usable_capacity
from navreme.registry.models import Document, LifeEvent, Municipality, Person
from navreme.rules.compiler import compile_rule
from navreme.rules.schemas import MandatedReplacement, RuleDefinition
from navreme.scheduling.models import Office

MVR = "MVR"
CAPITAL = "MK-814"  # Centar: the City of Skopje's offices


@dataclass(frozen=True)
class Offices:
    ids: list[uuid.UUID]
    municipality: list[str]
    counters: np.ndarray  # int (O,)
    where: np.ndarray  # float (O, 2): latitude, longitude


Capacity = np.ndarray | Callable[[Offices, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Campaign:
    """A wave instance and whom its rows stand for."""

    instance: WaveInstance
    person_ids: list[uuid.UUID]
    offices: Offices


def counters_times(per_counter: int) -> Callable[[Offices, np.ndarray], np.ndarray]:
    """Capacity: every counter takes `per_counter` appointments on every working day."""
    return lambda offices, days: inputs.counter_capacity(
        offices.counters, days, per_counter=per_counter
    )


def mvr_offices(session: Session) -> Offices:
    """The Ministry of Interior's offices (ID cards, passports, licences), by code."""
    rows = session.execute(
        select(
            Office.id, Office.municipality_code, Office.counters, Office.latitude, Office.longitude
        )
        .join(Department, Department.id == Office.department_id)
        .where(Department.code == MVR, Office.latitude.is_not(None), Office.longitude.is_not(None))
        .order_by(Office.code)
    ).all()
    return Offices(
        ids=[r.id for r in rows], municipality=[r.municipality_code for r in rows],
        counters=np.array([r.counters for r in rows], dtype=np.int32),
        where=np.array([[r.latitude, r.longitude] for r in rows], dtype=np.float64).reshape(-1, 2),
    )  # fmt: skip


def _targets(session: Session, definition: RuleDefinition, start: date) -> list[tuple[object, ...]]:
    """(person id, municipality, expiry of the document to replace) per person matched."""
    matches = compile_rule(definition, start).subquery()
    rows = session.execute(
        select(Person.id, Person.municipality_code, Document.expires_on)
        .join(matches, matches.c.person_id == Person.id)
        .join(Document, Document.id == matches.c.fact_id)
        .order_by(Person.id, Document.expires_on)
    ).all()
    earliest: dict[object, tuple[object, ...]] = {}
    for row in rows:  # several documents (id card and licence): the first to expire counts
        earliest.setdefault(row[0], tuple(row))
    return list(earliest.values())


def _last_municipality(session: Session, person_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Where persons abroad last lived: the `from` of their latest move abroad."""
    moves = session.execute(
        select(LifeEvent.person_id, LifeEvent.details)
        .where(LifeEvent.kind == "move", LifeEvent.person_id.in_(person_ids))
        .order_by(LifeEvent.occurred_on)
    ).all()
    found: dict[uuid.UUID, str] = {}
    for person_id, details in moves:
        if "abroad_country" in (details.get("to") or {}) and details.get("from"):
            found[person_id] = details["from"]
    return found


def _origins(session: Session, municipalities: list[str]) -> np.ndarray:
    where = {code: row for code, row in session.execute(select(Municipality.code, Municipality))}
    return np.array(
        [[where[m].latitude or np.nan, where[m].longitude or np.nan] for m in municipalities]
    )


def build_instance(
    session: Session, *, definition: RuleDefinition, start: date, holidays: Collection[date],
    capacity: Capacity, no_show_buffer: float = 0.1, depth: int = 4,
) -> Campaign:  # fmt: skip
    """The wave instance of a mandated-replacement rule from `start` to the rule's deadline."""
    trigger = definition.trigger
    if not isinstance(trigger, MandatedReplacement):
        raise ValueError(f"{definition.code} is not a mandated replacement")
    days = inputs.working_days(start, trigger.deadline, holidays)
    offices = mvr_offices(session)
    targets = _targets(session, definition, start)
    ids = [t[0] for t in targets]  # type: ignore[misc]
    abroad = np.array([t[1] is None for t in targets], dtype=bool)
    last = _last_municipality(session, [i for i, a in zip(ids, abroad, strict=True) if a])
    homes = [t[1] or last.get(t[0], CAPITAL) for t in targets]  # type: ignore[call-overload]
    towns, town_of = np.unique(np.array(homes, dtype=object), return_inverse=True)
    office_of = {m: i for i, m in enumerate(offices.municipality)}
    by_town, distance_by_town = inputs.nearest_offices(  # per municipality, then per person
        home=np.array([office_of.get(m, -1) for m in towns], dtype=np.int64),
        origin=_origins(session, list(towns)).reshape(-1, 2), offices=offices.where,
        depth=min(depth, max(len(offices.ids), 1)),
    )  # fmt: skip
    candidates, distance = by_town[town_of.reshape(-1)], distance_by_town[town_of.reshape(-1)]
    candidates[abroad, 1:], distance[abroad] = -1, 0.0  # visiting: their own office only
    summer = inputs.summer_window(days)
    raw = capacity(offices, days) if callable(capacity) else capacity
    expires = np.array([t[2] for t in targets], dtype="datetime64[D]")
    instance = WaveInstance(
        days=days, capacity=usable_capacity(raw, no_show_buffer), candidates=candidates,
        distance_km=distance, weight=inputs.urgency_weight(expires, start=start, deadline=trigger.deadline),
        earliest=np.where(abroad, summer[0], 0).astype(np.int32),
        latest=np.where(abroad, summer[1], len(days) - 1).astype(np.int32),
    )  # fmt: skip
    return Campaign(instance=instance, person_ids=ids, offices=offices)  # type: ignore[arg-type]
