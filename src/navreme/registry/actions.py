"""Every registry write. Each one is audited, without personal data in the audit details."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.identity.principal import Principal
from navreme.registry import queries
from navreme.registry.models import (
    ConsentEvent,
    ContactEndpoint,
    Document,
    GuardianLink,
    LifeEvent,
    Person,
)
from navreme.registry.schemas import (
    ConsentChange,
    ContactCreate,
    DocumentCreate,
    GuardianLinkCreate,
    LifeEventCreate,
    PersonChange,
    PersonCreate,
)

_TICK = timedelta(microseconds=1)


class Invalid(Exception):
    """A field is well-formed but refers to something the registry refuses."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


class Conflict(Exception):
    """The write would duplicate or contradict what the registry already holds."""


def _audit(
    session: Session, actor: Principal, action: str, person_id: uuid.UUID, **details: Any
) -> None:
    record(
        session, action=action, actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="person", object_id=person_id, details=details,
    )  # fmt: skip


def _flush_or_conflict(session: Session, message: str) -> None:
    """Flush; a unique constraint hit by a concurrent writer becomes a Conflict."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(message) from None


def _check_municipality(session: Session, code: str | None) -> None:
    if code is not None and not queries.municipality_exists(session, code):
        raise Invalid("municipality_code", f"unknown municipality {code!r}")


# --- persons ---

_DUPLICATE_PERSON = "A person with this national identifier is already registered."


def create_person(session: Session, *, new: PersonCreate, actor: Principal) -> Person:
    """Register a person (national identifier unique; residence a known municipality or abroad)."""
    _check_municipality(session, new.municipality_code)
    if queries.person_by_national_id(session, new.national_id) is not None:
        raise Conflict(_DUPLICATE_PERSON)
    instant = clock.now()
    person = Person(**new.model_dump(), created_at=instant, updated_at=instant)
    session.add(person)
    _flush_or_conflict(session, _DUPLICATE_PERSON)
    _audit(session, actor, "person.create", person.id)
    return person


def look_up_person(session: Session, *, national_id: str, actor: Principal) -> Person | None:
    """Find a person by national identifier; every lookup is audited, found or not."""
    person = queries.person_by_national_id(session, national_id)
    record(
        session, action="person.lookup", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="person", object_id=person.id if person else None,
        details={"found": person is not None},
    )  # fmt: skip
    return person


def search_persons(
    session: Session, *, given: str, family: str, born: date, actor: Principal
) -> list[Person]:
    """People by name and date of birth (for an officer without the personal number); audited
    with how many matched, never with the names searched for."""
    found = queries.persons_named(session, given=given, family=family, born=born)
    record(
        session, action="person.search", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="person", details={"by": "name_and_birth_date", "found": len(found)},
    )  # fmt: skip
    return found


def record_person_view(session: Session, *, person: Person, actor: Principal, section: str) -> None:
    """An officer read the person's record (or one `section` of it)."""
    _audit(session, actor, "person.view", person.id, section=section)


def _residence(person: Person) -> dict[str, str | None]:
    if person.abroad_country is not None:
        return {"abroad_country": person.abroad_country}
    return {"municipality_code": person.municipality_code}


def _move(session: Session, person: Person, change: PersonChange) -> bool:
    """Apply a new residence; a real change also records a `move` life event."""
    if change.municipality_code is None and change.abroad_country is None:
        return False
    _check_municipality(session, change.municipality_code)
    before = _residence(person)
    person.municipality_code, person.abroad_country = (
        change.municipality_code,
        change.abroad_country,
    )
    after = _residence(person)
    if before == after:
        return False
    details = {"from": before, "to": after}
    session.add(
        LifeEvent(person_id=person.id, kind="move", occurred_on=clock.today(), details=details)
    )
    return True


def change_person(
    session: Session, *, person: Person, change: PersonChange, actor: Principal
) -> Person:
    """Change names, language, accessibility needs or residence (a move is also a life event)."""
    moved = _move(session, person, change)
    fields = {
        k: v
        for k, v in change.changes().items()
        if k not in ("municipality_code", "abroad_country")
    }
    changed = sorted(name for name, value in fields.items() if getattr(person, name) != value)
    for name in changed:
        setattr(person, name, fields[name])
    if moved:
        changed.append("residence")
    if changed:
        person.updated_at = clock.now()
        _audit(session, actor, "person.update", person.id, fields=changed)
    session.flush()
    return person


# --- documents and life events ---

_DUPLICATE_DOCUMENT = "A document of this kind with this number is already registered."


def add_document(
    session: Session, *, person: Person, new: DocumentCreate, actor: Principal
) -> Document:
    """Register an identity document; (kind, number) is unique across the registry."""
    if queries.document_number_taken(session, kind=new.kind, number=new.number):
        raise Conflict(_DUPLICATE_DOCUMENT)
    document = Document(person_id=person.id, created_at=clock.now(), **new.model_dump())
    session.add(document)
    _flush_or_conflict(session, _DUPLICATE_DOCUMENT)
    _audit(session, actor, "document.add", person.id, document_id=str(document.id), kind=new.kind)
    return document


def _check_life_event(person: Person, new: LifeEventCreate) -> None:
    if new.kind == "move":
        raise Invalid("kind", "a move is recorded by changing the person's residence (PATCH)")
    if new.occurred_on > clock.today():
        raise Invalid("occurred_on", "is in the future")
    if new.kind == "birth" and new.occurred_on != person.birth_date:
        raise Invalid("occurred_on", "a birth must be on the person's birth date")
    if new.occurred_on < person.birth_date:
        raise Invalid("occurred_on", "is before the person's birth")
    if new.kind == "death" and person.death_date is not None:
        raise Conflict("The person's death is already recorded.")


def record_life_event(
    session: Session, *, person: Person, new: LifeEventCreate, actor: Principal
) -> LifeEvent:
    """Record a birth, coming of age or death (a death also sets the person's death date)."""
    _check_life_event(person, new)
    event = LifeEvent(person_id=person.id, recorded_at=clock.now(), **new.model_dump())
    session.add(event)
    if new.kind == "death":
        person.death_date, person.updated_at = new.occurred_on, clock.now()
    session.flush()
    _audit(session, actor, "life_event.record", person.id, event_id=str(event.id), kind=new.kind)
    return event


# --- contacts and consent ---

_DUPLICATE_CONTACT = "The person already has this address on this channel."


def add_contact(
    session: Session, *, person: Person, new: ContactCreate, actor: Principal
) -> ContactEndpoint:
    """Add a contact endpoint, unverified until the person proves they receive on it."""
    exists = queries.contact_exists(
        session, person_id=person.id, channel=new.channel, address=new.address
    )
    if exists:
        raise Conflict(_DUPLICATE_CONTACT)
    endpoint = ContactEndpoint(person_id=person.id, created_at=clock.now(), **new.model_dump())
    session.add(endpoint)
    _flush_or_conflict(session, _DUPLICATE_CONTACT)
    _audit(
        session, actor, "contact.add", person.id, contact_id=str(endpoint.id), channel=new.channel
    )
    return endpoint


def _next_consent_instant(session: Session, person_id: uuid.UUID) -> datetime:
    """Now, or just after the person's last event: the ledger's order never has ties."""
    instant, last = clock.now(), queries.last_consent_instant(session, person_id)
    return instant if last is None or instant > last else last + _TICK


def change_consent(
    session: Session,
    *,
    person: Person,
    change: ConsentChange,
    actor: Principal,
    source: str = "api",
) -> ConsentEvent:
    """Give or withdraw consent: one more event in the append-only ledger."""
    event = ConsentEvent(
        person_id=person.id, purpose=change.purpose, channel=change.channel,
        granted=change.granted, source=source, actor=f"{actor.kind}:{actor.id}",
        recorded_at=_next_consent_instant(session, person.id),
    )  # fmt: skip
    session.add(event)
    session.flush()
    _audit(session, actor, "consent.change", person.id, **change.model_dump())
    return event


# --- guardianship ---


def link_guardian(
    session: Session, *, ward: Person, new: GuardianLinkCreate, actor: Principal
) -> tuple[GuardianLink, Person]:
    """Record that `new.guardian_id` is the ward's parent or legal guardian."""
    guardian = session.get(Person, new.guardian_id)
    if guardian is None:
        raise Invalid("guardian_id", "no such person")
    if guardian.id == ward.id:
        raise Invalid("guardian_id", "a person cannot be their own guardian")
    if queries.guardian_link_exists(session, guardian_id=guardian.id, ward_id=ward.id):
        raise Conflict("This guardian is already linked to this person.")
    link = GuardianLink(
        guardian_id=guardian.id, ward_id=ward.id, kind=new.kind, created_at=clock.now()
    )
    session.add(link)
    _flush_or_conflict(session, "This guardian is already linked to this person.")
    _audit(session, actor, "guardian.link", ward.id, guardian_id=str(guardian.id), kind=new.kind)
    return link, guardian


def reorder_contact(
    session: Session, *, person: Person, endpoint: ContactEndpoint, up: bool, actor: Principal
) -> None:
    """Swap a verified endpoint with its neighbour and number the person's order 10, 20, …"""
    ordered = [c for c in queries.contacts_of(session, person.id) if c.verified_at is not None]
    at = ordered.index(endpoint)
    other = at - 1 if up else at + 1
    if 0 <= other < len(ordered):
        ordered[at], ordered[other] = ordered[other], ordered[at]
    for rank, contact in enumerate(ordered, start=1):
        contact.preference = rank * 10
    session.flush()
    record(
        session, action="contact.reorder", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="person", object_id=person.id,
        details={"order": [c.channel for c in ordered]},
    )  # fmt: skip
