"""Documents, life events, contacts and guardianship through the API: rules and refusals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme import clock
from navreme.registry.models import ContactEndpoint, Document, GuardianLink, LifeEvent, Person
from tests import factories
from tests.registry.helpers import Headers, audit, count

ID_CARD = {
    "kind": "id_card",
    "number": "A1234567",
    "issued_on": "2020-03-01",
    "expires_on": "2030-03-01",
}


@pytest.fixture
def person(db_session: Session, manager: Headers) -> Person:
    row = factories.person(db_session)
    db_session.commit()
    return row


def test_add_document__data_manager__listed_for_the_person(
    client: TestClient, db_session: Session, manager: Headers, person: Person
) -> None:
    response = client.post(f"/api/v1/persons/{person.id}/documents", json=ID_CARD, headers=manager)
    assert response.status_code == 201, response.text
    listed = client.get(f"/api/v1/persons/{person.id}/documents", headers=manager).json()
    assert [(d["kind"], d["number"], d["status"]) for d in listed] == [
        ("id_card", "A1234567", "valid")
    ]
    assert [e.details["kind"] for e in audit(db_session, "document.add")] == ["id_card"]


def test_add_document__same_kind_and_number_twice__409_even_for_another_person(
    client: TestClient, db_session: Session, manager: Headers, person: Person
) -> None:
    other = factories.person(db_session)
    db_session.commit()
    assert (
        client.post(
            f"/api/v1/persons/{person.id}/documents", json=ID_CARD, headers=manager
        ).status_code
        == 201
    )
    again = client.post(f"/api/v1/persons/{other.id}/documents", json=ID_CARD, headers=manager)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    passport = client.post(
        f"/api/v1/persons/{other.id}/documents",
        json=ID_CARD | {"kind": "passport"},
        headers=manager,
    )
    assert passport.status_code == 201
    assert count(db_session, Document) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expires_on": "2020-03-01"}, "body.expires_on"),
        ({"expires_on": "2019-01-01"}, "body.expires_on"),
        ({"kind": "library_card"}, "body.kind"),
        ({"status": "stolen"}, "body.status"),
        ({"number": "A" * 21}, "body.number"),
        ({"number": "a b"}, "body.number"),
        ({"issued_on": "yesterday"}, "body.issued_on"),
        ({"person_id": "x"}, "body.person_id"),
    ],
)
def test_add_document__bad_input__422_and_nothing_written(
    client: TestClient, db_session: Session, manager: Headers, person: Person,
    change: dict[str, Any], field: str,
) -> None:  # fmt: skip
    response = client.post(
        f"/api/v1/persons/{person.id}/documents", json=ID_CARD | change, headers=manager
    )
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]
    assert count(db_session, Document) == 0


def test_record_death__sets_the_death_date_and_a_second_one_conflicts(
    client: TestClient, db_session: Session, manager: Headers, person: Person
) -> None:
    died = (clock.today() - timedelta(days=3)).isoformat()
    url = f"/api/v1/persons/{person.id}/events"
    assert (
        client.post(url, json={"kind": "death", "occurred_on": died}, headers=manager).status_code
        == 201
    )
    assert client.get(f"/api/v1/persons/{person.id}", headers=manager).json()["death_date"] == died
    again = client.post(url, json={"kind": "death", "occurred_on": died}, headers=manager)
    assert again.status_code == 409
    events = client.get(url, headers=manager).json()
    assert [e["kind"] for e in events] == ["death"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "move", "occurred_on": "2024-01-01"}, "body.kind"),
        ({"kind": "birth", "occurred_on": "1990-05-18"}, "body.occurred_on"),
        ({"kind": "death", "occurred_on": "1980-01-01"}, "body.occurred_on"),
        ({"kind": "wedding", "occurred_on": "2024-01-01"}, "body.kind"),
        (
            {"kind": "turned_18", "occurred_on": "2008-05-17", "details": {"x": "y" * 201}},
            "body.details.x",
        ),
    ],
)
def test_record_life_event__inconsistent__422_and_nothing_written(
    client: TestClient, db_session: Session, manager: Headers, person: Person,
    body: dict[str, Any], field: str,
) -> None:  # fmt: skip
    response = client.post(f"/api/v1/persons/{person.id}/events", json=body, headers=manager)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]], response.json()
    assert count(db_session, LifeEvent) == 0


def test_record_life_event__in_the_future__422(
    client: TestClient, manager: Headers, person: Person
) -> None:
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    response = client.post(
        f"/api/v1/persons/{person.id}/events", json={"kind": "turned_18", "occurred_on": tomorrow},
        headers=manager,
    )  # fmt: skip
    assert response.status_code == 422


def test_record_birth__on_the_birth_date__accepted(
    client: TestClient, manager: Headers, person: Person
) -> None:
    response = client.post(
        f"/api/v1/persons/{person.id}/events",
        json={"kind": "birth", "occurred_on": person.birth_date.isoformat(), "details": {"hospital": "Велес"}},
        headers=manager,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["details"] == {"hospital": "Велес"}


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "email", "address": "not-an-address"},
        {"channel": "sms", "address": "070 123 456"},
        {"channel": "sms", "address": "+38970123456", "preference": -1},
        {"channel": "pigeon", "address": "roof"},
        {"channel": "matrix", "address": "@ana:matrix.org\n"},
        {"channel": "email", "address": "a" * 300 + "@example.mk" + "k" * 20},
    ],
)
def test_add_contact__bad_address__422_and_nothing_written(
    client: TestClient, db_session: Session, manager: Headers, person: Person, body: dict[str, Any]
) -> None:
    response = client.post(f"/api/v1/persons/{person.id}/contacts", json=body, headers=manager)
    assert response.status_code == 422, response.text
    assert count(db_session, ContactEndpoint) == 0


def test_add_contact__same_address_twice__409(
    client: TestClient, manager: Headers, person: Person
) -> None:
    body = {"channel": "matrix", "address": "@ana:matrix.example"}
    url = f"/api/v1/persons/{person.id}/contacts"
    assert client.post(url, json=body, headers=manager).status_code == 201
    assert client.post(url, json=body, headers=manager).status_code == 409


def test_link_guardian__twice_or_self_or_unknown__refused(
    client: TestClient, db_session: Session, manager: Headers, person: Person
) -> None:
    child = factories.person(db_session, born=date(clock.today().year - 5, 6, 1))
    db_session.commit()
    url = f"/api/v1/persons/{child.id}/guardians"
    assert (
        client.post(url, json={"guardian_id": str(person.id)}, headers=manager).status_code == 201
    )
    assert (
        client.post(url, json={"guardian_id": str(person.id)}, headers=manager).status_code == 409
    )
    assert client.post(url, json={"guardian_id": str(child.id)}, headers=manager).status_code == 422
    unknown = {"guardian_id": "00000000-0000-4000-8000-000000000000"}
    assert client.post(url, json=unknown, headers=manager).status_code == 422
    assert (
        client.post(
            url, json={"guardian_id": str(person.id), "kind": "uncle"}, headers=manager
        ).status_code
        == 422
    )
    assert count(db_session, GuardianLink) == 1
