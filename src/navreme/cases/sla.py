"""SLA supervision: which open cases are on time, at risk or breached, and escalating them.

Two clocks, on the working calendar (`calendar`): while a case waits to be accepted (triage,
new) its `accept_due_at` counts; once accepted (accepted, in_progress) its `resolve_due_at`.
A resolved case waits for review and its clock has stopped. "At risk" is the last quarter of
the working time allowed by the category's policy.

The sweep is set-wise: `due <= add_working_time(now, quarter of the allowed span)` is the
same test as "three quarters of the working time used" (working time is monotone), so one
cut-off per (clock, policy) decides every case with one SQL statement; only the rows whose
state changes are touched. A case that becomes at risk, and again when breached, is escalated
to its department's supervisors once per state: an `escalated` event that the supervision view
(`at_risk_cases`) and the dashboard read. Officers have no messaging endpoints, so nobody is
messaged.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, insert, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases import calendar
from navreme.cases.models import Case, CaseCategory, CaseEvent
from navreme.cases.queries import visible_to
from navreme.config import get_settings
from navreme.identity.principal import Principal

DEFAULT_ACCEPT_HOURS, DEFAULT_RESOLVE_DAYS = 8, 10  # as intake uses for uncategorised cases
ACCEPT_CLOCK = ("triage", "new")
RESOLVE_CLOCK = ("accepted", "in_progress")
ESCALATED_STATES = ("at_risk", "breached")


@dataclass(frozen=True)
class Clock:
    statuses: tuple[str, ...]
    due: InstrumentedAttribute[datetime | None]
    span: timedelta  # the working time the policy allows
    codes: tuple[str | None, ...]  # categories with this policy (None: no category)


@dataclass
class Sweep:
    changed: dict[str, int] = field(default_factory=dict)  # new state → cases
    escalated: int = 0


def _where() -> dict[str, str]:
    settings = get_settings()
    return {"zone": settings.timezone, "country": settings.country}


def _clocks(session: Session) -> list[Clock]:
    """One clock per (accept/resolve, policy span), with the categories that share it."""
    accept: dict[timedelta, list[str | None]] = defaultdict(list)
    resolve: dict[timedelta, list[str | None]] = defaultdict(list)
    accept[timedelta(hours=DEFAULT_ACCEPT_HOURS)].append(None)
    resolve[calendar.WORKING_DAY * DEFAULT_RESOLVE_DAYS].append(None)
    for code, hours, days in session.execute(
        select(CaseCategory.code, CaseCategory.accept_hours, CaseCategory.resolve_days)
    ):
        accept[timedelta(hours=hours)].append(code)
        resolve[calendar.WORKING_DAY * days].append(code)
    return [Clock(ACCEPT_CLOCK, Case.accept_due_at, span, tuple(codes))
            for span, codes in accept.items()] + [
        Clock(RESOLVE_CLOCK, Case.resolve_due_at, span, tuple(codes))
        for span, codes in resolve.items()
    ]  # fmt: skip


def _in_categories(codes: tuple[str | None, ...]) -> ColumnElement[bool]:
    named = [code for code in codes if code is not None]
    clauses = [Case.category_code.in_(named)] if named else []
    if None in codes:
        clauses.append(Case.category_code.is_(None))
    return or_(*clauses)


def _state_expression(one: Clock, now: datetime) -> ColumnElement[str]:
    cutoff = calendar.add_working_time(
        now, one.span * (1 - calendar.AT_RISK_SHARE), **_where()
    )  # fmt: skip
    return case(
        (one.due <= now, "breached"), (one.due <= cutoff, "at_risk"), else_="on_time"
    )  # fmt: skip


def state_of(session: Session, case_row: Case, now: datetime) -> str:
    """The SLA state of one case now (what the sweep would set)."""
    clocks = [c for c in _clocks(session) if case_row.status in c.statuses]
    for one in clocks:
        if case_row.category_code in one.codes:
            due = getattr(case_row, one.due.key)
            cutoff = calendar.add_working_time(
                now, one.span * (1 - calendar.AT_RISK_SHARE), **_where()
            )  # fmt: skip
            return "breached" if due <= now else "at_risk" if due <= cutoff else "on_time"
    return case_row.sla_state  # a clock that has stopped keeps its last state


def supervise(session: Session, *, now: datetime | None = None) -> Sweep:
    """Recompute `sla_state` of open cases whose state changed; escalate new at-risk and
    breached ones once per state. Idempotent: a second run at the same moment changes nothing."""
    now = now or clock.now()
    result = Sweep()
    for one in _clocks(session):
        state = _state_expression(one, now)
        rows = session.execute(
            select(Case.id, Case.department_id, state.label("state")).where(
                Case.status.in_(one.statuses),
                _in_categories(one.codes),
                one.due.is_not(None),
                Case.sla_state != state,
            )  # fmt: skip
        ).all()
        for target in {row.state for row in rows}:
            ids = [row.id for row in rows if row.state == target]
            session.execute(
                update(Case).where(Case.id.in_(ids)).values(sla_state=target, updated_at=now),
                execution_options={"synchronize_session": False},
            )  # fmt: skip
            result.changed[target] = result.changed.get(target, 0) + len(ids)
        result.escalated += _escalate(session, [r for r in rows if r.state != "on_time"], now)
    if result.changed:
        record(session, action="case.sla_sweep", actor_kind="system", object_kind="case",
               details={"changed": result.changed, "escalated": result.escalated})  # fmt: skip
    session.flush()
    return result


def _escalate(session: Session, rows: list, now: datetime) -> int:  # type: ignore[type-arg]
    """An `escalated` event per case and state, unless that state was escalated before."""
    if not rows:
        return 0
    ids = [row.id for row in rows]
    before = {
        (event.case_id, event.details.get("state"))
        for event in session.scalars(
            select(CaseEvent).where(CaseEvent.kind == "escalated", CaseEvent.case_id.in_(ids))
        )
    }
    fresh = [row for row in rows if (row.id, row.state) not in before]
    if fresh:  # one multi-row INSERT, not an ORM object per event
        events = [
            {"id": uuid.uuid4(), "case_id": row.id, "at": now, "kind": "escalated",
             "actor_kind": "system", "department_id": row.department_id, "public": False,
             "details": {"state": row.state, "to": "supervisors"}}
            for row in fresh
        ]  # fmt: skip
        session.execute(insert(CaseEvent), events)
    return len(fresh)


def at_risk_cases(session: Session, principal: Principal, *, limit: int = 200) -> list[Case]:
    """The supervision view: open cases the principal may see that are at risk or breached,
    breached first, then the earliest deadline."""
    where = visible_to(principal)
    if where is None:
        return []
    deadline = case(
        (Case.status.in_(ACCEPT_CLOCK), Case.accept_due_at), else_=Case.resolve_due_at
    )  # fmt: skip
    query = select(Case).where(
        where,
        Case.status.in_((*ACCEPT_CLOCK, *RESOLVE_CLOCK)),
        Case.sla_state.in_(ESCALATED_STATES),
    )
    order = (Case.sla_state.desc(), deadline, Case.id)  # "breached" sorts before "at_risk"
    return list(session.scalars(query.order_by(*order).limit(limit)))


def escalations_for(session: Session, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Which states each case was escalated for (for the supervision view)."""
    found: dict[uuid.UUID, list[str]] = defaultdict(list)
    if not case_ids:
        return found
    for event in session.scalars(
        select(CaseEvent)
        .where(and_(CaseEvent.kind == "escalated", CaseEvent.case_id.in_(case_ids)))
        .order_by(CaseEvent.at)
    ):
        found[event.case_id].append(str(event.details.get("state")))
    return found


def run(session: Session) -> Sweep:
    """The periodic task's body (every five minutes)."""
    return supervise(session, now=clock.now())


def queue(
    session: Session, principal: Principal, *, statuses: tuple[str, ...] | None = None,
    sla_states: tuple[str, ...] | None = None, limit: int = 100,
) -> list[Case]:  # fmt: skip
    """An officer's queue: the cases they may see, filtered, the most urgent deadline first.
    (`queries.cases_for` with an SLA filter; it belongs there once the lead moves it.)"""
    where = visible_to(principal)
    if where is None:
        return []
    query = select(Case).where(where)
    if statuses:
        query = query.where(Case.status.in_(statuses))
    if sla_states:
        query = query.where(Case.sla_state.in_(sla_states))
    return list(session.scalars(query.order_by(Case.accept_due_at, Case.id).limit(limit)))
