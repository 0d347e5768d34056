"""The public, anonymised feed of handled cases (Atom and JSON Feed).

`/open/cases.atom` (Atom 1.0) and `/open/cases.json` (JSON Feed 1.1), no sign-in: the cases
closed in the last 90 days in public categories, newest first, optionally for one category
and/or municipality (`?category=waste&municipality=MK-101`), and per category × municipality
the count and median working days taken.

What is published of a case: its reference, category, municipality, the day it was received,
the day it was closed, working days taken, and the public resolution text after redaction.
Never a person id, contact, address or coordinates, nor the request's own text. Redaction is
conservative: e-mail addresses, web addresses, phone and personal numbers (any run of six or
more digits) and the person's own names are cut out; a text that still looks as if it could
name someone (a title such as "Mr" / "г-дин" / "z.", or any capitalised word other than
the first of a sentence: a name, or a place that could point at one) is dropped whole.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from xml.etree import ElementTree as ET  # nosec B405 - we only write XML here, never parse it

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases import calendar
from navreme.cases.models import Case, CaseCategory
from navreme.config import get_settings
from navreme.registry.models import Municipality, Person
from navreme.web.deps import DB
from navreme.web.formats import local

router = APIRouter(tags=["open data"])
WINDOW = timedelta(days=90)
MAX_ENTRIES = 500  # the newest; the aggregates count every case of the window
ATOM = "http://www.w3.org/2005/Atom"
NAVREME = "https://navreme.org/ns/cases"
REDACTED = "[…]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", re.UNICODE)
_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_NUMBER = re.compile(r"\+?\d(?:[\d\s./-]{4,}\d)")  # phones, personal numbers, accounts
_TITLE = re.compile(
    r"(?<!\w)(г-дин|г-ѓа|г-ца|господин|госпоѓа|mr|mrs|ms|dr|д-р|z\.|znj\.|zoti|zonja)(?!\w)",
    re.IGNORECASE,
)
# A capitalised word (Marko, Петровска, Xhaferi): a name, or a place that may point at one.
_CAPITALISED = re.compile(r"(?<!\w)[A-ZА-ЯЃЌЉЊЏЅЈÇË][a-zа-шѓќљњџѕјçë]+")


def redact(text: str | None, names: tuple[str, ...] = ()) -> str | None:
    """The resolution fit to publish, or None when it is not (see the module's rule)."""
    if not text or not text.strip():
        return None
    cleaned = _EMAIL.sub(REDACTED, text)
    cleaned = _URL.sub(REDACTED, cleaned)
    digits = _NUMBER.sub(
        lambda found: REDACTED if sum(ch.isdigit() for ch in found.group()) >= 6 else found.group(),  # noqa: PLR2004
        cleaned,
    )  # fmt: skip
    for name in names:
        if len(name) >= 2:  # noqa: PLR2004
            digits = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", REDACTED, digits,
                            flags=re.IGNORECASE)  # fmt: skip
    if _TITLE.search(digits):
        return None
    for sentence in re.split(r"(?<=[.!?:])\s+", digits.strip()):
        words = _CAPITALISED.findall(sentence)
        # the sentence's first word may be capitalised; any other could be a name: drop all
        if len(words) > (1 if sentence[:1].isupper() else 0):
            return None
    return digits.strip()


@dataclass(frozen=True)
class Handled:
    reference: str
    category: str
    category_name: str
    municipality: str | None
    municipality_name: str | None
    received: date
    closed: date
    working_days: float
    resolution: str | None


def handled_cases(
    session: Session, *, category: str | None = None, municipality: str | None = None
) -> list[Handled]:
    """The closed cases of the window in public categories, newest first, anonymised."""
    settings = get_settings()
    since = clock.now() - WINDOW
    query = (
        select(Case, CaseCategory.name_en, Person.given_name, Person.family_name)
        .join(CaseCategory, CaseCategory.code == Case.category_code)
        .outerjoin(Person, Person.id == Case.person_id)
        .where(Case.status == "closed", Case.closed_at >= since,
               CaseCategory.public.is_(True))
    )  # fmt: skip
    if category:
        query = query.where(Case.category_code == category)
    if municipality:
        query = query.where(Case.municipality_code == municipality)
    places = {m.code: m.name for m in session.scalars(select(Municipality))}
    found = []
    for case, category_name, given, family in session.execute(
        query.order_by(Case.closed_at.desc(), Case.reference)
    ):
        if case.closed_at is None or case.category_code is None:
            continue
        taken = calendar.working_time_between(
            case.created_at, case.closed_at, zone=settings.timezone, country=settings.country
        )
        names = tuple(n for n in (given, family) if n)
        found.append(Handled(
            reference=case.reference, category=case.category_code, category_name=category_name,
            municipality=case.municipality_code,
            municipality_name=places.get(case.municipality_code or ""),
            received=local(case.created_at).date(), closed=local(case.closed_at).date(),
            working_days=round(taken / calendar.WORKING_DAY, 1),
            resolution=redact(case.resolution, names),
        ))  # fmt: skip
    return found


def aggregates(rows: list[Handled]) -> list[dict[str, Any]]:
    """Per category × municipality: how many, and the median working days taken."""
    groups: dict[tuple[str, str | None], list[float]] = {}
    for row in rows:
        groups.setdefault((row.category, row.municipality), []).append(row.working_days)
    return [
        {"category": category, "municipality": municipality, "count": len(days),
         "median_working_days": round(statistics.median(days), 1)}
        for (category, municipality), days in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or ""))
    ]  # fmt: skip


def _title(row: Handled) -> str:
    where = f", {row.municipality_name}" if row.municipality_name else ""
    return f"{row.reference}: {row.category_name}{where}"


def _summary(row: Handled) -> str:
    return (
        f"Received {row.received.isoformat()}, closed {row.closed.isoformat()}, "
        f"{row.working_days} working days." + (f" {row.resolution}" if row.resolution else "")
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _day_stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def atom(rows: list[Handled], base: str) -> bytes:
    ET.register_namespace("", ATOM)
    ET.register_namespace("nv", NAVREME)

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    add(feed, "id", f"{base}/open/cases.atom")
    add(feed, "title", "Navreme: handled requests")
    add(feed, "subtitle", "Requests closed in the last 90 days, anonymised.")
    newest = max((row.closed for row in rows), default=clock.today())
    add(feed, "updated", _day_stamp(newest))
    add(feed, "link", rel="self", href=f"{base}/open/cases.atom", type="application/atom+xml")
    add(feed, "link", rel="alternate", href=f"{base}/open/cases.json",
        type="application/feed+json")  # fmt: skip
    author = add(feed, "author")
    add(author, "name", "Navreme")
    for group in aggregates(rows):
        ET.SubElement(feed, f"{{{NAVREME}}}aggregate", {
            "category": group["category"], "municipality": group["municipality"] or "",
            "count": str(group["count"]), "median_working_days": str(group["median_working_days"]),
        })  # fmt: skip
    for row in rows[:MAX_ENTRIES]:
        entry = add(feed, "entry")
        add(entry, "id", f"urn:navreme:case:{row.reference}")
        add(entry, "title", _title(row))
        add(entry, "published", _day_stamp(row.received))
        add(entry, "updated", _day_stamp(row.closed))
        add(entry, "category", term=row.category, label=row.category_name)
        add(entry, "summary", _summary(row))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def json_feed(rows: list[Handled], base: str) -> dict[str, Any]:
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Navreme: handled requests",
        "description": "Requests closed in the last 90 days, anonymised.",
        "home_page_url": f"{base}/",
        "feed_url": f"{base}/open/cases.json",
        "language": "en",
        "authors": [{"name": "Navreme"}],
        "_navreme": {"window_days": WINDOW.days, "aggregates": aggregates(rows)},
        "items": [
            {
                "id": f"urn:navreme:case:{row.reference}",
                "title": _title(row),
                "content_text": _summary(row),
                "date_published": _day_stamp(row.received),
                "date_modified": _day_stamp(row.closed),
                "tags": [row.category],
                "_navreme": {
                    "reference": row.reference,
                    "category": row.category,
                    "municipality": row.municipality,
                    "received": row.received.isoformat(),
                    "closed": row.closed.isoformat(),
                    "working_days": row.working_days,
                    "resolution": row.resolution,
                },  # fmt: skip
            }
            for row in rows[:MAX_ENTRIES]
        ],
    }


# Codes only (`roads`, `MK-101`): anything else matches nothing, and a NUL byte would make
# PostgreSQL refuse the query (a 500, found by T14) — so it is a 422 on both databases.
Filter = Annotated[str | None, Query(max_length=48, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("/open/cases.atom", response_class=Response)
def cases_atom(
    request: Request, session: DB, category: Filter = None, municipality: Filter = None
) -> Response:
    rows = handled_cases(session, category=category, municipality=municipality)
    return Response(atom(rows, _base(request)), media_type="application/atom+xml")


@router.get(
    "/open/cases.json",
    response_class=Response,
    responses={200: {"description": "JSON Feed 1.1", "content": {"application/feed+json": {}}}},
)
def cases_json(
    request: Request, session: DB, category: Filter = None, municipality: Filter = None
) -> JSONResponse:
    rows = handled_cases(session, category=category, municipality=municipality)
    return JSONResponse(json_feed(rows, _base(request)), media_type="application/feed+json")
