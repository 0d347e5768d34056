"""Cases for officers and citizens: the JSON API.

Officers work their department's queue: GET /cases, one case with its history and sub-tasks,
record a phone call or a counter visit (POST /cases), and take every handling step. Citizens
read their own cases (GET /persons/{id}/cases, GET /cases/{id}: public events only), re-open
and rate them. A case nobody may see answers 404 as if it did not exist; a step the principal
may not take on a case they see answers 403; both are audited. Wrong status → 409. Every POST
honours `Idempotency-Key`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.cases import handling, queries, schemas, sla
from navreme.cases.actions import CaseError, Submission, receive
from navreme.cases.models import CASE_STATUSES, SLA_STATES, Case, CaseEvent, CaseTask
from navreme.identity.principal import Principal
from navreme.registry.models import Person
from navreme.registry.schemas import error_responses
from navreme.web.deps import DB, SignedIn, deny, officer_with
from navreme.web.errors import ApiError, invalid_fields
from navreme.web.idempotency import run_once

router = APIRouter(prefix="/api/v1", tags=["cases"])

Handler = Annotated[Principal, Depends(officer_with(*handling.HANDLERS))]
Supervisor = Annotated[Principal, Depends(officer_with("supervisor"))]
Status = Literal[CASE_STATUSES]  # type: ignore[valid-type]
SlaState = Literal[SLA_STATES]  # type: ignore[valid-type]
STEP_ERRORS = error_responses(401, 403, 404, 409, 422)


def detail(session: Session, principal: Principal, case: Case) -> schemas.CaseDetailOut:
    """The case with its history; a citizen sees only what they were told (public events)."""
    events = select(CaseEvent).where(CaseEvent.case_id == case.id)
    if principal.is_citizen:
        events = events.where(CaseEvent.public.is_(True))
    tasks = [] if principal.is_citizen else session.scalars(
        select(CaseTask).where(CaseTask.case_id == case.id).order_by(CaseTask.created_at)
    )  # fmt: skip
    return schemas.CaseDetailOut(
        **schemas.case_out(case),
        events=[schemas.event_out(e) for e in session.scalars(events.order_by(CaseEvent.at))],
        tasks=[schemas.task_out(t) for t in tasks],
    )


def _case(session: Session, principal: Principal, case_id: uuid.UUID, action: str) -> Case:
    found = queries.get_case_for(session, principal, case_id)
    if found is None:
        raise deny(session, principal, action=f"case.{action}", object_kind="case",
                   object_id=case_id, status=404)  # fmt: skip
    return found


def _act(
    request: Request, session: Session, principal: Principal, case_id: uuid.UUID, body: Any,
    action: str, step: Callable[[Case], Any],
) -> Any:  # fmt: skip
    """Fetch the case (404), take the step once per Idempotency-Key, answer with the case."""
    case = _case(session, principal, case_id, action)

    def effect() -> schemas.CaseDetailOut:
        step(case)
        return detail(session, principal, case)

    try:
        return run_once(session, request, principal, body, effect)
    except handling.NotAllowed:
        session.rollback()
        raise deny(session, principal, action=f"case.{action}", object_kind="case",
                   object_id=case_id) from None  # fmt: skip
    except handling.HandlingError as error:
        raise ApiError(error.status, error.code, error.message) from error


# --- reading -----------------------------------------------------------------------------------


@router.get("/cases", responses=error_responses(401, 403))
def queue(
    session: DB,
    principal: Handler,
    status: Annotated[list[Status] | None, Query(max_length=8)] = None,
    sla_state: Annotated[list[SlaState] | None, Query(max_length=3)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[schemas.CaseOut]:
    """The officer's queue (their department, its sub-tasks; triage for supervisors), the
    earliest accept deadline first."""
    found = sla.queue(session, principal, statuses=tuple(status or ()),
                      sla_states=tuple(sla_state or ()), limit=limit)  # fmt: skip
    return [schemas.CaseOut(**schemas.case_out(c)) for c in found]


@router.get("/cases/at-risk", responses=error_responses(401, 403))
def at_risk(session: DB, principal: Supervisor) -> list[schemas.AtRiskOut]:
    """Supervision: open cases at risk or breached, breached first, with their escalations."""
    found = sla.at_risk_cases(session, principal)
    escalated = sla.escalations_for(session, [c.id for c in found])
    return [
        schemas.AtRiskOut(**schemas.case_out(c), escalated=escalated.get(c.id, [])) for c in found
    ]


@router.get("/cases/{case_id}", responses=error_responses(401, 404))
def one_case(case_id: uuid.UUID, session: DB, principal: SignedIn) -> schemas.CaseDetailOut:
    """One case with its events and sub-tasks (a citizen: their own, public events only)."""
    if principal.is_officer and not (principal.is_admin or principal.has_role(*handling.HANDLERS)):
        raise deny(session, principal, action="case.view", object_kind="case", object_id=case_id)
    return detail(session, principal, _case(session, principal, case_id, "view"))


@router.get("/persons/{person_id}/cases", responses=error_responses(401, 403, 404))
def person_cases(person_id: uuid.UUID, session: DB, principal: SignedIn) -> list[schemas.CaseOut]:
    """A citizen's own cases (an officer: those of the person their department may see)."""
    if principal.is_citizen and principal.id != person_id:
        raise deny(session, principal, action="case.list", object_kind="person",
                   object_id=person_id, status=404)  # fmt: skip
    if principal.is_officer and not (principal.is_admin or principal.has_role(*handling.HANDLERS)):
        raise deny(session, principal, action="case.list", object_kind="person",
                   object_id=person_id)  # fmt: skip
    where = queries.visible_to(principal)
    if where is None:
        return []
    found = session.scalars(
        select(Case).where(where, Case.person_id == person_id).order_by(Case.created_at.desc())
    )
    return [schemas.CaseOut(**schemas.case_out(c)) for c in found]


# --- recording a call or a visit -----------------------------------------------------------------


@router.post("/cases", status_code=201, responses=error_responses(401, 403, 422))
def record_case(body: schemas.CaseIn, request: Request, session: DB, principal: Handler) -> Any:
    """An officer records a phone call or a counter visit (for a person, or anonymous)."""
    if body.person_id is not None and session.get(Person, body.person_id) is None:
        raise invalid_fields([{"field": "body.person_id", "problem": "unknown person"}])
    key = request.headers.get("Idempotency-Key")

    def effect() -> schemas.CaseDetailOut:
        submission = Submission(
            text=body.text, channel=body.channel, person_id=body.person_id,
            category_code=body.category, municipality_code=body.municipality,
            address=body.address, language=body.language,
            idempotency_key=f"officer:{principal.id}:{key}" if key else None,
        )  # fmt: skip
        try:
            case = receive(session, submission, actor=principal).case
        except CaseError as error:
            raise ApiError(422, "invalid", str(error)) from error
        return detail(session, principal, case)

    return run_once(session, request, principal, body, effect, status_code=201)


# --- handling steps ----------------------------------------------------------------------------


@router.post("/cases/{case_id}/accept", responses=STEP_ERRORS)
def accept(case_id: uuid.UUID, request: Request, session: DB, principal: Handler) -> Any:
    return _act(request, session, principal, case_id, None, "accept",
                lambda c: handling.accept(session, c, actor=principal))  # fmt: skip


@router.post("/cases/{case_id}/reject", responses=STEP_ERRORS)
def reject(
    case_id: uuid.UUID, body: schemas.ReasonIn, request: Request, session: DB, principal: Handler
) -> Any:
    """Refuse the case; the reason is told to the citizen."""
    return _act(request, session, principal, case_id, body, "reject",
                lambda c: handling.reject(session, c, actor=principal, reason=body.reason))  # fmt: skip


@router.post("/cases/{case_id}/classify", responses=STEP_ERRORS)
def classify(
    case_id: uuid.UUID, body: schemas.ClassifyIn, request: Request, session: DB, principal: Handler
) -> Any:
    """From triage: pick the category (routing decides) or a department directly."""
    return _act(request, session, principal, case_id, body, "classify",
                lambda c: handling.classify(session, c, actor=principal,
                                            category_code=body.category,
                                            department_id=body.department_id))  # fmt: skip


@router.post("/cases/{case_id}/transfer", responses=STEP_ERRORS)
def transfer(
    case_id: uuid.UUID, body: schemas.TransferIn, request: Request, session: DB, principal: Handler
) -> Any:
    """Pass the case to another department with a note; it leaves this department's view."""
    return _act(request, session, principal, case_id, body, "transfer",
                lambda c: handling.transfer(session, c, actor=principal,
                                            department_id=body.department_id,
                                            note=body.note))  # fmt: skip


@router.post("/cases/{case_id}/tasks", responses=STEP_ERRORS)
def add_task(
    case_id: uuid.UUID, body: schemas.TaskIn, request: Request, session: DB, principal: Handler
) -> Any:
    """A sub-task for a department, due in working days."""
    return _act(request, session, principal, case_id, body, "task_add",
                lambda c: handling.add_task(session, c, actor=principal,
                                            department_id=body.department_id, title=body.title,
                                            due_days=body.due_days))  # fmt: skip


@router.post("/cases/{case_id}/tasks/{task_id}/done", responses=STEP_ERRORS)
def task_done(
    case_id: uuid.UUID, task_id: uuid.UUID, request: Request, session: DB, principal: Handler,
    body: schemas.TaskDoneIn | None = None,
) -> Any:  # fmt: skip
    def step(case: Case) -> None:
        task = session.get(CaseTask, task_id)
        if task is None or task.case_id != case.id:
            raise ApiError(404, "not_found", "No task here.")
        handling.complete_task(session, case, task, actor=principal,
                               note=body.note if body else None)  # fmt: skip

    return _act(request, session, principal, case_id, body, "task_done", step)


@router.post("/cases/{case_id}/notes", responses=STEP_ERRORS)
def add_note(
    case_id: uuid.UUID, body: schemas.NoteIn, request: Request, session: DB, principal: Handler
) -> Any:
    """A status note; `public: true` tells the citizen."""
    return _act(request, session, principal, case_id, body, "note",
                lambda c: handling.add_note(session, c, actor=principal, text=body.text,
                                            public=body.public))  # fmt: skip


@router.post("/cases/{case_id}/resolve", responses=STEP_ERRORS)
def resolve(
    case_id: uuid.UUID, body: schemas.ResolveIn, request: Request, session: DB, principal: Handler
) -> Any:
    return _act(request, session, principal, case_id, body, "resolve",
                lambda c: handling.resolve(session, c, actor=principal,
                                           resolution=body.resolution))  # fmt: skip


@router.post("/cases/{case_id}/review", responses=STEP_ERRORS)
def review(
    case_id: uuid.UUID, body: schemas.ReviewIn, request: Request, session: DB, principal: Supervisor
) -> Any:
    """A supervisor closes a resolved case (`approve: true`) or sends it back with a note."""
    return _act(request, session, principal, case_id, body, "review",
                lambda c: handling.review(session, c, actor=principal, approve=body.approve,
                                          note=body.note, reopen_days=body.reopen_days))  # fmt: skip


@router.post("/cases/{case_id}/reopen", responses=STEP_ERRORS)
def reopen(
    case_id: uuid.UUID, body: schemas.ReasonIn, request: Request, session: DB, principal: SignedIn
) -> Any:
    """The citizen re-opens a closed case inside its window (or an officer for them)."""
    return _act(request, session, principal, case_id, body, "reopen",
                lambda c: handling.reopen(session, c, actor=principal, reason=body.reason))  # fmt: skip


@router.post("/cases/{case_id}/merge", responses=STEP_ERRORS)
def merge(
    case_id: uuid.UUID, body: schemas.MergeIn, request: Request, session: DB, principal: Handler
) -> Any:
    """This case is the same matter as `into` (same person): it lives on there."""
    into = _case(session, principal, body.into, "merge")
    return _act(request, session, principal, case_id, body, "merge",
                lambda c: handling.merge(session, c, into=into, actor=principal))  # fmt: skip


@router.post("/cases/{case_id}/rate", responses=STEP_ERRORS)
def rate(
    case_id: uuid.UUID, body: schemas.RateIn, request: Request, session: DB, principal: SignedIn
) -> Any:
    """The citizen rates a closed case, 1–5, once."""
    return _act(request, session, principal, case_id, body, "rate",
                lambda c: handling.rate(session, c, actor=principal, rating=body.rating,
                                        comment=body.comment))  # fmt: skip
