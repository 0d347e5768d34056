"""Telling the citizen: every public step of their case goes out through the messaging hub.

Purpose `case_updates`, lane bulk. A person gets it on their own ladder (consent and quiet hours
are the hub's business); an anonymous sender who left a contact gets it on exactly that
address; nobody to tell (no contact, or no channel with consent to case updates), nothing is
written. The message is in the person's language, else the
language the request was written in, else the country's default.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases import lookup
from navreme.cases.models import Case
from navreme.config import get_settings
from navreme.messaging import templates
from navreme.messaging.actions import channels, send
from navreme.messaging.choices import ladder_for
from navreme.messaging.models import Message
from navreme.registry.models import Person

PURPOSE = "case_updates"
# The event kind → the message template that tells it.
TEMPLATES = {
    "received": "case_received",
    "accepted": "case_accepted",
    "rejected": "case_rejected",
    "transferred": "case_transferred",
    "note": "case_note",
    "merged": "case_note",
    "resolved": "case_resolved",
    "closed": "case_closed",
    "reopened": "case_reopened",
}


def case_link(reference: str) -> str:
    """Where the citizen reads and rates the case (the web page /me/cases/{reference})."""
    return f"/me/cases/{reference}"


def tell(session: Session, case: Case, kind: str, *, note: str = "") -> Message | None:
    """Tell the citizen of one public step; None when there is nobody to tell."""
    template = TEMPLATES[kind]
    person = session.get(Person, case.person_id) if case.person_id is not None else None
    to = _anonymous_address(case) if person is None else None
    if person is None and to is None:
        return None
    if person is not None and not _reachable(session, person):
        return None
    language = _language(person, case)
    return send(
        session, person_id=person.id if person else None, purpose=PURPOSE, template=template,
        context=_context(session, case, language, note), lane="bulk", language=language,
        subject=("case", case.id), to=to,
    )  # fmt: skip


def tell_received(session: Session, case: Case) -> Message | None:
    """The hook `receive()` calls for a new case."""
    return tell(session, case, "received")


def _reachable(session: Session, person: Person) -> bool:
    """A channel the person consented to case updates on. Without one the hub would turn every
    step into an officer's outreach task; the case page (/me/cases/…) shows it instead."""
    return bool(ladder_for(session, channels(), person.id, PURPOSE, clock.now()))


def _anonymous_address(case: Case) -> tuple[str, str] | None:
    if case.contact_channel and case.contact_address:
        return case.contact_channel, case.contact_address
    return None


def _language(person: Person | None, case: Case) -> str:
    for language in (person.language if person else None, case.language):
        if language in templates.LANGUAGES:
            return str(language)
    return get_settings().default_language


def _context(session: Session, case: Case, language: str, note: str) -> dict[str, Any]:
    known = lookup.snapshot(session)  # names, no read per message (cases/lookup.py)
    category = known.categories.get(case.category_code or "")
    department = known.departments.get(case.department_id) if case.department_id else None
    return {
        "reference": case.reference,
        "category": getattr(category, f"name_{language}") if category else "",
        "department": getattr(department, f"name_{language}") if department else "",
        "note": note,
        "link": case_link(case.reference),
    }
