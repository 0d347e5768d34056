"""Intake: a request from any door becomes exactly one case, classified and routed by data.

`receive()` is the one way in — web form, Open311, an officer recording a call or a counter
visit, a message on any channel that is not a reply to an offer. It is idempotent: the same
idempotency key, or the same inbound message, gives back the case made the first time, however
often or concurrently it is sent (the unique indexes decide, not a read-then-write).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases import calendar, lookup, notify
from navreme.cases.models import Case, CaseCategory, CaseEvent, RoutingRule
from navreme.config import get_settings
from navreme.db import is_postgres, new_id
from navreme.identity.models import Department
from navreme.identity.principal import Principal
from navreme.registry.models import Municipality

CATEGORIES_FILE = Path(__file__).parent / "data" / "categories.json"
TRIAGE_BELOW = 0.5  # a prediction less sure than this goes to a person in triage
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read over the phone


class CaseError(Exception):
    """A request that cannot become a case as sent (unknown category, empty text, …)."""


@dataclass(frozen=True)
class Submission:
    """What arrived. `category_code` when the sender chose one (an Open311 service_code, the
    web form's list, an officer); otherwise the classifier predicts it."""

    text: str
    channel: str
    person_id: uuid.UUID | None = None
    contact_channel: str | None = None
    contact_address: str | None = None
    idempotency_key: str | None = None
    inbound_id: uuid.UUID | None = None
    open311_client: str | None = None
    category_code: str | None = None
    municipality_code: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    media_url: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Received:
    case: Case
    created: bool  # False: the same submission again; this is the case made the first time


# --- categories and routing (data, not code) ---------------------------------------------------


def load_categories(session: Session) -> int:
    """Create or update the request categories and their country-wide routing rules from
    `data/categories.json`; needs the catalogue's departments. Returns how many categories."""
    data = json.loads(CATEGORIES_FILE.read_text(encoding="utf-8"))
    departments = {d.code: d.id for d in session.scalars(select(Department))}
    for item in data["categories"]:
        row = session.get(CaseCategory, item["code"]) or CaseCategory(code=item["code"])
        row.group, row.description_en, row.keywords = (
            item["group"],
            item["description"],
            item["keywords"],
        )
        row.name_mk, row.name_sq, row.name_en = (item["name"][lang] for lang in ("mk", "sq", "en"))
        row.accept_hours, row.resolve_days = item["accept_hours"], item["resolve_days"]
        session.add(row)
        session.flush()
        department_id = departments.get(item["department"] or "")
        anywhere = session.scalar(
            select(RoutingRule).where(
                RoutingRule.category_code == row.code, RoutingRule.municipality_code.is_(None)
            )
        )
        if department_id is not None and anywhere is None:
            session.add(RoutingRule(category_code=row.code, department_id=department_id))
    session.flush()
    return len(data["categories"])


def route(session: Session, category_code: str, municipality_code: str | None) -> uuid.UUID | None:
    """The department for a category in an area: the area's own rule, else the country-wide
    one, else None (triage). From the process's snapshot of the rules (cases/lookup.py)."""
    return lookup.snapshot(session).route(category_code, municipality_code)


# --- receiving ----------------------------------------------------------------------------------


def new_reference() -> str:
    return "NV-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


def receive(session: Session, submission: Submission, *, actor: Principal) -> Received:
    """Make the case for a submission, or return the one already made for it.

    New cases are the common path, so nothing is read first: the INSERT's unique indexes tell
    a repeat (it stores nothing), and only then is the case made the first time read."""
    text = submission.text.strip()
    if not text:
        raise CaseError("A request needs some text.")
    known = lookup.snapshot(session)  # categories and routing rules, no read per case
    try:
        chosen = _chosen_category(known, submission.category_code)
    except CaseError:
        existing = _already_received(session, submission)  # a repeat still gets its case
        if existing is not None:
            return Received(existing, created=False)
        raise
    category_code, predicted, confidence, model = _classify(text, chosen)
    category = known.categories.get(category_code) if category_code else None
    department_id = (
        known.route(category_code, submission.municipality_code) if category_code else None
    )
    triage = department_id is None or (chosen is None and confidence < TRIAGE_BELOW)
    now, settings = clock.now(), get_settings()
    where = {"zone": settings.timezone, "country": settings.country}
    accept_hours = category.accept_hours if category else 8
    resolve_days = category.resolve_days if category else 10
    values: dict[str, Any] = {
        "id": uuid.uuid4(), "reference": new_reference(), "person_id": submission.person_id,
        "contact_channel": submission.contact_channel,
        "contact_address": submission.contact_address, "channel": submission.channel,
        "idempotency_key": submission.idempotency_key, "inbound_id": submission.inbound_id,
        "open311_client": submission.open311_client, "text": text,
        "language": submission.language,
        "category_code": None if triage and chosen is None else category_code,
        "predicted_category": predicted, "confidence": confidence, "classified_by": model,
        "department_id": None if triage else department_id,
        "municipality_code": submission.municipality_code, "address": submission.address,
        "latitude": submission.latitude, "longitude": submission.longitude,
        "media_url": submission.media_url, "status": "triage" if triage else "new",
        "accept_due_at": calendar.add_working_time(now, timedelta(hours=accept_hours), **where),
        "resolve_due_at": calendar.add_working_days(now, resolve_days, **where),
        "sla_state": "on_time", "created_at": now, "updated_at": now,
    }  # fmt: skip
    for _attempt in range(3):
        case = _insert(session, values)
        if case is not None:
            break
        # the same submission was received before (or a concurrent one won the race) …
        existing = _already_received(session, submission)
        if existing is not None:
            return Received(existing, created=False)
        _known_municipality(session, submission.municipality_code)  # … or there is no such area
        values["reference"] = new_reference()  # … or, once in 10^12, the reference was taken
    else:
        raise CaseError("Could not store the case; please send it again.")
    _events(session, case, actor, values)
    record(
        session, action="case.receive", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="case", object_id=case.id,
        details={"channel": case.channel, "status": case.status, "category": case.category_code},
    )  # fmt: skip
    notify.tell_received(session, case)
    return Received(case, created=True)


def _already_received(session: Session, submission: Submission) -> Case | None:
    if submission.idempotency_key is not None:
        found = session.scalar(
            select(Case).where(Case.idempotency_key == submission.idempotency_key)
        )
        if found is not None:
            return found
    if submission.inbound_id is not None:
        return session.scalar(select(Case).where(Case.inbound_id == submission.inbound_id))
    return None


def _known_municipality(session: Session, code: str | None) -> None:
    """Asked only when the INSERT stored nothing: an unknown code is a CaseError, never the
    foreign key's IntegrityError (a 500, found by T14)."""
    if code is not None and session.get(Municipality, code) is None:
        raise CaseError(f"Unknown municipality {code!r}.")


def _chosen_category(known: lookup.Snapshot, code: str | None) -> lookup.Category | None:
    if code is None:
        return None
    category = known.categories.get(code)
    if category is None or not category.active:
        raise CaseError(f"Unknown category {code!r}.")
    return category


def _classify(
    text: str, chosen: lookup.Category | None
) -> tuple[str | None, str | None, float, str]:  # fmt: skip
    """(category, predicted category, confidence, by whom). A category the sender chose (an
    Open311 service_code, the web form's list, an officer) is taken as it is."""
    if chosen is not None:
        return chosen.code, None, 1.0, "sender"
    from navreme.cases.classifier import classify

    prediction = classify(text)
    return prediction.label, prediction.label, float(prediction.confidence), prediction.model


def _insert(session: Session, values: dict[str, Any]) -> Case | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the whole row: the unique indexes make a repeat
    a no-op (None), and a new case comes back from the same statement, in the session's identity
    map, without a read after it. With a municipality it is INSERT … SELECT … WHERE EXISTS (that
    municipality): an unknown one stores nothing either (None) instead of breaking the foreign
    key, which would abort a PostgreSQL transaction; receive() then tells which it was."""
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    code = values["municipality_code"]
    if code is None:
        statement = upsert(Case).values(**values)
    else:
        columns = Case.__table__.c
        row = select(*(bindparam(name, value, type_=columns[name].type)
                       for name, value in values.items()))  # fmt: skip
        known = exists().where(Municipality.code == code)
        statement = upsert(Case).from_select(list(values), row.where(known))
    return session.scalars(statement.on_conflict_do_nothing().returning(Case)).one_or_none()


# With RETURNING, SQLAlchemy sends a list of rows as one INSERT … VALUES (…), (…), (…)
# ("insertmanyvalues") on both databases, from a statement compiled once per process (a
# statement built from multi-row .values() is compiled anew every time).
_INSERT_EVENTS = insert(CaseEvent.__table__).returning(CaseEvent.__table__.c.id)


def _events(session: Session, case: Case, actor: Principal, values: dict[str, Any]) -> None:
    """Received, classified, routed: one INSERT of three rows, every column given."""
    common = {"case_id": case.id, "at": values["created_at"], "note": None}
    rows = [
        {"kind": "received", "actor_kind": actor.audit_kind, "actor_id": actor.id,
         "department_id": None, "public": True, "details": {"channel": case.channel}},
        {"kind": "classified", "actor_kind": "system", "actor_id": None, "department_id": None,
         "public": False, "details": {"predicted": case.predicted_category,
                                      "confidence": case.confidence, "by": case.classified_by}},
        {"kind": "routed", "actor_kind": "system", "actor_id": None,
         "department_id": case.department_id, "public": False,
         "details": {"status": case.status, "category": case.category_code}},
    ]  # fmt: skip
    session.execute(_INSERT_EVENTS, [{"id": new_id(), **common, **row} for row in rows])
