"""Finding a person and reading their record, as an officer.

The personal number travels only in a POST body, never in a URL; every look-up and every read
of a record writes an audit entry (the registry's own actions, as the JSON API does).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import get_settings
from navreme.identity.principal import Principal
from navreme.messaging import conversations
from navreme.messaging.models import ConversationItem
from navreme.registry import actions as registry_actions
from navreme.registry import embg
from navreme.registry import queries as registry
from navreme.registry.models import Municipality, Person
from navreme.rules.models import OPEN_OFFER_STATUSES
from navreme.rules.queries import offers_for
from navreme.scheduling import queries as scheduling
from navreme.scheduling.models import Office
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.officer_common import EXPIRED, refuse, signed_in_officer, to_login
from navreme.web.pages import CsrfField, csrf_ok, language_of, render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=100)]
BAD_EMBG = N_("A personal number (EMBG) has exactly 13 digits and a valid check digit.")
NO_EMBG = N_("Nobody in the registry has this personal number.")
BAD_BIRTH = N_("Enter the date of birth as year-month-day, for example 1990-05-17.")
NEED_NAMES = N_("Enter the given name, the family name and the date of birth.")
NOBODY = N_("Nobody in the registry has this name and date of birth.")
CONVERSATION_LINES = 5


def _search_page(
    request: Request, principal: Principal, *, status: int = 200, **context: object
) -> HTMLResponse:
    return render(request, "officer/persons.html", principal, status=status, **context)


@router.get("/officer/persons", response_class=HTMLResponse)
def find_form(request: Request, session: DB) -> Response:
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    return _search_page(request, principal)


@router.post("/officer/persons", response_class=HTMLResponse)
def find(
    request: Request, session: DB, csrf: CsrfField = "",
    national_id: Annotated[str, Form(max_length=32)] = "", given_name: Text = "",
    family_name: Text = "", birth_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    """By personal number: straight to the record. By name and birth date: the matches."""
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    kept = {"national_id": national_id, "given_name": given_name, "family_name": family_name,
            "birth_date": birth_date}  # fmt: skip
    if not csrf_ok(request, principal, csrf):
        return _search_page(request, principal, status=403, error=EXPIRED, kept=kept)
    if national_id.strip():
        return _by_national_id(request, session, principal, national_id.strip(), kept)
    return _by_name(request, session, principal, kept)


def _by_national_id(
    request: Request, session: Session, principal: Principal, value: str, kept: dict[str, str]
) -> Response:
    try:
        embg.parse(value)
    except embg.InvalidEmbg:
        return _search_page(request, principal, status=422, error=BAD_EMBG, error_field="embg",
                            kept=kept)  # fmt: skip
    person = registry_actions.look_up_person(session, national_id=value, actor=principal)
    if person is None:  # the audit entry of the unsuccessful look-up is committed with the page
        return _search_page(request, principal, status=404, error=NO_EMBG, error_field="embg",
                            kept=kept)  # fmt: skip
    return RedirectResponse(f"/officer/persons/{person.id}", status_code=303)


def _by_name(
    request: Request, session: Session, principal: Principal, kept: dict[str, str]
) -> Response:
    if not (kept["given_name"].strip() and kept["family_name"].strip() and kept["birth_date"]):
        return _search_page(request, principal, status=422, error=NEED_NAMES,
                            error_field="name", kept=kept)  # fmt: skip
    try:
        born = date.fromisoformat(kept["birth_date"])
    except ValueError:
        return _search_page(request, principal, status=422, error=BAD_BIRTH,
                            error_field="name", kept=kept)  # fmt: skip
    found = registry_actions.search_persons(
        session, given=kept["given_name"], family=kept["family_name"], born=born, actor=principal
    )
    if not found:
        return _search_page(request, principal, status=404, error=NOBODY, error_field="name",
                            kept=kept)  # fmt: skip
    return _search_page(request, principal, results=found, kept=kept)


@router.get("/officer/persons/{person_id}", response_class=HTMLResponse)
def person_page(person_id: uuid.UUID, request: Request, session: DB) -> Response:
    """The person's record for the officer: the read is audited, section by section."""
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    person = registry.get_person_for(session, principal, person_id)
    if person is None:
        return refuse(request, session, principal, action="person.view", status=404,
                      object_kind="person", object_id=person_id)  # fmt: skip
    language = language_of(request, principal)
    registry_actions.record_person_view(session, person=person, actor=principal, section="person")
    return render(
        request, "officer/person.html", principal, person=person,
        place=session.get(Municipality, person.municipality_code) if person.municipality_code
        else None,
        documents=registry.documents_of(session, person.id),
        contacts=registry.contacts_of(session, person.id),
        offers=[o for o in offers_for(session, principal, person.id, language) or []  # type: ignore[arg-type]
                if o.status in OPEN_OFFER_STATUSES],
        **_visits(session, principal, person),
        **_conversation(session, principal, person),
    )  # fmt: skip


def _visits(session: Session, principal: Principal, person: Person) -> dict[str, object]:
    registry_actions.record_person_view(session, person=person, actor=principal,
                                        section="appointments")  # fmt: skip
    appointments = scheduling.appointments_of(session, person.id)
    office_ids = {a.office_id for a in appointments}
    offices = {
        o.id: o for o in session.scalars(select(Office).where(Office.id.in_(office_ids)))
    } if office_ids else {}  # fmt: skip
    zone = get_settings().timezone
    days = {a.id: clock.local(a.starts_at, zone).date().isoformat() for a in appointments}
    return {"appointments": appointments, "offices": offices, "days": days,
            "no_shows": scheduling.no_show_count(session, person.id)}  # fmt: skip


def _conversation(session: Session, principal: Principal, person: Person) -> dict[str, object]:
    registry_actions.record_person_view(session, person=person, actor=principal,
                                        section="conversation")  # fmt: skip
    found = conversations.conversation_for(session, person.id)
    if found is None:
        return {"lines": [], "open_count": 0}
    open_count = session.scalar(
        select(func.count()).where(
            ConversationItem.conversation_id == found.id, ConversationItem.needs_officer,
            ConversationItem.handled_at.is_(None),
        )
    )  # fmt: skip
    return {"lines": conversations.items(session, found.id, limit=CONVERSATION_LINES),
            "open_count": open_count}  # fmt: skip
