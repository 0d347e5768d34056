"""Registry JSON routes: persons, documents, life events, contacts, consent, guardianship.

Reads go through access-checked getters: any officer (audited `person.view`), the person,
or the guardian of a minor. Registry facts change only by data managers; contacts and
consent also by the person and their guardians. National identifiers never appear in URLs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter
from sqlalchemy.orm import Session

from navreme.identity.principal import Principal
from navreme.registry import actions, queries
from navreme.registry.models import GuardianLink, Person
from navreme.registry.schemas import (
    ConsentChange,
    ConsentEventOut,
    ConsentsOut,
    ConsentState,
    ContactCreate,
    ContactOut,
    DocumentCreate,
    DocumentOut,
    GuardianLinkCreate,
    GuardianLinkOut,
    LifeEventCreate,
    LifeEventOut,
    PersonBrief,
    PersonChange,
    PersonCreate,
    PersonLookup,
    PersonOut,
    error_responses,
)
from navreme.web.deps import DB, AnyOfficer, DataManager, SignedIn, deny
from navreme.web.errors import ApiError, invalid_fields

router = APIRouter(prefix="/api/v1", tags=["registry"])


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn an action's refusal into the API's envelope (the transaction is rolled back)."""
    try:
        yield
    except actions.Invalid as invalid:
        details = [{"field": f"body.{invalid.field}", "problem": invalid.problem}]
        raise invalid_fields(details) from None
    except actions.Conflict as conflict:
        raise ApiError(409, "conflict", str(conflict)) from None


def readable_person(
    session: Session, principal: Principal, person_id: uuid.UUID, *, section: str
) -> Person:
    """The person if `principal` may read this section of the record (an officer's read is
    audited as a view of it); 404 otherwise, the refusal audited. Every domain's person routes
    use it."""
    person = queries.get_person_for(session, principal, person_id)
    if person is None:
        raise deny(session, principal, action="person.view", object_kind="person",
                   object_id=person_id, status=404)  # fmt: skip
    if principal.is_officer:
        actions.record_person_view(session, person=person, actor=principal, section=section)
    return person


def contact_changeable_person(
    session: Session, principal: Principal, person_id: uuid.UUID, *, action: str
) -> Person:
    """The person if `principal` may change their contacts, consents and contact settings."""
    person = queries.get_person_for_contact_change(session, principal, person_id)
    if person is None:
        # Officers may know the person exists (they can read every record): say "forbidden".
        status = 403 if principal.is_officer else 404
        raise deny(session, principal, action=action, object_kind="person",
                   object_id=person_id, status=status)  # fmt: skip
    return person


def _registry_changeable(session: Session, principal: Principal, person_id: uuid.UUID) -> Person:
    person = queries.get_person_for_registry_change(session, principal, person_id)
    if person is None:
        raise ApiError(404, "not_found", "No person here.")
    return person


# --- persons ---


@router.post("/persons", status_code=201, responses=error_responses(403, 409, 422))
def create_person(body: PersonCreate, session: DB, principal: DataManager) -> PersonOut:
    """Register a person (data managers)."""
    with _refusals():
        person = actions.create_person(session, new=body, actor=principal)
    return PersonOut.model_validate(person)


@router.post("/persons/lookup", responses=error_responses(403, 404, 422))
def look_up_person(body: PersonLookup, session: DB, principal: AnyOfficer) -> PersonOut:
    """Find a person by national identifier, sent in the body (officers; audited)."""
    person = actions.look_up_person(session, national_id=body.national_id, actor=principal)
    if person is None:
        session.commit()  # keep the audit entry of the unsuccessful lookup
        raise ApiError(404, "not_found", "No person with this national identifier.")
    return PersonOut.model_validate(person)


@router.get("/persons/{person_id}", responses=error_responses(404))
def person(person_id: uuid.UUID, session: DB, principal: SignedIn) -> PersonOut:
    """The person's record: any officer (audited), the person, a minor's guardian."""
    return PersonOut.model_validate(
        readable_person(session, principal, person_id, section="person")
    )


@router.patch("/persons/{person_id}", responses=error_responses(403, 404, 409, 422))
def change_person(
    person_id: uuid.UUID, body: PersonChange, session: DB, principal: DataManager
) -> PersonOut:
    """Change names, language, accessibility or residence (data managers; a move is recorded)."""
    found = _registry_changeable(session, principal, person_id)
    with _refusals():
        changed = actions.change_person(session, person=found, change=body, actor=principal)
    return PersonOut.model_validate(changed)


# --- documents and life events ---


@router.get("/persons/{person_id}/documents", responses=error_responses(404))
def documents(person_id: uuid.UUID, session: DB, principal: SignedIn) -> list[DocumentOut]:
    readable_person(session, principal, person_id, section="documents")
    return [DocumentOut.model_validate(row) for row in queries.documents_of(session, person_id)]


@router.post(
    "/persons/{person_id}/documents", status_code=201, responses=error_responses(403, 404, 409, 422)
)
def add_document(
    person_id: uuid.UUID, body: DocumentCreate, session: DB, principal: DataManager
) -> DocumentOut:
    found = _registry_changeable(session, principal, person_id)
    with _refusals():
        document = actions.add_document(session, person=found, new=body, actor=principal)
    return DocumentOut.model_validate(document)


@router.get("/persons/{person_id}/events", responses=error_responses(404))
def life_events(person_id: uuid.UUID, session: DB, principal: SignedIn) -> list[LifeEventOut]:
    readable_person(session, principal, person_id, section="events")
    return [LifeEventOut.model_validate(row) for row in queries.life_events_of(session, person_id)]


@router.post(
    "/persons/{person_id}/events", status_code=201, responses=error_responses(403, 404, 409, 422)
)
def record_life_event(
    person_id: uuid.UUID, body: LifeEventCreate, session: DB, principal: DataManager
) -> LifeEventOut:
    """Record a birth, coming of age or death (a move is a change of residence instead)."""
    found = _registry_changeable(session, principal, person_id)
    with _refusals():
        event = actions.record_life_event(session, person=found, new=body, actor=principal)
    return LifeEventOut.model_validate(event)


# --- contacts and consent ---


@router.get("/persons/{person_id}/contacts", responses=error_responses(404))
def contacts(person_id: uuid.UUID, session: DB, principal: SignedIn) -> list[ContactOut]:
    readable_person(session, principal, person_id, section="contacts")
    return [ContactOut.model_validate(row) for row in queries.contacts_of(session, person_id)]


@router.post(
    "/persons/{person_id}/contacts", status_code=201, responses=error_responses(403, 404, 409, 422)
)
def add_contact(
    person_id: uuid.UUID, body: ContactCreate, session: DB, principal: SignedIn
) -> ContactOut:
    """Add an unverified endpoint (the person, a minor's guardian, data managers)."""
    found = contact_changeable_person(session, principal, person_id, action="contact.add")
    with _refusals():
        endpoint = actions.add_contact(session, person=found, new=body, actor=principal)
    return ContactOut.model_validate(endpoint)


@router.get("/persons/{person_id}/consents", responses=error_responses(404))
def consents(
    person_id: uuid.UUID, session: DB, principal: SignedIn, history: bool = False
) -> ConsentsOut:
    """Consent in force per purpose × channel; `?history=true` adds the whole ledger."""
    readable_person(session, principal, person_id, section="consents")
    ledger = queries.consent_ledger(session, person_id)
    current = [
        ConsentState.model_validate(c, from_attributes=True)
        for c in queries.consents_in_force(ledger)
    ]
    past = [ConsentEventOut.model_validate(event) for event in ledger] if history else None
    return ConsentsOut(current=current, history=past)


@router.post(
    "/persons/{person_id}/consents", status_code=201, responses=error_responses(403, 404, 422)
)
def change_consent(
    person_id: uuid.UUID, body: ConsentChange, session: DB, principal: SignedIn
) -> ConsentEventOut:
    """Give (granted=true) or withdraw (granted=false) consent: the same one call."""
    found = contact_changeable_person(session, principal, person_id, action="consent.change")
    event = actions.change_consent(session, person=found, change=body, actor=principal)
    return ConsentEventOut.model_validate(event)


# --- guardianship ---


def _link_out(link: GuardianLink, other: Person) -> GuardianLinkOut:
    return GuardianLinkOut(
        id=link.id, guardian_id=link.guardian_id, ward_id=link.ward_id, kind=link.kind,
        created_at=link.created_at, other=PersonBrief.model_validate(other),
    )  # fmt: skip


@router.get("/persons/{person_id}/guardians", responses=error_responses(404))
def guardians(person_id: uuid.UUID, session: DB, principal: SignedIn) -> list[GuardianLinkOut]:
    readable_person(session, principal, person_id, section="guardians")
    return [_link_out(link, other) for link, other in queries.guardians_of(session, person_id)]


@router.get("/persons/{person_id}/wards", responses=error_responses(404))
def wards(person_id: uuid.UUID, session: DB, principal: SignedIn) -> list[GuardianLinkOut]:
    readable_person(session, principal, person_id, section="wards")
    return [_link_out(link, other) for link, other in queries.wards_of(session, person_id)]


@router.post(
    "/persons/{person_id}/guardians", status_code=201, responses=error_responses(403, 404, 409, 422)
)
def link_guardian(
    person_id: uuid.UUID, body: GuardianLinkCreate, session: DB, principal: DataManager
) -> GuardianLinkOut:
    """Link a parent or legal guardian to the person (data managers)."""
    ward = _registry_changeable(session, principal, person_id)
    with _refusals():
        link, guardian = actions.link_guardian(session, ward=ward, new=body, actor=principal)
    return _link_out(link, guardian)
