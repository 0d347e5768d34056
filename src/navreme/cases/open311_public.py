"""Open311 service requests as anyone may read them: the specification's public fields only.

No names or contacts; the citizen's text (only when it was sent to this public API) with e-mail
addresses, phone and personal numbers struck out; the street without the house number; the
point rounded to about 100 m; the department as `agency_responsible`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases.models import Case, CaseCategory, CaseEvent
from navreme.cases.open311 import Open311Error, local_time, name_in
from navreme.identity.models import Department

# Our statuses as Open311's two: "closed" once the department says it is done (or refused it).
OPEN311_OPEN = ("triage", "new", "accepted", "in_progress")
OPEN311_CLOSED = ("resolved", "closed", "rejected", "merged")
# Only text sent to this public API is published; a letter, a call or a chat message was not
# written for the world to read, so its description stays out of the public list.
PUBLISHED_TEXT_CHANNELS = ("open311",)
SEARCH_DAYS = 90  # the specification's default and widest date range
PAGE_SIZE_MAX = 1000


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
        row.id: name_in(row, lang)
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
        "service_name": name_in(category, lang), "service_code": category.code,
        "description": redact(case.text) if case.channel in PUBLISHED_TEXT_CHANNELS else None,
        "agency_responsible": agency, "service_notice": None,
        "requested_datetime": local_time(case.created_at),
        "updated_datetime": local_time(case.updated_at),
        "expected_datetime": local_time(case.resolve_due_at),
        "address": street_level(case.address), "address_id": None, "zipcode": None,
        "lat": _rounded(case.latitude), "long": _rounded(case.longitude),
        "media_url": case.media_url,
    }  # fmt: skip


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
