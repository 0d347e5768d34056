"""Reading cases, access-checked: who may see a case is decided here and only here.

- A citizen sees their own cases.
- An officer sees the cases of their department, and cases where their department has a
  sub-task. A transfer moves the case, so visibility moves with it.
- Supervisors and administrators also see the triage queue (cases no department holds yet);
  administrators see everything.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from navreme.cases.models import Case, CaseTask
from navreme.identity.principal import Principal


def visible_to(principal: Principal) -> ColumnElement[bool] | None:
    """The WHERE clause of the cases `principal` may see; None: none at all."""
    if principal.is_citizen and principal.id is not None:
        return Case.person_id == principal.id
    if not principal.is_officer or principal.department_id is None:
        return None
    if principal.is_admin:
        return Case.id.is_not(None)
    clauses: list[Any] = [
        Case.department_id == principal.department_id,
        Case.id.in_(
            select(CaseTask.case_id).where(CaseTask.department_id == principal.department_id)
        ),
    ]
    if principal.has_role("supervisor"):
        clauses.append(Case.status == "triage")
    return or_(*clauses)


def get_case_for(session: Session, principal: Principal, case_id: uuid.UUID) -> Case | None:
    """The case if `principal` may see it; None when it does not exist or they may not (the
    caller answers both with the same 404)."""
    where = visible_to(principal)
    if where is None:
        return None
    return session.scalar(select(Case).where(Case.id == case_id, where))


def get_case_by_reference_for(
    session: Session, principal: Principal, reference: str
) -> Case | None:
    where = visible_to(principal)
    if where is None:
        return None
    return session.scalar(select(Case).where(Case.reference == reference, where))


def cases_for(
    session: Session, principal: Principal, *, statuses: tuple[str, ...] | None = None,
    limit: int = 100,
) -> list[Case]:  # fmt: skip
    """The cases `principal` may see, the most urgent first (earliest accept deadline)."""
    where = visible_to(principal)
    if where is None:
        return []
    query = select(Case).where(where)
    if statuses is not None:
        query = query.where(Case.status.in_(statuses))
    return list(session.scalars(query.order_by(Case.accept_due_at, Case.id).limit(limit)))
