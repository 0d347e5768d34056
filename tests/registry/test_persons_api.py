"""Persons through the API: registering, bad input, duplicates, lookup, changes and moves."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.registry.models import LifeEvent
from tests import factories
from tests.registry.helpers import Headers, audit, count, person_body, persons


def _problems(response: Any) -> dict[str, str]:
    return {d["field"]: d["problem"] for d in response.json()["error"]["details"]}


def test_create_person__data_manager__registers_and_audits(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    body = person_body(accessibility=["large_print", "large_print"], language="sq")
    response = client.post("/api/v1/persons", json=body, headers=manager)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["national_id"] == body["national_id"]
    assert created["accessibility"] == ["large_print"]
    assert created["language"] == "sq"
    [entry] = audit(db_session, "person.create")
    assert entry.object_id == created["id"]
    assert body["national_id"] not in str(entry.details)


def test_create_person__abroad__needs_no_municipality(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    body = person_body(municipality_code=None, abroad_country="DE")
    response = client.post("/api/v1/persons", json=body, headers=manager)
    assert response.status_code == 201, response.text
    assert response.json()["abroad_country"] == "DE"


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"national_id": "1705990450001"}, "body.national_id", "check digit"),
        ({"national_id": "17059904500"}, "body.national_id", "exactly 13 digits"),
        ({"national_id": "١٢٣٤٥٦٧٨٩٠١٢٣"}, "body.national_id", "exactly 13 digits"),
        ({"birth_date": "1990-05-18"}, "body.birth_date", "does not match the EMBG"),
        ({"sex": "M"}, "body.sex", "does not match the EMBG"),
        ({"birth_date": "1990-02-31"}, "body.birth_date", "date"),
        ({"birth_date": 19900517}, "body.birth_date", ""),
        ({"sex": "X"}, "body.sex", ""),
        ({"language": "de"}, "body.language", ""),
        ({"accessibility": ["braille"]}, "body.accessibility.0", ""),
        ({"given_name": "x" * 101}, "body.given_name", "at most 100"),
        ({"given_name": "   "}, "body.given_name", ""),
        ({"abroad_country": "DE"}, "body", "exactly one of"),
        ({"municipality_code": None}, "body", "exactly one of"),
        (
            {"municipality_code": None, "abroad_country": "MK"},
            "body.abroad_country",
            "municipality",
        ),
        ({"municipality_code": None, "abroad_country": "Germany"}, "body.abroad_country", ""),
        ({"household": "x"}, "body.household", "Extra inputs"),
    ],
)
def test_create_person__bad_input__422_names_the_field_and_writes_nothing(
    client: TestClient, db_session: Session, manager: Headers,
    change: dict[str, Any], field: str, says: str,
) -> None:  # fmt: skip
    before = persons(db_session)
    response = client.post("/api/v1/persons", json=person_body() | change, headers=manager)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"
    problems = _problems(response)
    assert field in problems, problems
    assert says in problems[field]
    assert persons(db_session) == before


def test_create_person__unknown_municipality__422(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    response = client.post(
        "/api/v1/persons", json=person_body(municipality_code="MK-999"), headers=manager
    )
    assert response.status_code == 422
    assert "unknown municipality" in _problems(response)["body.municipality_code"]
    assert persons(db_session) == 0


def test_create_person__same_national_id_twice__409_conflict(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    body = person_body()
    assert client.post("/api/v1/persons", json=body, headers=manager).status_code == 201
    again = client.post("/api/v1/persons", json=body | {"given_name": "Друга"}, headers=manager)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert persons(db_session) == 1


def test_create_person__not_json__422_envelope(client: TestClient, manager: Headers) -> None:
    response = client.post(
        "/api/v1/persons",
        content=b"{not json",
        headers=manager | {"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


def test_create_person__plain_officer__403_and_nothing_written(
    client: TestClient, db_session: Session, officer: tuple[Headers, Any]
) -> None:
    factories.municipality(db_session)
    db_session.commit()
    response = client.post("/api/v1/persons", json=person_body(), headers=officer[0])
    assert response.status_code == 403
    assert persons(db_session) == 0


def test_create_person__anonymous__401(client: TestClient) -> None:
    assert client.post("/api/v1/persons", json=person_body()).status_code == 401


def test_lookup__officer__finds_by_national_id_in_the_body_and_audits(
    client: TestClient, db_session: Session, officer: tuple[Headers, factories.OfficerLogin]
) -> None:
    headers, login = officer
    person = factories.person(db_session)
    db_session.commit()
    response = client.post(
        "/api/v1/persons/lookup", json={"national_id": person.national_id}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(person.id)
    [entry] = audit(db_session, "person.lookup")
    assert (entry.actor_id, entry.object_id) == (login.officer.id, str(person.id))


def test_lookup__unknown_national_id__404_and_still_audited(
    client: TestClient, db_session: Session, officer: tuple[Headers, Any]
) -> None:
    response = client.post(
        "/api/v1/persons/lookup", json={"national_id": factories.national_id()}, headers=officer[0]
    )
    assert response.status_code == 404
    [entry] = audit(db_session, "person.lookup")
    assert entry.details == {"found": False}


def test_lookup__citizen__403(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone="+38970100200")
    db_session.commit()
    headers = factories.citizen_token(client, db_session, person)
    response = client.post(
        "/api/v1/persons/lookup", json={"national_id": person.national_id}, headers=headers
    )
    assert response.status_code == 403


def test_change_person__new_municipality__records_a_move_in_the_same_transaction(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    factories.municipality(db_session, "MK-102")
    db_session.commit()
    created = client.post("/api/v1/persons", json=person_body(), headers=manager).json()
    response = client.patch(
        f"/api/v1/persons/{created['id']}",
        json={"municipality_code": "MK-102", "given_name": "Ана-Марија"},
        headers=manager,
    )
    assert response.status_code == 200, response.text
    assert response.json()["municipality_code"] == "MK-102"
    assert response.json()["given_name"] == "Ана-Марија"
    db_session.commit()
    [move] = db_session.scalars(select(LifeEvent).where(LifeEvent.kind == "move"))
    assert move.details == {
        "from": {"municipality_code": "MK-101"},
        "to": {"municipality_code": "MK-102"},
    }
    [entry] = audit(db_session, "person.update")
    assert entry.details == {"fields": ["given_name", "residence"]}


def test_change_person__moves_abroad__clears_the_municipality(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    created = client.post("/api/v1/persons", json=person_body(), headers=manager).json()
    response = client.patch(
        f"/api/v1/persons/{created['id']}", json={"abroad_country": "AT"}, headers=manager
    )
    assert response.json()["municipality_code"] is None
    assert response.json()["abroad_country"] == "AT"


def test_change_person__unknown_municipality__422_and_no_move_recorded(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    created = client.post("/api/v1/persons", json=person_body(), headers=manager).json()
    response = client.patch(
        f"/api/v1/persons/{created['id']}", json={"municipality_code": "MK-999"}, headers=manager
    )
    assert response.status_code == 422
    assert count(db_session, LifeEvent) == 0


def test_change_person__national_id_or_birth_date__cannot_be_patched(
    client: TestClient, manager: Headers
) -> None:
    created = client.post("/api/v1/persons", json=person_body(), headers=manager).json()
    for field, value in (("national_id", factories.national_id()), ("birth_date", "1990-01-01")):
        response = client.patch(
            f"/api/v1/persons/{created['id']}", json={field: value}, headers=manager
        )
        assert response.status_code == 422


def test_change_person__unknown_person__404(client: TestClient, manager: Headers) -> None:
    response = client.patch(
        "/api/v1/persons/00000000-0000-4000-8000-000000000000", json={"language": "en"},
        headers=manager,
    )  # fmt: skip
    assert response.status_code == 404


def test_person_ids__not_uuid__422(client: TestClient, manager: Headers) -> None:
    national_id = factories.national_id()
    response = client.get(f"/api/v1/persons/{national_id}", headers=manager)
    assert response.status_code == 422


def test_openapi__registry_routes__have_typed_responses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/persons"]["post"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PersonOut"
    )
    assert "409" in post["responses"]
    language = spec["components"]["schemas"]["PersonCreate"]["properties"]["language"]
    assert language["enum"] == ["mk", "sq", "en"]


def test_create_person__born_2001__dates_are_iso_in_responses(
    client: TestClient, manager: Headers
) -> None:
    born = date(2001, 2, 3)
    created = client.post("/api/v1/persons", json=person_body(born=born, sex="M"), headers=manager)
    assert created.json()["birth_date"] == "2001-02-03"
