"""Citizens' appointment pages, all working without JavaScript: their own and their wards'
appointments, booking one visit for several people, confirming a held slot, moving, cancelling.

Routes are thin: they read through `queries.get_appointment_for` and the registry's getters and
change things only through `scheduling.actions`, inside a savepoint, so a refused booking leaves
nothing behind and the page comes back with the reason and fresh free times.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.catalogue.queries import unknown_services
from navreme.config import Settings, get_settings
from navreme.planning.portfolio import PlannedVisit, PortfolioPlan
from navreme.registry import queries as registry
from navreme.registry.models import Person
from navreme.rules.models import OPEN_OFFER_STATUSES
from navreme.rules.queries import offers_for, service_names
from navreme.scheduling import actions, plans, queries
from navreme.scheduling.models import Appointment, AppointmentItem, Office
from navreme.scheduling.queries import Need, VisitItem
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.pages import (
    Citizen,
    CsrfField,
    csrf_ok,
    language_of,
    render,
    render_error,
    signed_in_citizen,
)

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]
Chosen = Annotated[list[str] | None, Form(max_length=9)]
SLOT_DAYS = 3  # days of free times on one page; "show later times" pages on by date
SLOTS_PER_DAY = 8  # the earliest times of each day, across the nearest offices
NEAREST_OFFICES = 5
UPCOMING = ("held", "booked", "checked_in")
CHANGEABLE = ("held", "booked")
SIGN_IN = "/login/citizen"

NOTICES = {
    "booked": N_("Your appointment is booked."),
    "confirmed": N_("Your appointment is confirmed."),
    "moved": N_("Your appointment was moved to the new time."),
    "cancelled": N_("Your appointment is cancelled."),
}
EXPIRED_FORM = N_("The form expired. Please try again.")
NO_SLOT_CHOSEN = N_("Please choose one of the free times.")
NO_PERSON_CHOSEN = N_("Please choose at least one person for the visit.")
UNKNOWN_SERVICE = N_("Please choose a service from the list.")
SLOT_TAKEN = N_("Someone else just took that time. Please choose one of the free times below.")
NOT_BOOKABLE = N_("That time cannot be booked for this visit. Please choose another free time.")
HOLD_LAPSED = N_("The time held for you has lapsed. Please book a new time.")
WRONG_STATE = N_("This appointment can no longer be changed this way.")


# --- who is asking ------------------------------------------------------------------------------


def family(session: Session, person: Person) -> list[Person]:
    """The citizen and the living minors in their care: the people one visit can cover."""
    wards = [
        ward
        for _link, ward in registry.wards_of(session, person.id)
        if ward.death_date is None and registry.is_minor(ward)
    ]
    return [person, *wards]


def not_found(
    request: Request, session: Session, citizen: Citizen, object_id: object,
    object_kind: str = "appointment",
) -> HTMLResponse:  # fmt: skip
    """Audit the refusal the way the API does, then say "not here" (never "not yours")."""
    record(
        session, action=f"{object_kind}.view", actor_kind=citizen.principal.audit_kind,
        actor_id=citizen.principal.id, object_kind=object_kind,
        object_id=str(object_id)[:64], outcome="denied",
    )  # fmt: skip
    return render_error(request, status=404)


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


# --- free times, grouped by day and office ------------------------------------------------------


@dataclass(frozen=True)
class SlotGroup:
    """Free start times of one office on one local day, for a fieldset of radio buttons."""

    day: date
    office: Office
    distance_km: float | None
    starts: tuple[datetime, ...]


@dataclass(frozen=True)
class FreeTimes:
    groups: list[SlotGroup]
    later: date | None  # the day "show later times" starts from; None past the horizon


def slot_value(office: Office, starts_at: datetime) -> str:
    """What a slot's radio button sends: office code and UTC start."""
    return f"{office.code}|{starts_at.astimezone(UTC).isoformat()}"


def parse_slot(session: Session, value: str) -> tuple[Office, datetime] | None:
    code, _, moment = value.partition("|")
    try:
        starts_at = datetime.fromisoformat(moment)
    except ValueError:
        return None
    if starts_at.tzinfo is None:
        return None
    office = session.scalar(select(Office).where(Office.code == code))
    return (office, starts_at) if office is not None else None


def home_point(session: Session, person: Person) -> tuple[float, float] | None:
    if person.municipality_code is None:
        return None
    return queries.municipality_point(session, person.municipality_code)


def _group(found: list[queries.FreeSlot], day: date, zone: str) -> list[SlotGroup]:
    by_office: dict[str, list[queries.FreeSlot]] = {}
    for slot in found:
        if clock.local(slot.starts_at, zone).date() == day:
            by_office.setdefault(slot.office.code, []).append(slot)
    return [
        SlotGroup(day, slots[0].office, slots[0].distance_km, tuple(s.starts_at for s in slots))
        for slots in sorted(
            by_office.values(), key=lambda s: (s[0].distance_km or 0.0, s[0].office.code)
        )
    ]


def free_times(
    session: Session, settings: Settings, need: Need, *, near: tuple[float, float] | None,
    from_day: date | None,
) -> FreeTimes:  # fmt: skip
    """The earliest free times of up to SLOT_DAYS days from `from_day`, across nearby offices
    (the query the API's GET /slots uses), grouped by day and office."""
    zone = settings.timezone
    last_day = clock.today(zone) + timedelta(days=settings.booking_horizon_days)
    after = max(clock.now(), clock.local_midnight(from_day, zone)) if from_day else clock.now()
    groups: list[SlotGroup] = []
    for _ in range(SLOT_DAYS):
        found = queries.free_slots(
            session, need, near=near, after=after, horizon_days=settings.booking_horizon_days,
            limit=SLOTS_PER_DAY, max_offices=NEAREST_OFFICES, zone=zone, country=settings.country,
        )  # fmt: skip
        day = clock.local(found[0].starts_at, zone).date() if found else None
        if day is None or day > last_day:
            return FreeTimes(groups, None)
        groups += _group(found, day, zone)
        after = clock.local_midnight(day + timedelta(days=1), zone)
    later = clock.local(after, zone).date()
    return FreeTimes(groups, later if later <= last_day else None)


def later_link(
    path: str, later: date | None, kept: list[tuple[str, str]] | None = None
) -> str | None:
    """`path` showing free times from `later` on, with the other choices (service, people)."""
    if later is None:
        return None
    return f"{path}?{urlencode([*(kept or []), ('from', later.isoformat())])}"


def _from_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


# --- appointments as the pages show them --------------------------------------------------------


@dataclass(frozen=True)
class AppointmentCard:
    appointment: Appointment
    office: Office
    items: list[AppointmentItem]

    @property
    def changeable(self) -> bool:
        return self.appointment.status in CHANGEABLE and self.appointment.starts_at > clock.now()

    @property
    def services(self) -> list[str]:
        return sorted({item.service_code for item in self.items})


def card(session: Session, appointment: Appointment) -> AppointmentCard:
    return AppointmentCard(
        appointment,
        session.get_one(Office, appointment.office_id),
        queries.items_of(session, appointment.id),
    )


def family_appointments(session: Session, people: list[Person]) -> list[Appointment]:
    """Every appointment any of `people` is on, by start."""
    found: dict[uuid.UUID, Appointment] = {}
    for person in people:
        for appointment in queries.appointments_of(session, person.id):
            found.setdefault(appointment.id, appointment)
    return sorted(found.values(), key=lambda a: a.starts_at)


def upcoming(session: Session, people: list[Person]) -> list[AppointmentCard]:
    """The family's appointments still to come (held, booked, checked in), soonest first."""
    now = clock.now()
    return [
        card(session, a)
        for a in family_appointments(session, people)
        if a.status in UPCOMING and a.ends_at > now
    ]


def names_of(people: list[Person]) -> dict[uuid.UUID, str]:
    return {p.id: f"{p.given_name} {p.family_name}" for p in people}


def _page(
    request: Request, session: Session, citizen: Citizen, template: str, *, status: int = 200,
    **context: Any,
) -> HTMLResponse:  # fmt: skip
    people = family(session, citizen.person)
    language = language_of(request, citizen.principal)
    return render(
        request, template, citizen.principal, status=status, me=citizen.person.id,
        names=names_of(people), services=service_names(session, language),  # type: ignore[arg-type]
        notice=NOTICES.get(request.query_params.get("done", "")), **context,
    )  # fmt: skip


# --- the list and one appointment ---------------------------------------------------------------


@router.get("/me/appointments", response_class=HTMLResponse)
def appointments(request: Request, session: DB) -> Response:
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    now = clock.now()
    every = [
        card(session, a) for a in family_appointments(session, family(session, citizen.person))
    ]
    coming = [c for c in every if c.appointment.status in UPCOMING and c.appointment.ends_at > now]
    coming_ids = {c.appointment.id for c in coming}
    earlier = [c for c in reversed(every) if c.appointment.id not in coming_ids]
    return _page(request, session, citizen, "citizen/appointments.html",
                 coming=coming, earlier=earlier)  # fmt: skip


def _appointment(session: Session, citizen: Citizen, appointment_id: str) -> Appointment | None:
    found = _uuid(appointment_id)
    return queries.get_appointment_for(session, citizen.principal, found) if found else None


def _failure(error: actions.SchedulingError, appointment: Appointment | None = None) -> str:
    if appointment is not None and appointment.status == "expired":
        return HOLD_LAPSED
    if isinstance(error, actions.SlotTaken):
        return SLOT_TAKEN
    return WRONG_STATE if isinstance(error, actions.WrongState) else NOT_BOOKABLE


def book_again_link(shown: AppointmentCard) -> str:
    """The booking page for the same people and first service (after a lapse or a cancel)."""
    people = sorted({str(i.person_id) for i in shown.items})
    query = [("service", shown.services[0]), ("who", "1"), *(("person", p) for p in people)]
    return f"/me/appointments/new?{urlencode(query)}"


def _detail(
    request: Request, session: Session, citizen: Citizen, appointment: Appointment, *,
    status: int = 200, error: str | None = None, from_day: date | None = None,
) -> HTMLResponse:  # fmt: skip
    shown = card(session, appointment)
    times = None
    if shown.changeable:
        items = [VisitItem(i.person_id, i.service_code, i.action, i.offer_id) for i in shown.items]
        times = free_times(session, get_settings(), Need.of(items),
                           near=home_point(session, citizen.person), from_day=from_day)  # fmt: skip
    path = f"/me/appointments/{appointment.id}"
    return _page(
        request, session, citizen, "citizen/appointment.html", status=status, error=error,
        card=shown, times=times, slot_value=slot_value,
        later=later_link(path, times.later) if times else None,
        again=book_again_link(shown) if shown.services else None,
    )  # fmt: skip


# --- booking a visit for one or several people --------------------------------------------------


@dataclass(frozen=True)
class VisitChoice:
    """What the booking page was asked for, checked: the service, the offer, who comes."""

    people: list[Person]
    service: str | None = None
    offer_id: uuid.UUID | None = None
    chosen: tuple[uuid.UUID, ...] = ()
    items: tuple[VisitItem, ...] = ()
    problem: str | None = None  # a text for the person (the page answers 422)
    foreign_offer: bool = False  # not an open offer to them or their wards (404)


def choose_visit(
    session: Session, citizen: Citizen, language: str, *, service: str | None,
    offer: str | None, persons: list[str] | None,
) -> VisitChoice:  # fmt: skip
    """Who comes for what: the offer's service and person (or `service` and the citizen),
    narrowed to `persons` of the family when given; each person's open offer is linked."""
    people = family(session, citizen.person)
    visible = offers_for(session, citizen.principal, citizen.person.id, language) or []  # type: ignore[arg-type]
    open_offers = [o for o in visible if o.status in OPEN_OFFER_STATUSES]
    default = [citizen.person.id]
    offer_id = None
    if offer:
        found = next((o for o in open_offers if str(o.id) == offer), None)
        if found is None:
            return VisitChoice(people, foreign_offer=True)
        service, offer_id, default = found.service.code, found.id, [found.person_id]
    if not service:
        return VisitChoice(people)
    if unknown_services(session, [service]):
        return VisitChoice(people, problem=UNKNOWN_SERVICE)
    in_family = {p.id for p in people}
    asked = [_uuid(value) for value in persons] if persons is not None else default
    chosen = tuple(p for p in dict.fromkeys(asked) if p in in_family)
    if not chosen:
        return VisitChoice(people, service, offer_id, problem=NO_PERSON_CHOSEN)
    linked = {(o.person_id, o.service.code): o.id for o in open_offers}
    items = tuple(VisitItem(p, service, "apply", linked.get((p, service))) for p in chosen)
    return VisitChoice(people, service, offer_id, chosen, items)


def _book_page(
    request: Request, session: Session, citizen: Citizen, choice: VisitChoice, *,
    from_day: date | None = None, status: int = 200, error: str | None = None,
) -> HTMLResponse:  # fmt: skip
    if choice.foreign_offer:
        return not_found(request, session, citizen, request.query_params.get("offer"), "offer")
    times = None
    if choice.items and not choice.problem:
        times = free_times(session, get_settings(), Need.of(choice.items),
                           near=home_point(session, citizen.person), from_day=from_day)  # fmt: skip
    kept = [("service", choice.service or ""), ("who", "1"),
            *(("person", str(p)) for p in choice.chosen)]  # fmt: skip
    if choice.offer_id:
        kept = [("offer", str(choice.offer_id)), *kept[1:]]
    problem = error or choice.problem
    return _page(
        request, session, citizen, "citizen/appointment_new.html",
        status=422 if choice.problem and status == 200 else status, error=problem, choice=choice, times=times,
        slot_value=slot_value,
        later=later_link("/me/appointments/new", times.later, kept) if times else None,
    )  # fmt: skip


@router.get("/me/appointments/new", response_class=HTMLResponse)
def new_appointment(
    request: Request, session: DB,
    service: Annotated[str | None, Query(max_length=48)] = None,
    offer: Annotated[str | None, Query(max_length=64)] = None,
    person: Annotated[list[str] | None, Query(max_length=9)] = None,
    who: Annotated[str | None, Query(max_length=1)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
) -> Response:  # fmt: skip
    """Choose who comes (the citizen, their minor wards) and a free time."""
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    language = language_of(request, citizen.principal)
    choice = choose_visit(session, citizen, language, service=service, offer=offer,
                          persons=person or ([] if who else None))  # fmt: skip
    return _book_page(request, session, citizen, choice, from_day=_from_day(from_))


@router.post("/me/appointments", response_class=HTMLResponse)
def book(
    request: Request, session: DB, csrf: CsrfField = "",
    service: Annotated[str, Form(max_length=48)] = "",
    offer: Annotated[str, Form(max_length=64)] = "",
    person: Chosen = None,
    slot: Annotated[str, Form(max_length=120)] = "",
) -> Response:  # fmt: skip
    """Book the chosen free time for everyone chosen (one visit; its length is the action's)."""
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    language = language_of(request, citizen.principal)
    choice = choose_visit(session, citizen, language, service=service or None,
                          offer=offer or None, persons=person or [])  # fmt: skip
    if not csrf_ok(request, citizen.principal, csrf):
        return _book_page(request, session, citizen, choice, status=403, error=EXPIRED_FORM)
    if choice.foreign_offer or choice.problem:
        return _book_page(request, session, citizen, choice)
    picked = parse_slot(session, slot)
    if picked is None:
        return _book_page(request, session, citizen, choice, status=422, error=NO_SLOT_CHOSEN)
    office, starts_at = picked
    try:
        with session.begin_nested():
            made = actions.make_appointment(
                session, get_settings(), citizen.principal, office=office, starts_at=starts_at,
                items=choice.items,
            )  # fmt: skip
    except actions.SchedulingError as error:
        return _book_page(request, session, citizen, choice, status=error.status,
                          error=_failure(error))  # fmt: skip
    return RedirectResponse(f"/me/appointments/{made.id}?done=booked", status_code=303)


# --- one appointment: see it, confirm, move, cancel, add it to a calendar -----------------------


@router.get("/me/appointments/{appointment_id}", response_class=HTMLResponse)
def appointment(
    appointment_id: str, request: Request, session: DB,
    from_: Annotated[str | None, Query(alias="from", max_length=10)] = None,
) -> Response:  # fmt: skip
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    found = _appointment(session, citizen, appointment_id)
    if found is None:
        return not_found(request, session, citizen, appointment_id)
    return _detail(request, session, citizen, found, from_day=_from_day(from_))


@router.get("/me/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel_form(appointment_id: str, request: Request, session: DB) -> Response:
    """Are you sure? (a confirmation step that needs no JavaScript)."""
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    found = _appointment(session, citizen, appointment_id)
    if found is None:
        return not_found(request, session, citizen, appointment_id)
    return _page(request, session, citizen, "citizen/appointment_cancel.html",
                 card=card(session, found))  # fmt: skip


def _change(
    request: Request, session: Session, appointment_id: str, csrf: str, *,
    change: Any, done: str, savepoint: bool = True,
) -> Response:  # fmt: skip
    """Check who asks and the form, apply `change(citizen, appointment)`, then redirect; on a
    refusal the appointment's page again with the reason and fresh free times."""
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    found = _appointment(session, citizen, appointment_id)
    if not csrf_ok(request, citizen.principal, csrf):  # before anything is written
        if found is None:
            return render_error(request, status=403, message=EXPIRED_FORM)
        return _detail(request, session, citizen, found, status=403, error=EXPIRED_FORM)
    if found is None:
        return not_found(request, session, citizen, appointment_id)
    try:
        if savepoint:
            with session.begin_nested():
                change(citizen, found)
        else:
            change(citizen, found)
    except actions.SchedulingError as error:
        session.refresh(found)
        return _detail(request, session, citizen, found, status=error.status,
                       error=_failure(error, found))  # fmt: skip
    except _NoSlot:
        return _detail(request, session, citizen, found, status=422, error=NO_SLOT_CHOSEN)
    if done == "cancelled":
        return RedirectResponse("/me/appointments?done=cancelled", status_code=303)
    return RedirectResponse(f"/me/appointments/{found.id}?done={done}", status_code=303)


class _NoSlot(Exception):
    """The move form came without a usable slot."""


@router.post("/me/appointments/{appointment_id}/confirm", response_class=HTMLResponse)
def confirm(appointment_id: str, request: Request, session: DB, csrf: CsrfField = "") -> Response:
    """A held time becomes a booking; a lapsed hold is expired (kept: no savepoint)."""
    return _change(request, session, appointment_id, csrf, done="confirmed",
                   savepoint=False,
                   change=lambda c, a: actions.confirm(session, c.principal, a))  # fmt: skip


@router.post("/me/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel(appointment_id: str, request: Request, session: DB, csrf: CsrfField = "") -> Response:
    return _change(request, session, appointment_id, csrf, done="cancelled",
                   change=lambda c, a: actions.cancel(session, get_settings(), c.principal, a))  # fmt: skip


@router.post("/me/appointments/{appointment_id}/move", response_class=HTMLResponse)
def move(
    appointment_id: str, request: Request, session: DB, csrf: CsrfField = "",
    slot: Annotated[str, Form(max_length=120)] = "",
) -> Response:  # fmt: skip
    """Move to one of the free times shown (same appointment, the old time freed once won)."""

    def change(citizen: Citizen, found: Appointment) -> Appointment:
        picked = parse_slot(session, slot)
        if picked is None:
            raise _NoSlot
        office, starts_at = picked
        return actions.reschedule(session, get_settings(), citizen.principal, found,
                                  starts_at=starts_at, office=office)  # fmt: skip

    return _change(request, session, appointment_id, csrf, done="moved", change=change)


@router.get("/me/appointments/{appointment_id}/invite.ics")
def invite(appointment_id: str, request: Request, session: DB) -> Response:
    """The appointment for a calendar app (the API's invite: same UID, growing SEQUENCE)."""
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    found = _appointment(session, citizen, appointment_id)
    if found is None:
        return not_found(request, session, citizen, appointment_id)
    cancelled = found.status in ("cancelled", "expired")
    return Response(
        plans.invite_for(session, get_settings(), found),
        media_type="text/calendar; charset=utf-8; method=" + ("CANCEL" if cancelled else "REQUEST"),
        headers={"Content-Disposition": 'attachment; filename="navreme-appointment.ics"'},
    )


# --- the portfolio plan on "My services" --------------------------------------------------------


@dataclass(frozen=True)
class PlanVisit:
    visit: PlannedVisit
    appointment: AppointmentCard | None  # the time held (or booked) for it, if any


def plan_view(session: Session, person: Person) -> tuple[PortfolioPlan, list[PlanVisit]]:
    """The fewest-visit plan (as the API's GET /persons/{id}/plan) with the time held or booked
    for each visit, matched by the offers and actions on it."""
    plan = plans.plan_for(session, get_settings(), person)
    taken: dict[tuple[uuid.UUID, str], AppointmentCard] = {}
    for shown in upcoming(session, family(session, person)):
        for item in shown.items:
            if item.offer_id is not None:
                taken.setdefault((item.offer_id, item.action), shown)
    visits = []
    for visit in plan.visits:
        keys = [(i.offer_id, i.action) for i in visit.items if i.offer_id is not None]
        visits.append(PlanVisit(visit, next((taken[k] for k in keys if k in taken), None)))
    return plan, visits


@router.post("/me/plan/hold", response_class=HTMLResponse)
def hold_plan(request: Request, session: DB, csrf: CsrfField = "") -> Response:
    """Hold a time for every visit of the plan (the API's POST /persons/{id}/plan/hold)."""
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    if not csrf_ok(request, citizen.principal, csrf):
        return render_error(request, status=403, message=EXPIRED_FORM)
    settings = get_settings()
    portfolio = plans.plan_for(session, settings, citizen.person)
    plans.hold_plan(session, settings, citizen.principal, citizen.person, portfolio)
    return RedirectResponse("/me?done=held", status_code=303)
