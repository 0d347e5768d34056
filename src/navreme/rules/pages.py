"""A citizen's "My services": documents and their expiry, the offers we made them (why, on which
facts, under which law), the fewest-visit plan with its held times, and upcoming appointments;
and declining proactive handling of a service, the same action as the API's opt-out."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import get_settings
from navreme.identity.principal import Principal
from navreme.registry import queries as registry
from navreme.registry.models import Document, Person
from navreme.rules import actions, queries
from navreme.rules.models import OPEN_OFFER_STATUSES
from navreme.rules.queries import OfferOut, mask_number
from navreme.scheduling import pages as scheduling_pages
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.pages import (
    CsrfField,
    csrf_ok,
    language_of,
    render,
    render_error,
    signed_in_citizen,
)

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]
BOOKABLE = ("pending", "notified")  # an accepted offer already has its appointment

NOTICES = {
    "declined": N_("Done. We will not handle this service for you proactively any more."),
    "held": N_("We are holding a time for each visit of your plan. Please confirm each one."),
}


def open_offers(
    session: Session, principal: Principal, person: Person, language: str
) -> list[OfferOut]:
    """The person's and their wards' offers still open, through the access-checked reader."""
    found = queries.offers_for(session, principal, person.id, language) or []  # type: ignore[arg-type]
    return [offer for offer in found if offer.status in OPEN_OFFER_STATUSES]


def fact_documents(session: Session, people: list[Person]) -> dict[uuid.UUID, Document]:
    """The family's documents by id, to name the document an offer is about."""
    return {d.id: d for p in people for d in registry.documents_of(session, p.id)}


def my_services(request: Request, session: Session, principal: Principal) -> Response:
    """The citizen's home page (`/me`, served by identity.pages.me)."""
    person = registry.get_person_for(session, principal, principal.id) if principal.id else None
    if person is None:
        return RedirectResponse("/login/citizen", status_code=303)
    language = language_of(request, principal)
    people = scheduling_pages.family(session, person)
    plan, visits = scheduling_pages.plan_view(session, person)
    return render(
        request, "me_citizen.html", principal, person=person, me=person.id,
        documents=registry.documents_of(session, person.id),
        today=clock.today(get_settings().timezone),
        offers=open_offers(session, principal, person, language), bookable=BOOKABLE,
        fact_documents=fact_documents(session, people), mask=mask_number,
        plan=plan, visits=visits, upcoming=scheduling_pages.upcoming(session, people),
        names=scheduling_pages.names_of(people),
        services=queries.service_names(session, language),  # type: ignore[arg-type]
        notice=NOTICES.get(request.query_params.get("done", "")),
    )  # fmt: skip


@router.post("/me/offers/{offer_id}/decline", response_class=HTMLResponse)
def decline(offer_id: str, request: Request, session: DB, csrf: CsrfField = "") -> Response:
    """No proactive handling of the offer's service for its person (the API's opt-out)."""
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse("/login/citizen", status_code=303)
    if not csrf_ok(request, citizen.principal, csrf):
        return render_error(request, status=403, message=N_("The form expired. Please try again."))
    language = language_of(request, citizen.principal)
    offer = next(
        (o for o in open_offers(session, citizen.principal, citizen.person, language)
         if str(o.id) == offer_id), None,
    )  # fmt: skip
    if offer is None:
        return scheduling_pages.not_found(request, session, citizen, offer_id, "offer")
    subject = registry.get_person_for_contact_change(session, citizen.principal, offer.person_id)
    if subject is None:
        return scheduling_pages.not_found(request, session, citizen, offer_id, "offer")
    actions.decline_proactive(
        session, person_id=subject.id, service_code=offer.service.code, actor=citizen.principal
    )
    return RedirectResponse("/me?done=declined", status_code=303)
