"""Rule builders: a valid definition per trigger kind, published through the real actions,
and the registry facts (documents, life events, guardians) the triggers look at."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.catalogue.actions import load_demo_catalogue
from navreme.catalogue.models import Service
from navreme.registry.models import Document, GuardianLink, LifeEvent, Person
from navreme.rules import actions
from navreme.rules.models import Offer, Rule, RuleRun

_numbers = itertools.count(1)
_codes = itertools.count(1)

TEXT = {"mk": "Текст {service}", "sq": "Tekst {service}", "en": "Text {service}"}

TRIGGERS: dict[str, dict[str, Any]] = {
    "document_expiry": {"kind": "document_expiry", "document": "passport",
                        "horizons_days": [90, 30, 7]},
    "mandated_replacement": {"kind": "mandated_replacement", "documents": ["id_card"],
                             "issued_before": "2019-02-12", "deadline": "2027-06-30"},
    "life_event": {"kind": "life_event", "event": "birth", "within_days": 60},
    "age_reached": {"kind": "age_reached", "age": 18, "within_days": 30},
    "eligibility": {"kind": "eligibility", "period": "yearly"},
}  # fmt: skip
SERVICES = {
    "document_expiry": "passport",
    "mandated_replacement": "id-card",
    "life_event": "birth-certificate",
    "age_reached": "first-adult-id-card",
    "eligibility": "child-benefit",
}


def definition(kind: str = "eligibility", *, trigger: dict[str, Any] | None = None,
               **overrides: Any) -> dict[str, Any]:  # fmt: skip
    """A valid definition dict for a trigger kind; `trigger` keys override the trigger's."""
    data: dict[str, Any] = {
        "code": f"test-{kind.replace('_', '-')}-{next(_codes)}",
        "title": TEXT,
        "service": SERVICES[kind],
        "level": "offer",
        "legal_basis": "Law on Testing",
        "reason": TEXT,
        "trigger": {**TRIGGERS[kind], **(trigger or {})},
    }
    data.update(overrides)
    return data


def catalogue(session: Session) -> None:
    if not session.scalar(select(Service.id).where(Service.code == "passport")):
        load_demo_catalogue(session)
        session.flush()


def published_rule(session: Session, kind: str = "eligibility", *,
                   trigger: dict[str, Any] | None = None, **overrides: Any) -> Rule:  # fmt: skip
    """Create and publish a rule version (loads the demo catalogue when missing)."""
    catalogue(session)
    rule = actions.create_rule_version(
        session, definition(kind, trigger=trigger, **overrides), actor=None
    )
    actions.publish_rule(session, rule, actor=None)
    session.flush()
    return rule


def document(session: Session, person: Person, *, expires_on: date, kind: str = "passport",
             issued_on: date | None = None, status: str = "valid") -> Document:  # fmt: skip
    row = Document(
        person_id=person.id, kind=kind, number=f"T{next(_numbers):09d}",
        issued_on=issued_on or expires_on - timedelta(days=3650), expires_on=expires_on,
        status=status,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def life_event(session: Session, person: Person, *, kind: str = "birth",
               occurred_on: date) -> LifeEvent:  # fmt: skip
    row = LifeEvent(person_id=person.id, kind=kind, occurred_on=occurred_on)
    session.add(row)
    session.flush()
    return row


def guardian(session: Session, guardian_row: Person, ward: Person,
             kind: str = "parent") -> GuardianLink:  # fmt: skip
    row = GuardianLink(guardian_id=guardian_row.id, ward_id=ward.id, kind=kind)
    session.add(row)
    session.flush()
    return row


def move_abroad(session: Session, person: Person, country: str = "DE") -> Person:
    person.municipality_code, person.abroad_country = None, country
    session.flush()
    return person


def household(session: Session, *members: Person) -> uuid.UUID:
    shared = uuid.uuid4()
    for member in members:
        member.household_id = shared
    session.flush()
    return shared


def offers(session: Session, rule: Rule | str | None = None, *,
           person: Person | None = None) -> list[Offer]:  # fmt: skip
    query = select(Offer).order_by(Offer.created_at, Offer.person_id)
    if rule is not None:
        query = query.where(Offer.rule_code == (rule if isinstance(rule, str) else rule.code))
    if person is not None:
        query = query.where(Offer.person_id == person.id)
    session.expire_all()
    return list(session.scalars(query))


def runs(session: Session, rule: Rule | str) -> list[RuleRun]:
    code = rule if isinstance(rule, str) else rule.code
    return list(
        session.scalars(select(RuleRun).where(RuleRun.rule_code == code).order_by(RuleRun.as_of))
    )
