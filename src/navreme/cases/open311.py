"""Open311 GeoReport v2: the services we take, requests in (keyed clients), requests out (public).

A POST becomes a case through `actions.receive()` like any other door: once per client request
(the `Idempotency-Key` header, or the client's own `service_request_id`), its service_code taken
as the category, its point placed in the nearest municipality. What GET gives back is what the
specification calls public, and no more: no names or contacts, the citizen's text with e-mail
addresses and phone and personal numbers struck out, the street without the house number, and
the point rounded to about 100 m.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases import actions
from navreme.cases.models import Case, CaseCategory, CaseEvent, Open311Key
from navreme.config import get_settings
from navreme.identity.models import Department
from navreme.identity.principal import Principal
from navreme.registry.models import Municipality

KEY_PREFIX = "o311_"
LANGUAGES = ("mk", "sq", "en")
# Our statuses as Open311's two: "closed" once the department says it is done (or refused it).
OPEN311_OPEN = ("triage", "new", "accepted", "in_progress")
OPEN311_CLOSED = ("resolved", "closed", "rejected", "merged")
# Only text sent to this public API is published; a letter, a call or a chat message was not
# written for the world to read, so its description stays out of the public list.
PUBLISHED_TEXT_CHANNELS = ("open311",)
DESCRIPTION_MAX = 4000  # the specification's limit
SEARCH_DAYS = 90  # the specification's default and widest date range
PAGE_SIZE_MAX = 1000
NEAREST_WITHIN_KM = 30.0  # farther than this from every municipality centre: no municipality
ACTOR = Principal(via="api_token")  # an Open311 client: audited as "token", the client in details


class Open311Error(Exception):
    """An error the specification's way: an HTTP status and a description for the client."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


# --- keys ----------------------------------------------------------------------------------------


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(session: Session, *, client: str, actor: Principal | None) -> str:
    """A new key for `client`, returned once and stored only hashed; an earlier key stops working."""
    client = client.strip()
    if not client or len(client) > 80:
        raise Open311Error(400, "A client name is 1 to 80 characters.")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = session.scalar(select(Open311Key).where(Open311Key.client == client))
    rotated = row is not None
    row = row or Open311Key(client=client)
    row.prefix, row.key_hash, row.revoked_at = prefix, _hash(key), None
    session.add(row)
    session.flush()
    record(
        session, action="open311_key.rotate" if rotated else "open311_key.create",
        actor_kind=actor.audit_kind if actor else "system", actor_id=actor.id if actor else None,
        object_kind="open311_key", object_id=row.id, details={"client": client},
    )  # fmt: skip
    return key


def revoke_key(session: Session, *, client: str, actor: Principal | None) -> bool:
    """Stop `client`'s key; False when there is no such client."""
    row = session.scalar(select(Open311Key).where(Open311Key.client == client))
    if row is None:
        return False
    row.revoked_at = row.revoked_at or clock.now()
    record(
        session, action="open311_key.revoke", actor_kind=actor.audit_kind if actor else "system",
        actor_id=actor.id if actor else None, object_kind="open311_key", object_id=row.id,
        details={"client": client},
    )  # fmt: skip
    return True


def client_for_key(session: Session, key: str | None) -> str:
    """The client a key belongs to; Open311Error 403 when it is missing, unknown or revoked."""
    if not key:
        raise Open311Error(403, "api_key is required to submit a request.")
    prefix, _, rest = key.removeprefix(KEY_PREFIX).partition("_")
    row = None
    if key.startswith(KEY_PREFIX) and prefix and rest:
        row = session.scalar(select(Open311Key).where(Open311Key.prefix == prefix))
    if row is None:
        raise Open311Error(403, "Invalid api_key.")
    if not secrets.compare_digest(row.key_hash, _hash(key)) or row.revoked_at is not None:
        record(
            session, action="open311.submit", actor_kind="token", object_kind="open311_key",
            object_id=row.id, outcome="denied", details={"client": row.client},
        )  # fmt: skip
        raise Open311Error(403, "Invalid api_key.")
    return row.client


# --- services -----------------------------------------------------------------------------------


def language(value: str | None) -> str:
    return value if value in LANGUAGES else get_settings().default_language


def _name(row: Any, lang: str) -> str:
    return str(getattr(row, f"name_{lang}"))


def services(session: Session, *, lang: str) -> list[dict[str, Any]]:
    """The public, active categories as Open311 services."""
    rows = session.scalars(
        select(CaseCategory)
        .where(CaseCategory.public.is_(True), CaseCategory.active.is_(True))
        .order_by(CaseCategory.group, CaseCategory.code)
    )
    return [
        {
            "service_code": row.code,
            "service_name": _name(row, lang),
            "description": row.description_en,
            "metadata": False,
            "type": "realtime",
            "keywords": row.keywords,
            "group": row.group,
        }  # fmt: skip
        for row in rows
    ]


def _public_category(session: Session, code: str) -> CaseCategory | None:
    row = session.get(CaseCategory, code)
    return row if row is not None and row.public and row.active else None


def service_definition(session: Session, code: str) -> dict[str, Any]:
    """No extra attributes: every service takes the standard fields only (metadata false)."""
    if _public_category(session, code) is None:
        raise Open311Error(404, f"Service {code!r} not found.")
    return {"service_code": code, "attributes": []}


# --- requests in --------------------------------------------------------------------------------

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{6,20}$")
FIELD_LIMITS = {
    "service_code": 48, "address_string": 300, "address_id": 100, "email": 320,
    "device_id": 100, "account_id": 100, "first_name": 100, "last_name": 100, "phone": 30,
    "media_url": 1000, "description": DESCRIPTION_MAX, "service_request_id": 100, "lang": 2,
    "jurisdiction_id": 100, "lat": 40, "long": 40,
}  # fmt: skip


@dataclass(frozen=True)
class Submitted:
    reference: str
    created: bool
    notice: str


def submit(
    session: Session, fields: Mapping[str, str], *, client: str, idempotency: str | None
) -> Submitted:
    """Make the case for one POST, or give back the one made for the same client request."""
    values = _checked(fields)
    category = _public_category(session, values.get("service_code", ""))
    if category is None:
        raise Open311Error(400, "service_code not found: GET services.json lists them.")
    latitude, longitude = _point(values)
    if latitude is None and not values.get("address_string") and not values.get("address_id"):
        raise Open311Error(
            400, "A location is required: lat and long, address_string or address_id."
        )
    lang = language(values.get("lang"))
    own_id = idempotency or values.get("service_request_id")
    submission = actions.Submission(
        text=values.get("description") or _name(category, lang), channel="open311",
        idempotency_key=_idempotency_key(client, own_id) if own_id else None,
        open311_client=client, category_code=category.code, language=values.get("lang"),
        municipality_code=nearest_municipality(session, latitude, longitude),
        address=values.get("address_string"), latitude=latitude, longitude=longitude,
        media_url=values.get("media_url"), **_contact(values),
    )  # fmt: skip
    try:
        made = actions.receive(session, submission, actor=ACTOR)
    except actions.CaseError as refused:
        raise Open311Error(400, str(refused)) from None
    if made.created:
        _note_sender(session, made.case, values)
    return Submitted(made.case.reference, made.created, _notice(made.case, lang))


def _checked(fields: Mapping[str, str]) -> dict[str, str]:
    values = {name: value.strip() for name, value in fields.items() if value and value.strip()}
    for name, limit in FIELD_LIMITS.items():
        if len(values.get(name, "")) > limit:
            raise Open311Error(400, f"{name} is longer than {limit} characters.")
    if "email" in values and not EMAIL.match(values["email"]):
        raise Open311Error(400, "email is not an e-mail address.")
    if "phone" in values and not PHONE.match(values["phone"]):
        raise Open311Error(400, "phone is not a phone number.")
    media = values.get("media_url", "")
    if media and not media.lower().startswith(("https://", "http://")):
        raise Open311Error(400, "media_url must be an http(s) URL.")
    return values


def _point(values: Mapping[str, str]) -> tuple[float | None, float | None]:
    if "lat" not in values and "long" not in values:
        return None, None
    try:
        latitude, longitude = float(values["lat"]), float(values["long"])
    except (KeyError, ValueError):
        raise Open311Error(400, "lat and long must both be decimal degrees.") from None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise Open311Error(400, "lat and long must both be decimal degrees.")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise Open311Error(400, "lat must be within ±90 and long within ±180.")
    return latitude, longitude


def _idempotency_key(client: str, own_id: str) -> str:
    key = f"{client}:{own_id}"
    if len(key) <= 120:  # the column's width
        return key
    return f"{client[:50]}:#{hashlib.sha256(key.encode()).hexdigest()[:64]}"


def _contact(values: Mapping[str, str]) -> dict[str, str | None]:
    if "email" in values:
        return {"contact_channel": "email", "contact_address": values["email"]}
    if "phone" in values:
        return {"contact_channel": "sms", "contact_address": values["phone"]}
    return {"contact_channel": None, "contact_address": None}


def _note_sender(session: Session, case: Case, values: Mapping[str, str]) -> None:
    """Who sent it, for the officers only (never published, never logged)."""
    sender = {
        name: values[name]
        for name in ("first_name", "last_name", "device_id", "account_id", "address_id", "phone")
        if name in values
    }
    if sender:
        session.add(CaseEvent(case_id=case.id, kind="note", actor_kind="system",
                              details={"open311_sender": sender}))  # fmt: skip


NOTICES = {
    "mk": "Примено. Одговорот се очекува до {due}.",
    "sq": "U pranua. Përgjigja pritet deri më {due}.",
    "en": "Received. Expected to be resolved by {due}.",
}


def _notice(case: Case, lang: str) -> str:
    due = _local(case.resolve_due_at)
    return NOTICES[lang].format(due=due[:10] if due else "—")


def nearest_municipality(
    session: Session, latitude: float | None, longitude: float | None
) -> str | None:  # fmt: skip
    """The municipality whose centre is nearest the point, within 30 km; None elsewhere."""
    if latitude is None or longitude is None:
        return None
    box = NEAREST_WITHIN_KM / 111.0
    rows = session.execute(
        select(Municipality.code, Municipality.latitude, Municipality.longitude).where(
            Municipality.latitude.between(latitude - box, latitude + box),
            Municipality.longitude.between(longitude - 2 * box, longitude + 2 * box),
        )
    ).all()
    scale = math.cos(math.radians(latitude))
    distances = [
        (111.0 * math.hypot(row.latitude - latitude, (row.longitude - longitude) * scale), row.code)
        for row in rows
    ]
    near = [item for item in distances if item[0] <= NEAREST_WITHIN_KM]
    return min(near)[1] if near else None


# --- requests out -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestQuery:
    references: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    page_size: int = PAGE_SIZE_MAX


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _when(params: Mapping[str, str], name: str) -> datetime | None:
    value = params.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, f"{name} must be a W3C date-time, e.g. 2026-01-01T00:00:00Z."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(params: Mapping[str, str], name: str, default: int, most: int) -> int:
    value = params.get(name) or str(default)
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise Open311Error(400, f"{name} must be a whole number from 1 to {most}.")
    return int(value)


def parse_query(params: Mapping[str, str]) -> RequestQuery:
    """Check the GET requests parameters; Open311Error 400 on a bad one."""
    statuses = _list(params.get("status"))
    if any(status not in ("open", "closed") for status in statuses):
        raise Open311Error(400, "status is open, closed or both (comma separated).")
    references = _list(params.get("service_request_id"))
    if len(references) > PAGE_SIZE_MAX:
        raise Open311Error(400, f"At most {PAGE_SIZE_MAX} service_request_id at once.")
    start, end = _when(params, "start_date"), _when(params, "end_date")
    if start and end and end - start > timedelta(days=SEARCH_DAYS):
        raise Open311Error(
            400, f"start_date and end_date may not span more than {SEARCH_DAYS} days."
        )
    return RequestQuery(
        references=references, service_codes=_list(params.get("service_code")),
        statuses=statuses, start=start, end=end,
        page=_number(params, "page", 1, 1_000_000),
        page_size=_number(params, "page_size", PAGE_SIZE_MAX, PAGE_SIZE_MAX),
    )  # fmt: skip


def _window(query: RequestQuery) -> tuple[datetime, datetime]:
    """Most recent 90 days unless said otherwise; one end given: 90 days from it (or to now)."""
    days = timedelta(days=SEARCH_DAYS)
    if query.start and query.end:
        return query.start, query.end
    if query.start:
        return query.start, min(query.start + days, clock.now())
    end = query.end or clock.now()
    return end - days, end


def find_requests(session: Session, query: RequestQuery, *, lang: str) -> list[dict[str, Any]]:
    """Public service requests matching `query`, the newest first (service_request_id: those)."""
    statement = select(Case, CaseCategory).join(
        CaseCategory, Case.category_code == CaseCategory.code
    )
    statement = statement.where(CaseCategory.public.is_(True))
    if query.references:
        statement = statement.where(Case.reference.in_(query.references))
    else:
        start, end = _window(query)
        statement = statement.where(Case.created_at >= start, Case.created_at <= end)
        if query.service_codes:
            statement = statement.where(Case.category_code.in_(query.service_codes))
        if query.statuses and len(query.statuses) == 1:
            wanted = OPEN311_OPEN if query.statuses[0] == "open" else OPEN311_CLOSED
            statement = statement.where(Case.status.in_(wanted))
    statement = (
        statement.order_by(Case.created_at.desc(), Case.id)
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    rows = session.execute(statement).all()
    return _render(session, [(row.Case, row.CaseCategory) for row in rows], lang)


def find_request(session: Session, reference: str, *, lang: str) -> dict[str, Any]:
    found = find_requests(session, RequestQuery(references=(reference,)), lang=lang)
    if not found:
        raise Open311Error(404, f"Service request {reference!r} not found.")
    return found[0]


def _render(
    session: Session, rows: list[tuple[Case, CaseCategory]], lang: str
) -> list[dict[str, Any]]:  # fmt: skip
    notes = _status_notes(session, [case.id for case, _ in rows])
    department_ids = {case.department_id for case, _ in rows if case.department_id}
    departments = {
        row.id: _name(row, lang)
        for row in session.scalars(select(Department).where(Department.id.in_(department_ids)))
    }
    return [
        public_request(case, category, lang=lang, notes=notes.get(case.id),
                       agency=departments.get(case.department_id) if case.department_id else None)
        for case, category in rows
    ]  # fmt: skip


def _status_notes(session: Session, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The latest note told to the citizen, per case."""
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.note)
        .where(CaseEvent.case_id.in_(case_ids), CaseEvent.public.is_(True))
        .where(CaseEvent.note.is_not(None), CaseEvent.note != "")
        .order_by(CaseEvent.at)
    ).all()
    return {row.case_id: row.note for row in rows}


def public_request(
    case: Case, category: CaseCategory, *, lang: str, notes: str | None, agency: str | None
) -> dict[str, Any]:
    """One request as the specification shows it to anyone: nothing that names a person."""
    closed = case.status in OPEN311_CLOSED
    return {
        "service_request_id": case.reference,
        "status": "closed" if closed else "open",
        "status_notes": redact(case.resolution if closed and case.resolution else notes),
        "service_name": _name(category, lang), "service_code": category.code,
        "description": redact(case.text) if case.channel in PUBLISHED_TEXT_CHANNELS else None,
        "agency_responsible": agency, "service_notice": None,
        "requested_datetime": _local(case.created_at),
        "updated_datetime": _local(case.updated_at),
        "expected_datetime": _local(case.resolve_due_at),
        "address": street_level(case.address), "address_id": None, "zipcode": None,
        "lat": _rounded(case.latitude), "long": _rounded(case.longitude),
        "media_url": case.media_url,
    }  # fmt: skip


def _local(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(get_settings().timezone)).isoformat(timespec="seconds")


def _rounded(degrees: float | None) -> float | None:
    return None if degrees is None else round(degrees, 3)  # 0.001° ≈ 111 m


REDACTIONS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[e-mail]"),
    (re.compile(r"(?<!\w)\d{13}(?!\w)"), "[personal number]"),  # EMBG
    (re.compile(r"(?<![\w+])\d{3}-\d{2}-\d{4}(?!\w)"), "[personal number]"),  # US SSN
)
PHONE_LIKE = re.compile(r"(?<![\w+])\+?\d[\d ()./-]{5,18}\d(?!\w)")
DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(char.isdigit() for char in found)
    return found if digits < 7 or DATE_LIKE.fullmatch(found) else "[phone]"


def redact(text: str | None) -> str | None:
    """The text with e-mail addresses, personal numbers and phone numbers struck out."""
    if text is None:
        return None
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return PHONE_LIKE.sub(_phone, text)


HOUSE_NUMBER = re.compile(r"^(\d+[A-Za-z]?([-/]\d+[A-Za-z]?)?|бр\.?|br\.?|no\.?)$", re.IGNORECASE)


def street_level(address: str | None) -> str | None:
    """The address without its house number: "49 S Huntington Ave, Jamaica Plain" →
    "S Huntington Ave, Jamaica Plain"; "ул. Партизанска 12, Скопје" → "ул. Партизанска, Скопје"."""
    if not address:
        return None
    first, sep, rest = address.partition(",")
    words = [word for word in first.split() if not HOUSE_NUMBER.match(word)]
    return (" ".join(words) + sep + rest).strip() or None
