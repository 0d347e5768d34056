"""Officers' pages: the department's day at the counters, and the marks made there.

The other officer pages (waiting work, finding a person, the supervisors' dashboard) live in
`officer_*.py` beside this one and are mounted on this router.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import get_settings
from navreme.identity import queries as identity
from navreme.identity.models import Department
from navreme.identity.principal import Principal
from navreme.registry.models import Person
from navreme.rules.queries import service_names
from navreme.scheduling import actions, queries
from navreme.scheduling.models import Appointment, AppointmentItem, Counter, Office
from navreme.web import i18n, labels, officer_dashboard, officer_persons, officer_waiting
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.officer_common import EXPIRED, offices_for, refuse, signed_in_officer, to_login
from navreme.web.pages import CsrfField, csrf_ok, language_of, render

router = APIRouter(include_in_schema=False)
router.include_router(officer_waiting.router)
router.include_router(officer_persons.router)
router.include_router(officer_dashboard.router)

MARKS = {"check-in": "check_in", "done": "done", "no-show": "no_show"}  # URL word → action
BUTTONS = (
    ("check-in", N_("Check in")), ("done", N_("Done")), ("no-show", N_("No-show")),
)  # fmt: skip
NOTICES = {
    "check_in": N_("Checked in."),
    "done": N_("Marked done."),
    "no_show": N_("Marked as a no-show. No free slot was found to offer the person again."),
    "no_show_again": N_("Marked as a no-show. The person was offered a new slot at this office."),
}
NOT_STARTED = N_("This visit has not started yet, so it cannot be marked done or as a no-show.")
WRONG_STATE = N_("This visit is already %(status)s, so it cannot be marked that way.")
BAD_DAY = N_("Enter the date as year-month-day, for example 2026-03-02.")


@dataclass
class Line:
    """One person and service on a visit, as the counter sees it."""

    person_id: uuid.UUID
    name: str
    service: str
    action: str


@dataclass
class Visit:
    appointment: Appointment
    lines: list[Line] = field(default_factory=list)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        status = self.appointment.status
        return [(word, text) for word, text in BUTTONS
                if status in actions.OFFICE_TRANSITIONS[MARKS[word]][0]]  # fmt: skip


def _visits(session: Session, appointments: list[Appointment], language: str) -> list[Visit]:
    visits = {a.id: Visit(a) for a in appointments}
    items = list(session.scalars(
        select(AppointmentItem).where(AppointmentItem.appointment_id.in_(visits))
        .order_by(AppointmentItem.id)
    )) if visits else []  # fmt: skip
    person_ids = {i.person_id for i in items}
    names = {
        p.id: f"{p.given_name} {p.family_name}"
        for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))
    } if person_ids else {}  # fmt: skip
    services = service_names(session, language)  # type: ignore[arg-type]
    for item in items:
        visits[item.appointment_id].lines.append(Line(
            item.person_id, names.get(item.person_id, ""),
            services.get(item.service_code, item.service_code), item.action,
        ))  # fmt: skip
    return list(visits.values())


def _by_counter(
    session: Session, office: Office, visits: list[Visit]
) -> list[tuple[int, list[Visit]]]:
    query = select(Counter.id, Counter.number).where(Counter.office_id == office.id)
    numbers = {counter_id: number for counter_id, number in session.execute(query)}
    grouped: dict[int, list[Visit]] = {}
    for visit in sorted(visits, key=lambda v: v.appointment.starts_at):
        grouped.setdefault(numbers.get(visit.appointment.counter_id, 0), []).append(visit)
    return sorted(grouped.items())


def _department_section(session: Session, principal: Principal, language: str) -> dict[str, object]:
    if principal.id is None or principal.department_id is None:
        raise ValueError("an officer principal always has an id and a department")
    department = session.get(Department, principal.department_id)
    return {
        "officer": identity.get_officer_for(session, principal, principal.id),
        "department_name": getattr(department, f"name_{language}", "") if department else "",
        "colleagues": identity.officers_of_department(session, principal, principal.department_id),
    }


def _today_page(
    request: Request, session: Session, principal: Principal, *, office_code: str | None,
    day: date, status: int = 200, error: str | None = None, **extra: object,
) -> Response:  # fmt: skip
    settings = get_settings()
    language = language_of(request, principal)
    offices = offices_for(session, principal)
    office = next((o for o in offices if o.code == office_code), None) if office_code else None
    if office_code and office is None:
        return refuse(request, session, principal, action="office.day", status=404,
                      object_kind="office")  # fmt: skip
    office = office or (offices[0] if offices else None)
    counters = []
    if office is not None:
        found = queries.office_day(session, office, day, settings.timezone)
        counters = _by_counter(session, office, _visits(session, found, language))
    return render(
        request, "officer/today.html", principal, status=status, error=error,
        offices=offices, office=office, day=day, counters=counters,
        is_today=day == clock.today(settings.timezone),
        notice=NOTICES.get(request.query_params.get("done", "")),
        **_department_section(session, principal, language), **extra,
    )  # fmt: skip


@router.get("/officer", response_class=HTMLResponse)
def today(
    request: Request, session: DB,
    office: Annotated[str | None, Query(max_length=32)] = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:  # fmt: skip
    """The office's day by counter and time, with the marks the counter makes."""
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    shown, error = clock.today(get_settings().timezone), None
    if day:
        try:
            shown = date.fromisoformat(day)
        except ValueError:
            error = BAD_DAY
    return _today_page(request, session, principal, office_code=office, day=shown,
                       status=422 if error else 200, error=error, asked_day=day)  # fmt: skip


def _wrong_transition(
    appointment: Appointment, what: str, language: str
) -> tuple[str, dict[str, str]]:
    """Why the mark was refused, in words the counter understands."""
    if what in ("no_show", "done") and appointment.starts_at > clock.now():
        return NOT_STARTED, {}
    status = i18n.translator(language)(labels.label("appointment_status", appointment.status))
    return WRONG_STATE, {"status": status.lower()}


@router.post("/officer/appointments/{appointment_id}/{mark}", response_class=HTMLResponse)
def mark_visit(
    appointment_id: uuid.UUID, mark: str, request: Request, session: DB,
    csrf: CsrfField = "",
) -> Response:  # fmt: skip
    """Check in, done or no-show — the API's marks, audited by the same action."""
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    if not csrf_ok(request, principal, csrf):  # first: a forged form learns nothing
        return _today_page(request, session, principal, office_code=None,
                           day=clock.today(get_settings().timezone), status=403,
                           error=EXPIRED)  # fmt: skip
    what = MARKS.get(mark)
    found = session.get(Appointment, appointment_id) if what else None
    office = session.get(Office, found.office_id) if found else None
    if what is None or found is None or office is None or not queries.works_at(principal, office):
        return refuse(request, session, principal, action=f"appointment.{what or 'mark'}",
                      status=404, object_kind="appointment", object_id=appointment_id)  # fmt: skip
    day = clock.local(found.starts_at, get_settings().timezone).date()
    try:
        again = actions.mark(session, get_settings(), principal, found, what)
    except actions.SchedulingError as error:
        language = language_of(request, principal)
        message, values = _wrong_transition(found, what, language)
        return _today_page(request, session, principal, office_code=office.code, day=day,
                           status=error.status, error=message, error_values=values)  # fmt: skip
    done = "no_show_again" if what == "no_show" and again else what
    return RedirectResponse(
        f"/officer?office={office.code}&day={day.isoformat()}&done={done}", status_code=303
    )
