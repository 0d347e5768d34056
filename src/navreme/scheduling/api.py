"""Appointment JSON routes: free slots (anyone), holds and bookings (the person, a guardian, an
officer), the office's day and its check-in / done / no-show marks (officers of that office).

Every state-changing POST honours `Idempotency-Key`: a retry has its effect once.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.catalogue.queries import unknown_services
from navreme.config import get_settings
from navreme.identity.principal import Principal
from navreme.planning.portfolio import PlannedVisit, PortfolioPlan
from navreme.registry.models import Person
from navreme.registry.schemas import error_responses
from navreme.scheduling import actions, plans, queries
from navreme.scheduling.models import Appointment, Counter, Office, WaitlistEntry
from navreme.scheduling.queries import Need, VisitItem
from navreme.web.deps import DB, SignedIn, Who, deny
from navreme.web.errors import ApiError, invalid_fields
from navreme.web.idempotency import run_once

router = APIRouter(prefix="/api/v1", tags=["appointments"])

ServiceCode = Annotated[str, Field(min_length=1, max_length=48, pattern=r"^[a-z0-9-]+$")]


class OfficeOut(BaseModel):
    code: str
    name: str
    address: str
    municipality: str
    latitude: float | None
    longitude: float | None


class SlotOut(BaseModel):
    office: OfficeOut
    distance_km: float | None
    starts_at: datetime
    ends_at: datetime
    minutes: int


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: uuid.UUID
    service: ServiceCode
    action: Literal["apply", "collect"] = "apply"
    offer_id: uuid.UUID | None = None


class AppointmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: str = Field(min_length=1, max_length=32, description="office code, e.g. MVR-MK-814")
    starts_at: AwareDatetime = Field(description="a slot start from GET /slots")
    items: list[ItemIn] = Field(min_length=1, max_length=12, description="who comes for what")
    hold: bool = Field(default=False, description="hold the slot for a while instead of booking")


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: AwareDatetime
    office: str | None = Field(default=None, min_length=1, max_length=32)


class ItemOut(BaseModel):
    person_id: uuid.UUID
    service: str
    action: str
    offer_id: uuid.UUID | None
    minutes: int


class AppointmentOut(BaseModel):
    id: uuid.UUID
    status: str
    office: OfficeOut
    counter: int
    starts_at: datetime
    ends_at: datetime
    held_until: datetime | None
    sequence: int
    replaces_id: uuid.UUID | None
    items: list[ItemOut]


class MarkOut(BaseModel):
    appointment: AppointmentOut
    offered_again: AppointmentOut | None = None


class WaitlistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: uuid.UUID
    service: ServiceCode
    office: str | None = Field(default=None, min_length=1, max_length=32)
    before: AwareDatetime | None = None


class WaitlistOut(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    service: str
    office: str | None
    municipality: str | None
    before: datetime | None
    status: str
    appointment_id: uuid.UUID | None


def office_out(office: Office) -> OfficeOut:
    return OfficeOut(
        code=office.code, name=office.name, address=office.address,
        municipality=office.municipality_code, latitude=office.latitude,
        longitude=office.longitude,
    )  # fmt: skip


def appointment_out(session: Session, appointment: Appointment) -> AppointmentOut:
    office = session.get_one(Office, appointment.office_id)
    counter = session.get_one(Counter, appointment.counter_id)
    return AppointmentOut(
        id=appointment.id, status=appointment.status, office=office_out(office),
        counter=counter.number, starts_at=appointment.starts_at, ends_at=appointment.ends_at,
        held_until=appointment.held_until, sequence=appointment.sequence,
        replaces_id=appointment.replaces_id,
        items=[
            ItemOut(person_id=i.person_id, service=i.service_code, action=i.action,
                    offer_id=i.offer_id, minutes=i.minutes)  # fmt: skip
            for i in queries.items_of(session, appointment.id)
        ],
    )  # fmt: skip


def _failed(error: actions.SchedulingError) -> ApiError:
    return ApiError(error.status, error.code, error.message)


def _office(session: Session, code: str, field: str = "office") -> Office:
    office = session.scalar(select(Office).where(Office.code == code))
    if office is None:
        details = [{"field": f"body.{field}", "problem": f"unknown office {code!r}"}]
        raise invalid_fields(details)
    return office


def _known_services(session: Session, codes: set[str]) -> None:
    if unknown := unknown_services(session, codes):
        details = [{"field": "service", "problem": f"unknown service {code!r}"} for code in unknown]
        raise invalid_fields(details)


def _near(session: Session, principal: Principal, near: str | None) -> tuple[float, float] | None:
    if near is None:
        if principal.is_citizen and principal.id is not None:
            person = session.get(Person, principal.id)
            if person is not None and person.municipality_code:
                return queries.municipality_point(session, person.municipality_code)
        return None
    if near[:2].isalpha():  # a municipality code (ISO 3166-2, e.g. MK-814)
        point = queries.municipality_point(session, near)
        if point is None:
            raise ApiError(422, "invalid", f"Unknown municipality {near!r}.",
                           [{"field": "near", "problem": "unknown municipality code"}])  # fmt: skip
        return point
    try:
        lat, lon = (float(part) for part in near.split(","))
    except ValueError:
        lat = lon = float("nan")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ApiError(422, "invalid", "`near` is a municipality code (MK-814) or 'lat,lon'.",
                       [{"field": "near", "problem": "not a municipality code or lat,lon"}])  # fmt: skip
    return lat, lon


@router.get("/offices", responses=error_responses(422))
def offices(
    session: DB,
    service: Annotated[list[ServiceCode] | None, Query(max_length=8)] = None,
) -> list[OfficeOut]:
    """Offices, or those with a counter doing every `service` given."""
    if service:
        _known_services(session, set(service))
        found = queries.offices_offering(session, set(service))
    else:
        found = list(session.scalars(select(Office)))
    return [office_out(o) for o in sorted(found, key=lambda o: o.code)]


@router.get("/slots", responses=error_responses(401, 422))
def slots(
    session: DB,
    principal: Who,
    service: Annotated[
        list[ServiceCode], Query(min_length=1, max_length=8, description="services applied for")
    ],
    collect: Annotated[
        list[ServiceCode] | None, Query(max_length=8, description="documents collected")
    ] = None,
    persons: Annotated[
        int, Query(ge=1, le=8, description="applicants, each for every service")
    ] = 1,
    near: Annotated[
        str | None, Query(max_length=40, description="municipality code (MK-814) or 'lat,lon'")
    ] = None,
    office: Annotated[list[str] | None, Query(max_length=10)] = None,
    after: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[SlotOut]:
    """The earliest free slots for the visit across the nearest offices that can do it."""
    settings = get_settings()
    _known_services(session, set(service) | set(collect or ()))
    need = Need(
        applications=tuple(sorted((code, persons) for code in set(service))),
        collections=tuple(sorted((code, 1) for code in set(collect or ()))),
    )
    found = queries.free_slots(
        session, need, near=_near(session, principal, near), office_codes=office or (),
        after=max(after or clock.now(), clock.now()), horizon_days=settings.booking_horizon_days,
        limit=limit, max_offices=5, zone=settings.timezone, country=settings.country,
    )  # fmt: skip
    return [
        SlotOut(
            office=office_out(s.office),
            distance_km=round(s.distance_km, 1) if s.distance_km is not None else None,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            minutes=s.minutes,
        )  # fmt: skip
        for s in found
    ]


def _items(body: list[ItemIn]) -> list[VisitItem]:
    return [VisitItem(i.person_id, i.service, i.action, i.offer_id) for i in body]


@router.post("/appointments", status_code=201, responses=error_responses(401, 403, 409, 422))
def book(body: AppointmentIn, request: Request, session: DB, principal: SignedIn) -> AppointmentOut:
    """Book a slot (or hold it with `hold: true`) for one or more people and services."""
    settings = get_settings()
    _known_services(session, {i.service for i in body.items})

    def effect() -> AppointmentOut:
        office = _office(session, body.office)
        _may_book(session, principal, office, {i.person_id for i in body.items})
        hold_for = timedelta(minutes=settings.hold_minutes) if body.hold else None
        try:
            made = actions.make_appointment(
                session, settings, principal, office=office, starts_at=body.starts_at,
                items=_items(body.items), hold_for=hold_for,
            )  # fmt: skip
        except actions.SchedulingError as error:
            raise _failed(error) from error
        return appointment_out(session, made)

    return run_once(session, request, principal, body, effect, status_code=201)


def _may_book(
    session: Session, principal: Principal, office: Office, person_ids: set[uuid.UUID]
) -> None:
    """Citizens book for themselves and their minor wards; officers at their own offices."""
    if principal.is_officer and not queries.works_at(principal, office):
        raise deny(session, principal, action="appointment.book", object_kind="office",
                   object_id=office.id)  # fmt: skip
    for person_id in sorted(person_ids):
        person = session.get(Person, person_id)
        if person is None or not queries.acts_for(session, principal, person):
            raise deny(session, principal, action="appointment.book", object_kind="person",
                       object_id=person_id, status=404)  # fmt: skip


def _appointment(session: Session, principal: Principal, appointment_id: uuid.UUID) -> Appointment:
    found = queries.get_appointment_for(session, principal, appointment_id)
    if found is None:
        raise deny(session, principal, action="appointment.view", object_kind="appointment",
                   object_id=appointment_id, status=404)  # fmt: skip
    return found


@router.get("/appointments/{appointment_id}", responses=error_responses(401, 404))
def appointment(appointment_id: uuid.UUID, session: DB, principal: SignedIn) -> AppointmentOut:
    return appointment_out(session, _appointment(session, principal, appointment_id))


def _change(
    request: Request, session: DB, principal: Principal, appointment_id: uuid.UUID,
    body: Any, change: Any,
) -> Any:  # fmt: skip
    def effect() -> AppointmentOut:
        found = _appointment(session, principal, appointment_id)
        try:
            changed = change(found)
        except actions.SchedulingError as error:
            raise _failed(error) from error
        return appointment_out(session, changed)

    return run_once(session, request, principal, body, effect)


@router.post("/appointments/{appointment_id}/confirm", responses=error_responses(401, 404, 409))
def confirm(
    appointment_id: uuid.UUID, request: Request, session: DB, principal: SignedIn
) -> AppointmentOut:
    """Turn a hold into a booking (409 if the hold has lapsed)."""
    return _change(request, session, principal, appointment_id, None,
                   lambda a: actions.confirm(session, principal, a))  # fmt: skip


@router.post("/appointments/{appointment_id}/cancel", responses=error_responses(401, 404, 409))
def cancel(
    appointment_id: uuid.UUID, request: Request, session: DB, principal: SignedIn
) -> AppointmentOut:
    """Cancel a booking or decline a hold; the slot goes to the next person waiting."""
    return _change(request, session, principal, appointment_id, None,
                   lambda a: actions.cancel(session, get_settings(), principal, a))  # fmt: skip


@router.post(
    "/appointments/{appointment_id}/reschedule", responses=error_responses(401, 404, 409, 422)
)
def reschedule(
    appointment_id: uuid.UUID, body: RescheduleIn, request: Request, session: DB,
    principal: SignedIn,
) -> AppointmentOut:  # fmt: skip
    """Move to another free slot (same id, invite SEQUENCE + 1); the old slot is kept on failure."""

    def move(found: Appointment) -> Appointment:
        office = _office(session, body.office) if body.office else None
        return actions.reschedule(session, get_settings(), principal, found,
                                  starts_at=body.starts_at, office=office)  # fmt: skip

    return _change(request, session, principal, appointment_id, body, move)


def _mark(
    what: str, appointment_id: uuid.UUID, request: Request, session: Session,
    principal: Principal,
) -> Any:  # fmt: skip
    def effect() -> MarkOut:
        found = session.get(Appointment, appointment_id)
        office = session.get(Office, found.office_id) if found else None
        if found is None or office is None or not queries.works_at(principal, office):
            raise deny(session, principal, action=f"appointment.{what}",
                       object_kind="appointment", object_id=appointment_id,
                       status=404 if not principal.is_officer else 403)  # fmt: skip
        try:
            again = actions.mark(session, get_settings(), principal, found, what)
        except actions.SchedulingError as error:
            raise _failed(error) from error
        return MarkOut(
            appointment=appointment_out(session, found),
            offered_again=appointment_out(session, again) if again else None,
        )

    return run_once(session, request, principal, None, effect)


@router.post(
    "/appointments/{appointment_id}/check-in", responses=error_responses(401, 403, 404, 409)
)
def check_in(
    appointment_id: uuid.UUID, request: Request, session: DB, principal: SignedIn
) -> MarkOut:
    return _mark("check_in", appointment_id, request, session, principal)


@router.post("/appointments/{appointment_id}/done", responses=error_responses(401, 403, 404, 409))
def done(appointment_id: uuid.UUID, request: Request, session: DB, principal: SignedIn) -> MarkOut:
    return _mark("done", appointment_id, request, session, principal)


@router.post(
    "/appointments/{appointment_id}/no-show", responses=error_responses(401, 403, 404, 409)
)
def no_show(
    appointment_id: uuid.UUID, request: Request, session: DB, principal: SignedIn
) -> MarkOut:
    """Mark a missed visit; the person gets a new held slot at the same office."""
    return _mark("no_show", appointment_id, request, session, principal)


class PersonAppointmentsOut(BaseModel):
    no_shows: int
    appointments: list[AppointmentOut]


@router.get("/persons/{person_id}/appointments", responses=error_responses(401, 404))
def person_appointments(
    person_id: uuid.UUID, session: DB, principal: SignedIn
) -> PersonAppointmentsOut:
    """A person's appointments, newest first, and how many they missed."""
    person = session.get(Person, person_id)
    if person is None or not queries.acts_for(session, principal, person):
        raise deny(session, principal, action="person.view", object_kind="person",
                   object_id=person_id, status=404)  # fmt: skip
    return PersonAppointmentsOut(
        no_shows=queries.no_show_count(session, person.id),
        appointments=[
            appointment_out(session, a) for a in queries.appointments_of(session, person.id)
        ],
    )


class OfficeDayOut(BaseModel):
    office: OfficeOut
    day: date
    appointments: list[AppointmentOut]


@router.get("/offices/{office_code}/day", responses=error_responses(401, 403, 404))
def office_day(
    office_code: str, session: DB, principal: SignedIn,
    day: Annotated[date | None, Query(description="local date; default today")] = None,
) -> OfficeDayOut:  # fmt: skip
    """The office's appointments of one day by counter and time, for its officers."""
    settings = get_settings()
    office = session.scalar(select(Office).where(Office.code == office_code))
    if office is None or not queries.works_at(principal, office):
        raise deny(session, principal, action="office.day", object_kind="office",
                   object_id=office.id if office else None,
                   status=404 if office is None or not principal.is_officer else 403)  # fmt: skip
    on = day or clock.today(settings.timezone)
    return OfficeDayOut(
        office=office_out(office), day=on,
        appointments=[appointment_out(session, a)
                      for a in queries.office_day(session, office, on, settings.timezone)],
    )  # fmt: skip


def _waitlist_out(session: Session, entry: WaitlistEntry) -> WaitlistOut:
    office = session.get(Office, entry.office_id) if entry.office_id else None
    return WaitlistOut(
        id=entry.id, person_id=entry.person_id, service=entry.service_code,
        office=office.code if office else None, municipality=entry.municipality_code,
        before=entry.before, status=entry.status, appointment_id=entry.appointment_id,
    )  # fmt: skip


@router.post("/waitlist", status_code=201, responses=error_responses(401, 404, 422))
def join_waitlist(
    body: WaitlistIn, request: Request, session: DB, principal: SignedIn
) -> WaitlistOut:
    """Wait for an earlier slot: when one is released it is held for the longest waiting."""
    _known_services(session, {body.service})

    def effect() -> WaitlistOut:
        person = session.get(Person, body.person_id)
        if person is None or not queries.acts_for(session, principal, person):
            raise deny(session, principal, action="waitlist.join", object_kind="person",
                       object_id=body.person_id, status=404)  # fmt: skip
        office = _office(session, body.office) if body.office else None
        try:
            entry = actions.join_waitlist(session, principal, person=person,
                                          service_code=body.service, office=office,
                                          before=body.before)  # fmt: skip
        except actions.SchedulingError as error:
            raise _failed(error) from error
        return _waitlist_out(session, entry)

    return run_once(session, request, principal, body, effect, status_code=201)


@router.delete("/waitlist/{entry_id}", responses=error_responses(401, 404))
def leave_waitlist(entry_id: uuid.UUID, session: DB, principal: SignedIn) -> WaitlistOut:
    entry = session.get(WaitlistEntry, entry_id)
    person = session.get(Person, entry.person_id) if entry else None
    if entry is None or person is None or not queries.acts_for(session, principal, person):
        raise deny(session, principal, action="waitlist.leave", object_kind="waitlist_entry",
                   object_id=entry_id, status=404)  # fmt: skip
    if entry.status == "waiting":
        entry.status = "cancelled"
    return _waitlist_out(session, entry)


@router.get(
    "/appointments/{appointment_id}/invite.ics",
    responses={**error_responses(401, 404), 200: {"content": {"text/calendar": {}}}},
    response_class=Response,
)
def invite(appointment_id: uuid.UUID, session: DB, principal: SignedIn) -> Response:
    """The RFC 5545 invite: same UID for the appointment's life, SEQUENCE grows with each move,
    METHOD:CANCEL once it is cancelled."""
    found = _appointment(session, principal, appointment_id)
    return Response(
        plans.invite_for(session, get_settings(), found),
        media_type="text/calendar; charset=utf-8; method="
        + ("CANCEL" if found.status in ("cancelled", "expired") else "REQUEST"),
        headers={"Content-Disposition": 'attachment; filename="navreme-appointment.ics"'},
    )


class PlanItemOut(BaseModel):
    person_id: uuid.UUID
    service: str
    action: str
    minutes: int
    offer_id: uuid.UUID | None


class PlannedVisitOut(BaseModel):
    number: int
    earliest: date
    minutes: int
    items: list[PlanItemOut]
    appointment: AppointmentOut | None = None
    problem: str | None = None


class PlanOut(BaseModel):
    visits: list[PlannedVisitOut]
    deliveries: list[dict[str, Any]]
    online: list[dict[str, Any]]
    unplanned: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    fewest_possible_visits: int


class HoldPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: str | None = Field(default=None, min_length=1, max_length=32,
                               description="hold at this office; default the nearest ones")  # fmt: skip


def _plan_out(
    session: Session, plan: PortfolioPlan, held: list[plans.HeldVisit] | None = None
) -> PlanOut:
    by_number = {h.visit.number: h for h in held or []}

    def visit_out(visit: PlannedVisit) -> PlannedVisitOut:
        hold = by_number.get(visit.number)
        return PlannedVisitOut(
            number=visit.number, earliest=visit.earliest, minutes=visit.minutes,
            items=[PlanItemOut(person_id=i.person, service=i.service, action=i.action,
                               minutes=i.minutes, offer_id=i.offer_id) for i in visit.items],
            appointment=appointment_out(session, hold.appointment)
            if hold and hold.appointment else None,
            problem=hold.problem if hold else None,
        )  # fmt: skip

    return PlanOut(
        visits=[visit_out(v) for v in plan.visits],
        deliveries=[asdict(d) for d in plan.deliveries], online=[asdict(o) for o in plan.online],
        unplanned=[asdict(u) for u in plan.unplanned], notes=[asdict(n) for n in plan.notes],
        fewest_possible_visits=plan.lower_bound,
    )  # fmt: skip


def _planned_person(session: Session, principal: Principal, person_id: uuid.UUID) -> Person:
    person = session.get(Person, person_id)
    if person is None or not queries.acts_for(session, principal, person):
        raise deny(session, principal, action="plan.view", object_kind="person",
                   object_id=person_id, status=404)  # fmt: skip
    return person


@router.get("/persons/{person_id}/plan", responses=error_responses(401, 404))
def plan(person_id: uuid.UUID, session: DB, principal: SignedIn) -> PlanOut:
    """The fewest visits that cover the person's and their minor wards' open offers."""
    person = _planned_person(session, principal, person_id)
    return _plan_out(session, plans.plan_for(session, get_settings(), person))


@router.post(
    "/persons/{person_id}/plan/hold", status_code=201, responses=error_responses(401, 404, 422)
)
def hold_plan(
    person_id: uuid.UUID, request: Request, session: DB, principal: SignedIn,
    body: HoldPlanIn | None = None,
) -> PlanOut:  # fmt: skip
    """Hold a slot for every visit of the plan: the first at the earliest free slot, each later
    one once its documents are ready."""
    settings = get_settings()

    def effect() -> PlanOut:
        person = _planned_person(session, principal, person_id)
        office = _office(session, body.office) if body and body.office else None
        portfolio = plans.plan_for(session, settings, person)
        held = plans.hold_plan(session, settings, principal, person, portfolio,
                               office_code=office.code if office else None)  # fmt: skip
        return _plan_out(session, portfolio, held)

    return run_once(session, request, principal, body, effect, status_code=201)
