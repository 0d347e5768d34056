"""Handling a case: every step an officer, a supervisor or the citizen takes, as one action.

Each action takes a case the caller already fetched through `queries.get_case_for` (so it is
visible to the actor), checks that the actor may take this step and that the case's status
allows it, then writes the change, an append-only `CaseEvent` and an audit entry in the caller's
transaction. Public events are told to the citizen (`notify.tell`).

    triage ─classify─▶ new ─accept─▶ accepted ─task─▶ in_progress ─resolve─▶ resolved
                        ▲  ◀─transfer─┘                                         │ review
                        └──────────────── reject ◀── (any open status)   ok ◀───┴──▶ back
    closed ─reopen (citizen, inside the window)─▶ accepted          closed ─rate (once)

Clocks (working time, `calendar`):
- accept clock: from receipt, the category's `accept_hours`. Classifying a triage case applies
  the category's policy from the moment of receipt: the citizen's wait counts from then.
- A transfer puts the case back to `new` in the receiving department and RESTARTS the accept
  clock there (that department could not accept a case it did not have); the resolve clock
  does NOT restart: passing a case around does not make the citizen wait longer.
- A re-open restarts the resolve clock (`resolve_days` from the re-opening): the department
  answered once on time and now gets a fresh, full window for the second answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases import calendar, notify, sla
from navreme.cases.actions import route
from navreme.cases.models import OPEN_STATUSES, Case, CaseCategory, CaseEvent, CaseTask
from navreme.config import get_settings
from navreme.identity.models import Department
from navreme.identity.principal import Principal

HANDLERS = ("officer", "supervisor")  # roles that handle cases (admins always may)
REOPEN_DAYS = 10  # working days the citizen may re-open a closed case
HANDLING = ("accepted", "in_progress")


class HandlingError(Exception):
    """A step that cannot be taken as asked; `status` and `code` are the HTTP answer."""

    status, code = 422, "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(HandlingError):
    status, code = 403, "forbidden"


class WrongStatus(HandlingError):
    status, code = 409, "wrong_status"


# --- who may -----------------------------------------------------------------------------------


def handles(actor: Principal, department_id: uuid.UUID | None) -> bool:
    """An officer of `department_id` with a handling role, or an administrator."""
    if actor.is_admin:
        return True
    return (
        actor.has_role(*HANDLERS)
        and department_id is not None
        and (actor.department_id == department_id)
    )


def supervises(actor: Principal, department_id: uuid.UUID | None) -> bool:
    if actor.is_admin:
        return True
    return (
        actor.has_role("supervisor")
        and department_id is not None
        and (actor.department_id == department_id)
    )


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise NotAllowed(f"You may not {what} this case.")


def _status(case: Case, allowed: tuple[str, ...], what: str) -> None:
    if case.status not in allowed:
        raise WrongStatus(f"A {case.status} case cannot be {what}.")


def _text(value: str | None, field: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise HandlingError(f"A {field} is required.")
    return cleaned


def _where() -> dict[str, str]:
    settings = get_settings()
    return {"zone": settings.timezone, "country": settings.country}


# --- the record of a step ------------------------------------------------------------------------


def _step(
    session: Session, case: Case, actor: Principal, kind: str, *, note: str | None = None,
    public: bool = False, details: dict[str, object] | None = None,
) -> CaseEvent:  # fmt: skip
    """The event, the audit entry and (public steps) the message to the citizen."""
    now = clock.now()
    case.updated_at = now
    event = CaseEvent(
        case_id=case.id, at=now, kind=kind, actor_kind=actor.audit_kind, actor_id=actor.id,
        department_id=case.department_id, note=note, public=public, details=details or {},
    )  # fmt: skip
    session.add(event)
    record(
        session, action=f"case.{kind}", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="case", object_id=case.id, details={"status": case.status, **(details or {})},
    )  # fmt: skip
    if public and kind in notify.TEMPLATES:
        notify.tell(session, case, kind, note=note or "")
    session.flush()
    return event


def _refresh_sla(session: Session, case: Case) -> None:
    case.sla_state = sla.state_of(session, case, clock.now())


# --- the steps ---------------------------------------------------------------------------------


def accept(session: Session, case: Case, *, actor: Principal) -> Case:
    """The department takes the case on; the accept clock stops, the resolve clock counts."""
    _require(handles(actor, case.department_id), "accept")
    _status(case, ("new",), "accepted")
    case.status, case.accepted_at = "accepted", clock.now()
    _refresh_sla(session, case)
    _step(session, case, actor, "accepted", public=True)
    return case


def reject(session: Session, case: Case, *, actor: Principal, reason: str) -> Case:
    """Refuse the case with a reason the citizen is told (not ours, not a request, abusive)."""
    allowed = handles(actor, case.department_id) or (
        case.status == "triage" and supervises(actor, actor.department_id)
    )
    _require(allowed, "reject")
    _status(case, ("triage", "new", *HANDLING), "rejected")
    reason = _text(reason, "reason")
    case.status, case.closed_at = "rejected", clock.now()
    _step(session, case, actor, "rejected", note=reason, public=True)
    return case


def classify(
    session: Session, case: Case, *, actor: Principal, category_code: str | None = None,
    department_id: uuid.UUID | None = None,
) -> Case:  # fmt: skip
    """Give a triage (or misrouted new) case its category and department: the category's
    routing rule decides unless a department is named directly."""
    in_triage = case.status == "triage"
    allowed = supervises(actor, actor.department_id) if in_triage else handles(
        actor, case.department_id
    )  # fmt: skip
    _require(allowed, "classify")
    _status(case, ("triage", "new"), "classified")
    category = _category(session, category_code) if category_code else None
    code = category.code if category else case.category_code
    target = department_id or (route(session, code, case.municipality_code) if code else None)
    if target is None:
        raise HandlingError("No department handles this category here: name one directly.")
    _department(session, target)
    case.category_code, case.classified_by = code, "officer"
    case.department_id, case.status = target, "new"
    _apply_policy(case, category or _category_or_none(session, code), since=case.created_at)
    _refresh_sla(session, case)
    _step(session, case, actor, "routed",
          details={"category": code, "department": str(target), "by": "officer"})  # fmt: skip
    return case


def transfer(
    session: Session, case: Case, *, actor: Principal, department_id: uuid.UUID, note: str
) -> Case:  # fmt: skip
    """Pass the case to another department; it (and who sees it) moves there, back to `new`."""
    _require(handles(actor, case.department_id), "transfer")
    _status(case, ("new", *HANDLING), "transferred")
    note = _text(note, "note")
    if department_id == case.department_id:
        raise HandlingError("The case is already with this department.")
    _department(session, department_id)
    now, previous = clock.now(), case.department_id
    category = _category_or_none(session, case.category_code)
    hours = category.accept_hours if category else 8
    case.department_id, case.status, case.accepted_at = department_id, "new", None
    case.accept_due_at = calendar.add_working_time(now, timedelta(hours=hours), **_where())
    _refresh_sla(session, case)
    _step(session, case, actor, "transferred", note=note, public=True,
          details={"from": str(previous), "to": str(department_id)})  # fmt: skip
    return case


def add_task(
    session: Session, case: Case, *, actor: Principal, department_id: uuid.UUID, title: str,
    due_days: int,
) -> CaseTask:  # fmt: skip
    """A piece of the case for a department (it then sees the case), due in working days."""
    _require(handles(actor, case.department_id), "add a task to")
    _status(case, HANDLING, "given tasks")
    if not 1 <= due_days <= 260:
        raise HandlingError("A task is due in 1 to 260 working days.")
    _department(session, department_id)
    task = CaseTask(
        id=uuid.uuid4(), case_id=case.id, department_id=department_id,
        title=_text(title, "title"), status="open", created_at=clock.now(),
        due_at=calendar.add_working_days(clock.now(), due_days, **_where()),
    )  # fmt: skip
    session.add(task)
    case.status = "in_progress"
    _step(session, case, actor, "task_added", note=task.title,
          details={"task": str(task.id), "department": str(department_id),
                   "due_at": task.due_at.isoformat()})  # fmt: skip
    return task


def complete_task(
    session: Session, case: Case, task: CaseTask, *, actor: Principal, note: str | None = None
) -> CaseTask:  # fmt: skip
    """The task's department (or the case's) says its piece is done."""
    if task.case_id != case.id:
        raise HandlingError("This task belongs to another case.")
    _require(handles(actor, task.department_id) or handles(actor, case.department_id),
             "complete a task of")  # fmt: skip
    if task.status != "open":
        raise WrongStatus(f"The task is already {task.status}.")
    _status(case, ("new", *HANDLING), "worked on")  # new: transferred, not yet accepted
    task.status, task.done_at, task.note = "done", clock.now(), (note or "").strip() or None
    _step(session, case, actor, "task_done", note=task.note, details={"task": str(task.id)})
    return task


def add_note(
    session: Session, case: Case, *, actor: Principal, text: str, public: bool = False
) -> CaseEvent:  # fmt: skip
    """A status note: public ones are told to the citizen; a task's department may add
    internal notes only."""
    own = handles(actor, case.department_id)
    task_department = actor.department_id is not None and _has_task(session, case, actor)
    _require(own or (task_department and not public), "add a note to")
    _status(case, OPEN_STATUSES, "noted")
    return _step(session, case, actor, "note", note=_text(text, "text"), public=public)


def resolve(session: Session, case: Case, *, actor: Principal, resolution: str) -> Case:
    """The department's answer, told to the citizen; waits for a supervisor's review."""
    _require(handles(actor, case.department_id), "resolve")
    _status(case, HANDLING, "resolved")
    if _open_tasks(session, case):
        raise WrongStatus("Sub-tasks are still open: complete them first.")
    answer = _text(resolution, "resolution")
    case.status, case.resolved_at, case.resolution = "resolved", clock.now(), answer
    _step(session, case, actor, "resolved", note=case.resolution, public=True)
    return case


def review(
    session: Session, case: Case, *, actor: Principal, approve: bool, note: str | None = None,
    reopen_days: int = REOPEN_DAYS,
) -> Case:  # fmt: skip
    """A supervisor closes a resolved case (the citizen may re-open it for `reopen_days`
    working days, and is asked to rate it) or sends it back to the handler with a note."""
    _require(supervises(actor, case.department_id), "review")
    _status(case, ("resolved",), "reviewed")
    if not approve:
        reason = _text(note, "note")
        case.status, case.resolved_at = "in_progress", None
        _step(session, case, actor, "reviewed", note=reason,
              details={"approved": False})  # fmt: skip
        return case
    now = clock.now()
    case.status, case.closed_at = "closed", now
    case.reopen_until = calendar.add_working_days(now, reopen_days, **_where())
    _step(session, case, actor, "reviewed", note=note, details={"approved": True})
    _step(session, case, actor, "closed", note=case.resolution, public=True,
          details={"reopen_until": case.reopen_until.isoformat()})  # fmt: skip
    return case


def reopen(session: Session, case: Case, *, actor: Principal, reason: str) -> Case:
    """The citizen (or an officer recording their call) re-opens a closed case inside the
    window; it goes back to `accepted` with a fresh resolve clock."""
    _require(_owns(actor, case) or handles(actor, case.department_id), "re-open")
    _status(case, ("closed",), "re-opened")
    reason, now = _text(reason, "reason"), clock.now()
    if case.reopen_until is None or now > case.reopen_until:
        raise WrongStatus("The time to re-open this case has passed; send a new request.")
    category = _category_or_none(session, case.category_code)
    days = category.resolve_days if category else 10
    case.status, case.accepted_at = "accepted", now
    case.closed_at = case.resolved_at = case.reopen_until = None
    case.rating = case.rating_comment = None  # the old rating stays in its `rated` event
    case.resolve_due_at = calendar.add_working_days(now, days, **_where())
    _refresh_sla(session, case)
    _step(session, case, actor, "reopened", note=reason, public=True)
    return case


def merge(session: Session, case: Case, *, into: Case, actor: Principal) -> Case:
    """`case` is the same matter as `into`, from the same person: it becomes `merged`, its
    events and tasks move to the survivor, which keeps both texts. Returns the survivor."""
    _require(handles(actor, into.department_id) and handles(actor, case.department_id), "merge")
    if case.id == into.id:
        raise HandlingError("A case cannot be merged into itself.")
    if not _same_sender(case, into):
        raise HandlingError("Only cases of the same person can be merged.")
    for each in (case, into):
        _status(each, OPEN_STATUSES, "merged")
    session.execute(update(CaseEvent).where(CaseEvent.case_id == case.id).values(case_id=into.id))
    session.execute(update(CaseTask).where(CaseTask.case_id == case.id).values(case_id=into.id))
    into.text = f"{into.text}\n\n— {case.reference}: {case.text}"
    case.status, case.merged_into_id, case.closed_at = "merged", into.id, clock.now()
    _step(session, case, actor, "merged", note=f"{case.reference} → {into.reference}",
          public=True, details={"into": into.reference})  # fmt: skip
    _step(session, into, actor, "merged", details={"from": case.reference})
    return into


def rate(
    session: Session, case: Case, *, actor: Principal, rating: int, comment: str | None = None
) -> Case:  # fmt: skip
    """The citizen rates the answer, 1–5, once, when the case is closed."""
    _require(_owns(actor, case), "rate")
    return _rate(session, case, actor=actor, rating=rating, comment=comment)


def rate_by_reply(session: Session, case: Case, *, actor: Principal, rating: int) -> Case:
    """The sender answered the closing message with a number: `cases.intake` matched the
    message's sender to the case (the same person, or the same anonymous contact)."""
    return _rate(session, case, actor=actor, rating=rating, comment=None)


def _rate(
    session: Session, case: Case, *, actor: Principal, rating: int, comment: str | None
) -> Case:  # fmt: skip
    _status(case, ("closed",), "rated")
    if case.rating is not None:
        raise WrongStatus("This case is already rated.")
    if not 1 <= rating <= 5:
        raise HandlingError("A rating is a number from 1 to 5.")
    case.rating, case.rating_comment = rating, (comment or "").strip()[:2000] or None
    _step(session, case, actor, "rated", note=case.rating_comment, details={"rating": rating})
    return case


# --- helpers -----------------------------------------------------------------------------------


def _owns(actor: Principal, case: Case) -> bool:
    return actor.is_citizen and actor.id is not None and actor.id == case.person_id


def _same_sender(one: Case, other: Case) -> bool:
    if one.person_id is not None:
        return one.person_id == other.person_id
    return one.contact_address is not None and (
        (one.contact_channel, one.contact_address) == (other.contact_channel, other.contact_address)
    )


def _has_task(session: Session, case: Case, actor: Principal) -> bool:
    found = session.scalar(
        select(CaseTask.id).where(
            CaseTask.case_id == case.id, CaseTask.department_id == actor.department_id
        )
    )
    return found is not None and actor.has_role(*HANDLERS)


def _open_tasks(session: Session, case: Case) -> list[CaseTask]:
    return list(
        session.scalars(
            select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.status == "open")
        )  # fmt: skip
    )


def _category(session: Session, code: str) -> CaseCategory:
    category = session.get(CaseCategory, code)
    if category is None or not category.active:
        raise HandlingError(f"Unknown category {code!r}.")
    return category


def _category_or_none(session: Session, code: str | None) -> CaseCategory | None:
    return session.get(CaseCategory, code) if code else None


def _department(session: Session, department_id: uuid.UUID) -> Department:
    found = session.get(Department, department_id)
    if found is None:
        raise HandlingError("Unknown department.")
    return found


def _apply_policy(case: Case, category: CaseCategory | None, *, since: datetime) -> None:
    hours = category.accept_hours if category else 8
    days = category.resolve_days if category else 10
    case.accept_due_at = calendar.add_working_time(since, timedelta(hours=hours), **_where())
    case.resolve_due_at = calendar.add_working_days(since, days, **_where())
