"""The public feed: closed cases of 90 days, anonymised, valid Atom 1.0 and JSON Feed 1.1."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree as ET  # nosec B405 - parsing our own output in a test

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases.feed import ATOM, redact
from tests import factories
from tests.cases.support import load, make_case

A = f"{{{ATOM}}}"


@pytest.fixture
def closed(db_session: Session) -> Session:
    load(db_session)
    person = factories.person(db_session)
    person.given_name, person.family_name = "Марија", "Петровска"
    now = clock.now()
    for days_ago, text in ((3, "Контејнерот е испразнет. Марија, јавете се на 070 123 456."),
                           (5, "Контејнерот е испразнет."), (200, "Old.")):  # fmt: skip
        case = make_case(db_session, person_id=person.id, latitude=41.7, longitude=21.7,
                         address="ул. Партизанска 12").case  # fmt: skip
        case.created_at = now - timedelta(days=days_ago + 7)
        case.status, case.closed_at, case.resolution = (
            "closed",
            now - timedelta(days=days_ago),
            text,
        )
    make_case(db_session)  # open: never in the feed
    db_session.commit()
    return db_session


def test_json_feed__closed_cases_of_90_days_anonymised(client: TestClient, closed: Session) -> None:
    response = client.get("/open/cases.json")
    assert response.status_code == 200
    feed = response.json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert {"title", "items", "feed_url"} <= feed.keys()
    items = feed["items"]
    assert len(items) == 2  # the 200-day-old one and the open one are left out
    body = response.text
    for secret in ("Марија", "Петровска", "070 123 456", "Партизанска", "41.7", "person"):
        assert secret not in body
    first = items[0]["_navreme"]
    assert first["resolution"] == "Контејнерот е испразнет. […], јавете се на […]."
    assert first["category"] == "waste"
    assert first["municipality"] == "MK-101"
    assert len(first["received"]) == 10
    assert len(first["closed"]) == 10
    assert first["working_days"] > 0
    (group,) = feed["_navreme"]["aggregates"]
    assert (group["category"], group["municipality"], group["count"]) == ("waste", "MK-101", 2)


def test_atom__parses_with_the_required_elements(client: TestClient, closed: Session) -> None:
    response = client.get("/open/cases.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314  # nosec B314 - our own output
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated", "author"):
        assert root.find(f"{A}{tag}") is not None
    entries = root.findall(f"{A}entry")
    assert len(entries) == 2
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert (entry.findtext(f"{A}{tag}") or "").strip()


def test_filters__by_category_and_municipality(client: TestClient, closed: Session) -> None:
    assert client.get("/open/cases.json?category=roads").json()["items"] == []
    assert len(client.get("/open/cases.json?municipality=MK-101").json()["items"]) == 2


@pytest.mark.parametrize("path", ["/open/cases.json", "/open/cases.atom"])
def test_filters__a_nul_byte_or_odd_code__is_a_422_on_both_databases(
    client: TestClient, path: str
) -> None:
    """T14 found a NUL in `category` a 500 on PostgreSQL (text cannot hold NUL)."""
    for odd in ("ro\x00ads", "MK 101", "ùcaV"):
        answer = client.get(path, params={"category": odd})
        assert answer.status_code == 422, odd
        assert client.get(path, params={"municipality": odd}).status_code == 422, odd


def test_redact__conservative() -> None:
    assert (
        redact("Done. Write to a@b.mk or call +389 70 111 222.")
        == "Done. Write to […] or call […]."
    )
    assert redact("The street lamp was fixed.") == "The street lamp was fixed."
    assert redact("We spoke to Marko about it.") is None  # could be a name: dropped whole
    assert redact("Г-дин ќе биде известен.") is None
    assert redact("ЕМБГ 0101990450006 е исправен.") == "ЕМБГ […] е исправен."
    assert redact("   ") is None
