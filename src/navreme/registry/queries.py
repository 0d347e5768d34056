"""Registry reads in domain language, and the access-checked getters every route goes through."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.identity.principal import Principal
from navreme.registry.models import (
    CHANNELS,
    CONSENT_PURPOSES,
    ConsentEvent,
    ContactEndpoint,
    Document,
    GuardianLink,
    LifeEvent,
    Municipality,
    Person,
)

ADULT_AGE = 18
ANY_CHANNEL = "any"


def age_on(born: date, day: date) -> int:
    """Completed years on `day` (someone born on 29 February has a birthday on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def is_minor(person: Person, *, on: date | None = None) -> bool:
    return age_on(person.birth_date, on or clock.today()) < ADULT_AGE


def is_guardian_of_minor(session: Session, *, guardian_id: uuid.UUID, ward: Person) -> bool:
    if not is_minor(ward):
        return False
    link = select(GuardianLink.id).where(
        GuardianLink.guardian_id == guardian_id, GuardianLink.ward_id == ward.id
    )
    return session.scalar(link) is not None


def _is_self_or_guardian(session: Session, principal: Principal, person: Person) -> bool:
    if not principal.is_citizen or principal.id is None:
        return False
    if principal.id == person.id:
        return True
    return is_guardian_of_minor(session, guardian_id=principal.id, ward=person)


def _manages_registry(principal: Principal) -> bool:
    """Data managers (and admins) keep the registry: they may change anyone's record."""
    return principal.is_admin or principal.has_role("data_manager")


def get_person_for(session: Session, principal: Principal, person_id: uuid.UUID) -> Person | None:
    """The person if `principal` may read their record: any officer, self, a minor's guardian."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    if principal.is_officer:
        return person
    if _is_self_or_guardian(session, principal, person):
        return person
    return None


def get_person_for_contact_change(
    session: Session, principal: Principal, person_id: uuid.UUID
) -> Person | None:
    """The person if `principal` may change their contacts and consents."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    if _manages_registry(principal):
        return person
    if _is_self_or_guardian(session, principal, person):
        return person
    return None


def get_person_for_registry_change(
    session: Session, principal: Principal, person_id: uuid.UUID
) -> Person | None:
    """The person if `principal` may change registry facts (names, residence, documents, …)."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    if _manages_registry(principal):
        return person
    return None


def person_by_national_id(session: Session, national_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.national_id == national_id))


def national_ids_registered(session: Session, national_ids: Iterable[str]) -> set[str]:
    """Which of these national identifiers the registry already holds."""
    query = select(Person.national_id).where(Person.national_id.in_(list(national_ids)))
    return set(session.scalars(query))


def municipality_exists(session: Session, code: str) -> bool:
    return session.get(Municipality, code) is not None


def municipality_codes_by_name(session: Session) -> dict[str, str]:
    """Code, Latin name and Cyrillic name (case-folded) → ISO code, for matching free text."""
    names: dict[str, str] = {}
    for code, name, name_mk in session.execute(
        select(Municipality.code, Municipality.name, Municipality.name_mk)
    ):
        names.update({code.casefold(): code, name.casefold(): code, name_mk.casefold(): code})
    return names


def documents_of(session: Session, person_id: uuid.UUID) -> list[Document]:
    query = select(Document).where(Document.person_id == person_id)
    return list(session.scalars(query.order_by(Document.expires_on, Document.kind)))


def document_number_taken(session: Session, *, kind: str, number: str) -> bool:
    query = select(Document.id).where(Document.kind == kind, Document.number == number)
    return session.scalar(query) is not None


def life_events_of(session: Session, person_id: uuid.UUID) -> list[LifeEvent]:
    query = select(LifeEvent).where(LifeEvent.person_id == person_id)
    return list(session.scalars(query.order_by(LifeEvent.occurred_on, LifeEvent.recorded_at)))


def contacts_of(session: Session, person_id: uuid.UUID) -> list[ContactEndpoint]:
    query = select(ContactEndpoint).where(ContactEndpoint.person_id == person_id)
    return list(
        session.scalars(query.order_by(ContactEndpoint.preference, ContactEndpoint.created_at))
    )


def contact_exists(session: Session, *, person_id: uuid.UUID, channel: str, address: str) -> bool:
    query = select(ContactEndpoint.id).where(
        ContactEndpoint.person_id == person_id,
        ContactEndpoint.channel == channel,
        ContactEndpoint.address == address,
    )
    return session.scalar(query) is not None


def guardians_of(session: Session, ward_id: uuid.UUID) -> list[tuple[GuardianLink, Person]]:
    query = (
        select(GuardianLink, Person)
        .join(Person, Person.id == GuardianLink.guardian_id)
        .where(GuardianLink.ward_id == ward_id)
        .order_by(GuardianLink.created_at)
    )
    return [(link, person) for link, person in session.execute(query)]


def wards_of(session: Session, guardian_id: uuid.UUID) -> list[tuple[GuardianLink, Person]]:
    query = (
        select(GuardianLink, Person)
        .join(Person, Person.id == GuardianLink.ward_id)
        .where(GuardianLink.guardian_id == guardian_id)
        .order_by(Person.birth_date)
    )
    return [(link, person) for link, person in session.execute(query)]


def guardian_link_exists(session: Session, *, guardian_id: uuid.UUID, ward_id: uuid.UUID) -> bool:
    query = select(GuardianLink.id).where(
        GuardianLink.guardian_id == guardian_id, GuardianLink.ward_id == ward_id
    )
    return session.scalar(query) is not None


# --- consent: an append-only ledger; what is in force is always computed from it ---


def consent_ledger(session: Session, person_id: uuid.UUID) -> list[ConsentEvent]:
    """Every consent event of the person, oldest first."""
    query = select(ConsentEvent).where(ConsentEvent.person_id == person_id)
    return list(session.scalars(query.order_by(ConsentEvent.recorded_at)))


def last_consent_instant(session: Session, person_id: uuid.UUID) -> datetime | None:
    query = select(ConsentEvent.recorded_at).where(ConsentEvent.person_id == person_id)
    return session.scalar(query.order_by(ConsentEvent.recorded_at.desc()).limit(1))


def consent_at(
    session: Session, person_id: uuid.UUID, *, purpose: str, channel: str, at: datetime
) -> bool | None:
    """Consent for `purpose` on `channel` as it stood at `at`; None when never answered."""

    def latest(scope: str) -> ConsentEvent | None:
        query = select(ConsentEvent).where(
            ConsentEvent.person_id == person_id,
            ConsentEvent.purpose == purpose,
            ConsentEvent.channel == scope,
            ConsentEvent.recorded_at <= at,
        )
        return session.scalars(query.order_by(ConsentEvent.recorded_at.desc()).limit(1)).first()

    decided = deciding_event(latest(channel), latest(ANY_CHANNEL))
    return None if decided is None else decided.granted


def deciding_event(own: ConsentEvent | None, general: ConsentEvent | None) -> ConsentEvent | None:
    """Which answer is in force for one channel, erring towards privacy.

    The channel's own answer stands against a later general *grant* (a "not by SMS" is not
    undone by "yes, contact me"), but a later general *withdrawal* ends every channel's grant.
    """
    if own is None:
        return general
    if general is not None and not general.granted and general.recorded_at > own.recorded_at:
        return general
    return own


@dataclass(frozen=True)
class ConsentInForce:
    purpose: str
    channel: str
    granted: bool
    decided_by: str  # "channel" or "any"
    since: datetime


def consents_in_force(ledger: Iterable[ConsentEvent]) -> list[ConsentInForce]:
    """Per purpose × channel, the answer in force after the whole ledger (oldest first)."""
    latest = {(event.purpose, event.channel): event for event in ledger}
    in_force = []
    for purpose in CONSENT_PURPOSES:
        for channel in CHANNELS:
            own, general = latest.get((purpose, channel)), latest.get((purpose, ANY_CHANNEL))
            event = deciding_event(own, general)
            if event is not None:
                decided_by = "channel" if event is own else ANY_CHANNEL
                in_force.append(
                    ConsentInForce(purpose, channel, event.granted, decided_by, event.recorded_at)
                )
    return in_force


def persons_named(session: Session, *, given: str, family: str, born: date) -> list[Person]:
    """People born on `born` whose names match, ignoring case: the birth date (indexed) narrows
    the search to a handful of rows, so names are compared here, alike on every database."""
    wanted = (given.strip().casefold(), family.strip().casefold())
    born_then = session.scalars(
        select(Person).where(Person.birth_date == born).order_by(Person.family_name, Person.id)
    )
    return [p for p in born_then if (p.given_name.casefold(), p.family_name.casefold()) == wanted]
