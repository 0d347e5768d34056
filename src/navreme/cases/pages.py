"""Request pages, working without JavaScript.

Citizens: their requests (`/me/cases`), a new one (`/me/cases/new`, posted to `/me/cases` with
a one-time token so that a double submit makes one case), and one request with its public
history, the rating form and the re-open button (`/me/cases/{reference}`).
Officers: the department's queue (`/officer/cases`), the triage queue for supervisors
(`/officer/cases/triage`) and one case with its whole history and the handling steps as forms
(`/officer/cases/{id}`).

Reads go through `cases.queries` (the one access rule); intake through `cases.actions.receive`;
every handling step through `cases.handling`, inside a savepoint, so a refused step leaves
nothing behind and the page comes back with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases import actions, handling, queries
from navreme.cases.models import (
    CASE_STATUSES,
    OPEN_STATUSES,
    SLA_STATES,
    Case,
    CaseCategory,
    CaseEvent,
    CaseTask,
)
from navreme.identity.models import Department
from navreme.identity.principal import Principal
from navreme.registry.models import Municipality
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.officer_common import may, refuse, signed_in_officer, to_login
from navreme.web.pages import (
    CsrfField,
    csrf_ok,
    language_of,
    render,
    render_error,
    signed_in_citizen,
)

router = APIRouter(include_in_schema=False)
Short = Annotated[str, Form(max_length=300)]
Long = Annotated[str, Form(max_length=20_000)]
MAX_TEXT = 4000  # characters of a request, as the form says
MAX_NOTE = 2000
QUEUE_LIMIT = 200
SUPERVISORS = ("supervisor",)
SIGN_IN = "/login/citizen"

NOTICES = {
    "received": N_("Thank you. We received your request. You can follow it on this page."),
    "rated": N_("Thank you for your rating."),
    "reopened": N_("Your request is open again. The department will look at it once more."),
    "accept": N_("The case is accepted."),
    "reject": N_("The case is rejected; the person is told why."),
    "transfer": N_("The case is transferred."),
    "task": N_("The task is added."),
    "note": N_("The note is added."),
    "resolve": N_("The case is resolved and waits for review."),
    "classify": N_("The case is classified and routed."),
}
FORM_GONE = N_("The form expired. Please try again.")
NO_TEXT = N_("Please describe your request.")
TEXT_TOO_LONG = N_("Your request is too long. Please shorten it to 4000 characters or fewer.")
NO_MUNICIPALITY = N_("Please choose your municipality from the list.")
NO_CATEGORY = N_("Please choose a category from the list, or “I don't know”.")
NO_RATING = N_("Please choose a rating from 1 to 5.")
NO_REASON = N_("Please write why you re-open the request.")
NEEDS_TEXT = N_("Please fill in the text of this form.")
NO_DEPARTMENT = N_("Please choose a department from the list.")
BAD_DAYS = N_("Please give the days as a whole number from 1 to 60.")
REFUSED = N_("This case cannot be changed this way now. Please look at it again.")
NOT_ALLOWED = N_("You may not take this step on this case.")
ONLY_SUPERVISORS = N_("Only supervisors see the triage queue.")

# What the citizen reads for each status: plain words, no codes.
CITIZEN_STATUS = {
    "triage": N_("Received: we are finding the right department"),
    "new": N_("Received: waiting for the department"),
    "accepted": N_("Accepted: the department is working on it"),
    "in_progress": N_("In progress"),
    "resolved": N_("Answered: being checked"),
    "closed": N_("Closed"),
    "rejected": N_("Not taken up"),
    "merged": N_("Joined with another of your requests"),
}
OFFICER_STATUS = {
    "triage": N_("Triage"),
    "new": N_("New"),
    "accepted": N_("Accepted"),
    "in_progress": N_("In progress"),
    "resolved": N_("Resolved, to review"),
    "closed": N_("Closed"),
    "rejected": N_("Rejected"),
    "merged": N_("Merged"),
}
# SLA states with a text symbol as well as words (never colour alone).
SLA = {
    "on_time": ("✓", N_("On time")),
    "at_risk": ("!", N_("At risk")),
    "breached": ("✗", N_("Overdue")),
}
EVENT_WORDS = {
    "received": N_("Request received"),
    "classified": N_("Category chosen"),
    "routed": N_("Sent to the department"),
    "accepted": N_("Accepted by the department"),
    "rejected": N_("Not taken up"),
    "transferred": N_("Passed to another department"),
    "note": N_("Note"),
    "task_added": N_("Task added"),
    "task_done": N_("Task done"),
    "resolved": N_("Answered"),
    "reviewed": N_("Reviewed"),
    "closed": N_("Closed"),
    "reopened": N_("Opened again"),
    "merged": N_("Joined with another request"),
    "escalated": N_("Escalated"),
    "rated": N_("Rated"),
}


# --- shared -------------------------------------------------------------------------------------


def category_name(category: CaseCategory | None, language: str) -> str | None:
    if category is None:
        return None
    return {"mk": category.name_mk, "sq": category.name_sq}.get(language, category.name_en)


def municipality_name(municipality: Municipality | None, language: str) -> str | None:
    if municipality is None:
        return None
    return municipality.name_mk if language == "mk" else municipality.name


def department_name(department: Department, language: str) -> str:
    return {"mk": department.name_mk, "sq": department.name_sq}.get(language, department.name_en)


def _categories(session: Session, *, public_only: bool = True) -> list[CaseCategory]:
    query = select(CaseCategory).where(CaseCategory.active.is_(True))
    if public_only:
        query = query.where(CaseCategory.public.is_(True))
    return list(session.scalars(query.order_by(CaseCategory.group, CaseCategory.code)))


def _municipalities(session: Session) -> list[Municipality]:
    return list(session.scalars(select(Municipality).order_by(Municipality.name)))


def _departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.code)))


def _events(session: Session, case_id: uuid.UUID, *, public_only: bool) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id)
    if public_only:
        query = query.where(CaseEvent.public.is_(True))
    return list(session.scalars(query.order_by(CaseEvent.at, CaseEvent.id)))


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _denied(
    request: Request, session: Session, principal: Principal, object_id: object
) -> HTMLResponse:
    """Audit the refusal as the API does, then say "not here" (never "not yours")."""
    record(
        session, action="case.view", actor_kind=principal.audit_kind, actor_id=principal.id,
        object_kind="case", object_id=str(object_id)[:64], outcome="denied",
    )  # fmt: skip
    session.commit()
    return render_error(request, status=404)


def _handle(
    step: str, session: Session, case: Case, principal: Principal, **values: Any
) -> str | None:
    """Run `cases.handling.<step>` in a savepoint; the error text to show, or None when done."""
    action: Callable[..., Any] = getattr(handling, step)
    try:
        with session.begin_nested():
            action(session, case, actor=principal, **values)
    except handling.NotAllowed:
        return NOT_ALLOWED
    except (handling.HandlingError, actions.CaseError):
        return REFUSED
    return None


# --- citizens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitizenRow:
    case: Case
    category: str | None
    status: str
    expectation: str | None  # N_ text with %(day)s
    due: datetime | None
    latest: CaseEvent | None


def _expectation(case: Case) -> tuple[str | None, datetime | None]:
    """What the citizen may expect next, in plain words, and by when."""
    if case.status in ("triage", "new"):
        return N_("The department will take it up by %(day)s."), case.accept_due_at
    if case.status in ("accepted", "in_progress"):
        return N_("We aim to answer by %(day)s."), case.resolve_due_at
    if case.status == "resolved":
        return N_("We answered; a supervisor checks the answer before closing."), None
    return None, None


def _citizen_rows(session: Session, principal: Principal, language: str) -> list[CitizenRow]:
    where = queries.visible_to(principal)
    if where is None:
        return []
    cases = list(session.scalars(select(Case).where(where).order_by(Case.created_at.desc())
                                 .limit(QUEUE_LIMIT)))  # fmt: skip
    ids = [case.id for case in cases]
    latest: dict[uuid.UUID, CaseEvent] = {}
    if ids:
        query = select(CaseEvent).where(CaseEvent.case_id.in_(ids), CaseEvent.public.is_(True))
        for event in session.scalars(query.order_by(CaseEvent.at, CaseEvent.id)):
            latest[event.case_id] = event
    names = {c.code: category_name(c, language) for c in session.scalars(select(CaseCategory))}
    rows = []
    for case in cases:
        words, due = _expectation(case)
        rows.append(CitizenRow(case, names.get(case.category_code or ""),
                               CITIZEN_STATUS[case.status], words, due, latest.get(case.id)))  # fmt: skip
    return rows


@router.get("/me/cases", response_class=HTMLResponse)
def my_cases(request: Request, session: DB) -> Response:
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    language = language_of(request, citizen.principal)
    return render(
        request, "cases/mine.html", citizen.principal, here="/me/cases",
        rows=_citizen_rows(session, citizen.principal, language),
        event_words=EVENT_WORDS, notice=NOTICES.get(request.query_params.get("done", "")),
    )  # fmt: skip


def _new_form(
    request: Request, session: Session, principal: Principal, *, status: int = 200,
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
    default_municipality: str | None = None,
) -> HTMLResponse:  # fmt: skip
    language = language_of(request, principal)
    chosen = dict(values or {})
    chosen.setdefault("municipality", default_municipality or "")
    return render(
        request, "cases/new.html", principal, status=status, here="/me/cases",
        categories=[(c.code, category_name(c, language)) for c in _categories(session)],
        municipalities=[(m.code, municipality_name(m, language))
                        for m in _municipalities(session)],
        errors=errors or {}, values=chosen, request_id=chosen.get("request_id") or uuid.uuid4(),
        max_text=MAX_TEXT,
    )  # fmt: skip


@router.get("/me/cases/new", response_class=HTMLResponse)
def new_case(request: Request, session: DB) -> Response:
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    return _new_form(request, session, citizen.principal,
                     default_municipality=citizen.person.municipality_code)  # fmt: skip


def _new_case_problems(
    session: Session, *, text: str, category: str, municipality: str
) -> dict[str, str]:
    errors = {}
    if not text.strip():
        errors["text"] = NO_TEXT
    elif len(text.strip()) > MAX_TEXT:
        errors["text"] = TEXT_TOO_LONG
    if category:
        found = session.get(CaseCategory, category)
        if found is None or not found.active or not found.public:
            errors["category"] = NO_CATEGORY
    if not municipality or session.get(Municipality, municipality) is None:
        errors["municipality"] = NO_MUNICIPALITY
    return errors


@router.post("/me/cases", response_class=HTMLResponse)
def submit_case(
    request: Request, session: DB,
    csrf: CsrfField = "",
    text: Long = "",
    category: Short = "",
    municipality: Short = "",
    address: Short = "",
    request_id: Short = "",
) -> Response:  # fmt: skip
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    principal, person = citizen.principal, citizen.person
    values = {"text": text, "category": category, "municipality": municipality,
              "address": address, "request_id": request_id}  # fmt: skip
    if not csrf_ok(request, principal, csrf):
        return _new_form(request, session, principal, status=403, values=values,
                         errors={"form": FORM_GONE})  # fmt: skip
    token = _uuid(request_id)
    errors = _new_case_problems(session, text=text, category=category, municipality=municipality)
    if token is None:
        errors["form"] = FORM_GONE
        values["request_id"] = ""
    if errors:
        return _new_form(request, session, principal, status=422, values=values, errors=errors)
    submission = actions.Submission(
        text=text.strip(), channel="web", person_id=person.id,
        # the form's one-time token, per person: another person's token can never match
        idempotency_key=f"web:{person.id}:{token}", category_code=category or None,
        municipality_code=municipality, address=address.strip() or None,
        language=language_of(request, principal),
    )  # fmt: skip
    try:
        made = actions.receive(session, submission, actor=principal)
    except actions.CaseError:
        return _new_form(request, session, principal, status=422, values=values,
                         errors={"form": REFUSED})  # fmt: skip
    return RedirectResponse(f"/me/cases/{made.case.reference}?done=received", status_code=303)


def _citizen_case_page(
    request: Request, session: Session, principal: Principal, case: Case, *, status: int = 200,
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    language = language_of(request, principal)
    now = clock.now()
    words, due = _expectation(case)
    category = session.get(CaseCategory, case.category_code) if case.category_code else None
    return render(
        request, "cases/case.html", principal, status=status, here="/me/cases", case=case,
        category=category_name(category, language), status_words=CITIZEN_STATUS[case.status],
        expectation=words, due=due, events=_events(session, case.id, public_only=True),
        event_words=EVENT_WORDS, municipality=municipality_name(
            session.get(Municipality, case.municipality_code) if case.municipality_code
            else None, language),
        may_rate=case.status == "closed" and case.rating is None,
        may_reopen=case.status == "closed" and case.reopen_until is not None
        and case.reopen_until > now,
        errors=errors or {}, values=values or {},
        notice=NOTICES.get(request.query_params.get("done", "")),
    )  # fmt: skip


def _own_case(
    request: Request, session: Session, reference: str
) -> tuple[Principal, Case] | Response:
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    case = queries.get_case_by_reference_for(session, citizen.principal, reference[:20])
    if case is None:
        return _denied(request, session, citizen.principal, reference)
    return citizen.principal, case


@router.get("/me/cases/{reference}", response_class=HTMLResponse)
def my_case(reference: str, request: Request, session: DB) -> Response:
    found = _own_case(request, session, reference)
    if isinstance(found, Response):
        return found
    principal, case = found
    return _citizen_case_page(request, session, principal, case)


@router.post("/me/cases/{reference}/rating", response_class=HTMLResponse)
def rate_case(
    reference: str, request: Request, session: DB,
    csrf: CsrfField = "",
    rating: Short = "",
    comment: Long = "",
) -> Response:  # fmt: skip
    found = _own_case(request, session, reference)
    if isinstance(found, Response):
        return found
    principal, case = found
    values = {"rating": rating, "comment": comment}
    if not csrf_ok(request, principal, csrf):
        return _citizen_case_page(request, session, principal, case, status=403, values=values,
                                  errors={"rating": FORM_GONE})  # fmt: skip
    if rating not in ("1", "2", "3", "4", "5"):
        return _citizen_case_page(request, session, principal, case, status=422, values=values,
                                  errors={"rating": NO_RATING})  # fmt: skip
    problem = _handle("rate", session, case, principal, rating=int(rating),
                      comment=comment.strip()[:MAX_NOTE] or None)  # fmt: skip
    if problem is not None:
        return _citizen_case_page(request, session, principal, case, status=409, values=values,
                                  errors={"rating": problem})  # fmt: skip
    return RedirectResponse(f"/me/cases/{case.reference}?done=rated", status_code=303)


@router.post("/me/cases/{reference}/reopen", response_class=HTMLResponse)
def reopen_case(
    reference: str, request: Request, session: DB,
    csrf: CsrfField = "",
    reason: Long = "",
) -> Response:  # fmt: skip
    found = _own_case(request, session, reference)
    if isinstance(found, Response):
        return found
    principal, case = found
    values = {"reason": reason}
    if not csrf_ok(request, principal, csrf):
        return _citizen_case_page(request, session, principal, case, status=403, values=values,
                                  errors={"reason": FORM_GONE})  # fmt: skip
    if not reason.strip() or len(reason) > MAX_NOTE:
        return _citizen_case_page(request, session, principal, case, status=422, values=values,
                                  errors={"reason": NO_REASON})  # fmt: skip
    problem = _handle("reopen", session, case, principal, reason=reason.strip())
    if problem is not None:
        return _citizen_case_page(request, session, principal, case, status=409, values=values,
                                  errors={"reason": problem})  # fmt: skip
    return RedirectResponse(f"/me/cases/{case.reference}?done=reopened", status_code=303)


# --- officers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    case: Case
    category: str | None
    department: str | None
    sla: tuple[str, str]
    due: datetime | None


def _queue(
    session: Session, principal: Principal, language: str, *, statuses: tuple[str, ...],
    sla: str = "", category: str = "",
) -> list[QueueRow]:  # fmt: skip
    where = queries.visible_to(principal)
    if where is None:
        return []
    query = select(Case).where(where, Case.status.in_(statuses))
    if sla in SLA_STATES:
        query = query.where(Case.sla_state == sla)
    if category:
        query = query.where(Case.category_code == category)
    cases = session.scalars(query.order_by(Case.accept_due_at, Case.id).limit(QUEUE_LIMIT))
    names = {c.code: category_name(c, language) for c in session.scalars(select(CaseCategory))}
    departments = {d.id: department_name(d, language) for d in session.scalars(select(Department))}
    return [
        QueueRow(case, names.get(case.category_code or ""), departments.get(case.department_id),
                 SLA[case.sla_state], case.accept_due_at if case.status in ("triage", "new")
                 else case.resolve_due_at)
        for case in cases
    ]  # fmt: skip


def _officer(request: Request, session: Session) -> Principal | Response:
    principal = signed_in_officer(request, session)
    return to_login() if principal is None else principal


@router.get("/officer/cases", response_class=HTMLResponse)
def queue(
    request: Request, session: DB, status: str = "", sla: str = "", category: str = ""
) -> Response:
    principal = _officer(request, session)
    if isinstance(principal, Response):
        return principal
    language = language_of(request, principal)
    statuses = (status,) if status in CASE_STATUSES else OPEN_STATUSES
    rows = _queue(session, principal, language, statuses=statuses, sla=sla, category=category)
    return render(
        request, "cases/queue.html", principal, here="/officer/cases", rows=rows,
        triage=False, status_words=OFFICER_STATUS, sla_states=SLA,
        categories=[(c.code, category_name(c, language))
                    for c in _categories(session, public_only=False)],
        chosen={"status": status, "sla": sla, "category": category}, limit=QUEUE_LIMIT,
    )  # fmt: skip


@router.get("/officer/cases/triage", response_class=HTMLResponse)
def triage_queue(request: Request, session: DB) -> Response:
    principal = _officer(request, session)
    if isinstance(principal, Response):
        return principal
    if not may(principal, SUPERVISORS):
        return refuse(request, session, principal, action="access.cases.triage",
                      message=ONLY_SUPERVISORS)  # fmt: skip
    language = language_of(request, principal)
    rows = _queue(session, principal, language, statuses=("triage",))
    return render(
        request, "cases/queue.html", principal, here="/officer/cases", rows=rows, triage=True,
        status_words=OFFICER_STATUS, sla_states=SLA, categories=[], chosen={},
        limit=QUEUE_LIMIT,
    )  # fmt: skip


def _officer_case_page(
    request: Request, session: Session, principal: Principal, case: Case, *, status: int = 200,
    errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    language = language_of(request, principal)
    category = session.get(CaseCategory, case.category_code) if case.category_code else None
    predicted = (
        session.get(CaseCategory, case.predicted_category) if case.predicted_category else None
    )
    departments = [(d.id, department_name(d, language)) for d in _departments(session)]
    names = dict(departments)
    tasks = list(session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)
                                 .order_by(CaseTask.created_at)))  # fmt: skip
    return render(
        request, "cases/officer_case.html", principal, status=status, here="/officer/cases",
        case=case, category=category_name(category, language),
        predicted=category_name(predicted, language), status_words=OFFICER_STATUS,
        sla=SLA[case.sla_state], events=_events(session, case.id, public_only=False),
        event_words=EVENT_WORDS, department_names=names, departments=departments, tasks=tasks,
        categories=[(c.code, category_name(c, language))
                    for c in _categories(session, public_only=False)],
        municipality=municipality_name(
            session.get(Municipality, case.municipality_code) if case.municipality_code
            else None, language),
        is_open=case.status in OPEN_STATUSES, errors=errors or {}, values=values or {},
        notice=NOTICES.get(request.query_params.get("done", "")),
    )  # fmt: skip


def _visible_case(
    request: Request, session: Session, case_id: str
) -> tuple[Principal, Case] | Response:
    principal = _officer(request, session)
    if isinstance(principal, Response):
        return principal
    parsed = _uuid(case_id)
    case = queries.get_case_for(session, principal, parsed) if parsed else None
    if case is None:
        return _denied(request, session, principal, case_id)
    return principal, case


@router.get("/officer/cases/{case_id}", response_class=HTMLResponse)
def officer_case(case_id: str, request: Request, session: DB) -> Response:
    found = _visible_case(request, session, case_id)
    if isinstance(found, Response):
        return found
    principal, case = found
    record(
        session, action="case.view", actor_kind=principal.audit_kind, actor_id=principal.id,
        object_kind="case", object_id=case.id,
    )  # fmt: skip
    return _officer_case_page(request, session, principal, case)


def _step_values(
    step: str, session: Session, form: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The handling step's arguments from the form, or the form's errors by field."""
    if step == "accept":
        return {}, {}
    text = form.get("text", "").strip()
    needs_text = step in ("reject", "note", "resolve", "task", "transfer")
    if needs_text and (not text or len(text) > MAX_NOTE):
        return {}, {"text": NEEDS_TEXT}
    if step == "reject":
        return {"reason": text}, {}
    if step == "note":
        return {"text": text, "public": form.get("public") == "yes"}, {}
    if step == "resolve":
        return {"resolution": text}, {}
    if step == "classify":
        code = form.get("category", "")
        if session.get(CaseCategory, code) is None:
            return {}, {"category": NO_CATEGORY}
        return {"category_code": code}, {}
    department = _uuid(form.get("department", ""))
    if department is None or session.get(Department, department) is None:
        return {}, {"department": NO_DEPARTMENT}
    if step == "transfer":
        return {"department_id": department, "note": text}, {}
    days = form.get("days", "")
    if not days.isdigit() or not 1 <= int(days) <= 60:  # noqa: PLR2004 - the form's range
        return {}, {"days": BAD_DAYS}
    return {"department_id": department, "title": text, "due_days": int(days)}, {}


# The officer's forms → the handling action each one calls.
STEPS = {"accept": "accept", "reject": "reject", "transfer": "transfer", "task": "add_task",
         "note": "add_note", "resolve": "resolve", "classify": "classify"}  # fmt: skip


@router.post("/officer/cases/{case_id}/{step}", response_class=HTMLResponse)
def officer_step(
    case_id: str, step: str, request: Request, session: DB,
    csrf: CsrfField = "",
    text: Long = "",
    department: Short = "",
    category: Short = "",
    days: Short = "",
    public: Short = "",
) -> Response:  # fmt: skip
    found = _visible_case(request, session, case_id)
    if isinstance(found, Response):
        return found
    principal, case = found
    if step not in STEPS:
        return render_error(request, status=404)
    form = {"text": text, "department": department, "category": category, "days": days,
            "public": public}  # fmt: skip
    values = {**form, "step": step}  # the template refills only this step's form
    if not csrf_ok(request, principal, csrf):
        return _officer_case_page(request, session, principal, case, status=403,
                                  errors={"form": FORM_GONE})  # fmt: skip
    arguments, errors = _step_values(step, session, form)
    if errors:
        errors = {f"{step}-{field}": message for field, message in errors.items()}
        return _officer_case_page(request, session, principal, case, status=422, values=values,
                                  errors=errors)  # fmt: skip
    problem = _handle(STEPS[step], session, case, principal, **arguments)
    if problem is not None:
        return _officer_case_page(request, session, principal, case, status=409,
                                  errors={"form": problem})  # fmt: skip
    return RedirectResponse(f"/officer/cases/{case.id}?done={step}", status_code=303)
