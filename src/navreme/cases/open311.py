"""Open311 GeoReport v2: the services we take and requests in from keyed clients.

A POST becomes a case through `actions.receive()` like any other door: once per client request
(the `Idempotency-Key` header, or the client's own `service_request_id`), its service_code taken
as the category, its point placed in the nearest municipality. What GET gives back is what the
specification calls public, and no more: no names or contacts, the citizen's text with e-mail
addresses and phone and personal numbers struck out, the street without the house number, and
the point rounded to about 100 m (open311_public.py). Keys: open311_keys.py.
"""

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.cases import actions, lookup
from navreme.cases.models import Case, CaseCategory, CaseEvent
from navreme.config import get_settings
from navreme.identity.principal import Principal

LANGUAGES = ("mk", "sq", "en")
DESCRIPTION_MAX = 4000  # the specification's limit
ACTOR = Principal(via="api_token")  # an Open311 client: audited as "token", the client in details


class Open311Error(Exception):
    """An error the specification's way: an HTTP status and a description for the client."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


# --- services -----------------------------------------------------------------------------------


def language(value: str | None) -> str:
    return value if value in LANGUAGES else get_settings().default_language


def name_in(row: Any, lang: str) -> str:
    """A category's or department's name in `lang` (mk, sq, en)."""
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
            "service_name": name_in(row, lang),
            "description": row.description_en,
            "metadata": False,
            "type": "realtime",
            "keywords": row.keywords,
            "group": row.group,
        }  # fmt: skip
        for row in rows
    ]


def _public_category(session: Session, code: str) -> lookup.Category | None:
    row = lookup.snapshot(session).categories.get(code)
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
        text=values.get("description") or name_in(category, lang), channel="open311",
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


def local_time(moment: datetime | None) -> str | None:
    """A moment as the specification writes it: W3C, in the country's zone."""
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(get_settings().timezone)).isoformat(timespec="seconds")


def _notice(case: Case, lang: str) -> str:
    due = local_time(case.resolve_due_at)
    return NOTICES[lang].format(due=due[:10] if due else "—")


def nearest_municipality(
    session: Session, latitude: float | None, longitude: float | None
) -> str | None:  # fmt: skip
    """The municipality whose centre is nearest the point, within 30 km; None elsewhere (from
    the process's snapshot of the centres, cases/lookup.py)."""
    if latitude is None or longitude is None:
        return None
    return lookup.snapshot(session).nearest(latitude, longitude)
