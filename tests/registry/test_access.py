"""Who sees and changes whose record: every access rule, for every kind of principal."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme import clock
from tests import factories
from tests.registry.helpers import Headers, audit, citizen

SECTIONS = ("", "/documents", "/events", "/contacts", "/consents", "/guardians", "/wards")


def _years_ago(years: int) -> date:
    today = clock.today()
    return date(today.year - years, 1, 15)


def _link(
    client: TestClient, manager: Headers, *, guardian_id: uuid.UUID, ward_id: uuid.UUID
) -> None:
    response = client.post(
        f"/api/v1/persons/{ward_id}/guardians",
        json={"guardian_id": str(guardian_id)},
        headers=manager,
    )
    assert response.status_code == 201, response.text


def test_citizen__own_record__sees_every_section(client: TestClient, db_session: Session) -> None:
    me, headers = citizen(client, db_session, phone="+38970000001")
    for section in SECTIONS:
        response = client.get(f"/api/v1/persons/{me.id}{section}", headers=headers)
        assert response.status_code == 200, (section, response.text)
    assert (
        client.get(f"/api/v1/persons/{me.id}", headers=headers).json()["national_id"]
        == me.national_id
    )


def test_citizen__someone_elses_record__404_like_nobody_and_audited_as_denied(
    client: TestClient, db_session: Session
) -> None:
    me, headers = citizen(client, db_session, phone="+38970000001")
    other = factories.person(db_session)
    db_session.commit()
    for section in SECTIONS:
        response = client.get(f"/api/v1/persons/{other.id}{section}", headers=headers)
        assert response.status_code == 404, section
    nobody = client.get(f"/api/v1/persons/{uuid.uuid4()}", headers=headers)
    assert client.get(f"/api/v1/persons/{other.id}", headers=headers).json() == nobody.json()
    denied = [e for e in audit(db_session, "person.view") if e.object_id == str(other.id)]
    assert len(denied) == len(SECTIONS) + 1
    assert all(e.outcome == "denied" and e.actor_id == me.id for e in denied)


def test_citizen__someone_elses_contacts_and_consents__cannot_be_changed(
    client: TestClient, db_session: Session
) -> None:
    _, headers = citizen(client, db_session, phone="+38970000001")
    other = factories.person(db_session)
    db_session.commit()
    contact = client.post(
        f"/api/v1/persons/{other.id}/contacts", json={"channel": "email", "address": "a@b.mk"},
        headers=headers,
    )  # fmt: skip
    consent = client.post(
        f"/api/v1/persons/{other.id}/consents",
        json={"purpose": "reminders", "channel": "any", "granted": True}, headers=headers,
    )  # fmt: skip
    assert (contact.status_code, consent.status_code) == (404, 404)
    assert [e.outcome for e in audit(db_session, "contact.add")] == ["denied"]
    assert [e.outcome for e in audit(db_session, "consent.change")] == ["denied"]


def test_citizen__own_contacts__added_unverified(client: TestClient, db_session: Session) -> None:
    me, headers = citizen(client, db_session, phone="+38970000001")
    response = client.post(
        f"/api/v1/persons/{me.id}/contacts", json={"channel": "email", "address": "ana@example.mk"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["verified_at"] is None
    [entry] = audit(db_session, "contact.add")
    assert (entry.actor_kind, entry.actor_id, entry.outcome) == ("citizen", me.id, "ok")
    assert "ana@example.mk" not in str(entry.details)


def test_citizen__registry_facts__cannot_be_changed_even_their_own(
    client: TestClient, db_session: Session
) -> None:
    me, headers = citizen(client, db_session, phone="+38970000001")
    response = client.patch(f"/api/v1/persons/{me.id}", json={"given_name": "Х"}, headers=headers)
    assert response.status_code == 403
    document = {
        "kind": "id_card",
        "number": "A1",
        "issued_on": "2020-01-01",
        "expires_on": "2030-01-01",
    }
    response = client.post(f"/api/v1/persons/{me.id}/documents", json=document, headers=headers)
    assert response.status_code == 403


def test_guardian__minor_ward__sees_and_manages_contacts_and_consents(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    parent, headers = citizen(client, db_session, phone="+38970000001")
    child = factories.person(db_session, born=_years_ago(10))
    db_session.commit()
    _link(client, manager, guardian_id=parent.id, ward_id=child.id)
    assert client.get(f"/api/v1/persons/{child.id}", headers=headers).status_code == 200
    consent = client.post(
        f"/api/v1/persons/{child.id}/consents",
        json={"purpose": "reminders", "channel": "sms", "granted": True}, headers=headers,
    )  # fmt: skip
    assert consent.status_code == 201
    assert consent.json()["actor"] == f"citizen:{parent.id}"
    wards = client.get(f"/api/v1/persons/{parent.id}/wards", headers=headers).json()
    assert [w["other"]["id"] for w in wards] == [str(child.id)]
    guardians = client.get(f"/api/v1/persons/{child.id}/guardians", headers=headers).json()
    assert [g["other"]["id"] for g in guardians] == [str(parent.id)]


def test_guardian__ward_now_adult__no_longer_sees_the_record(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    parent, headers = citizen(client, db_session, born=_years_ago(50), phone="+38970000001")
    grown = factories.person(db_session, born=_years_ago(20))
    db_session.commit()
    _link(client, manager, guardian_id=parent.id, ward_id=grown.id)
    assert client.get(f"/api/v1/persons/{grown.id}", headers=headers).status_code == 404


def test_ward__does_not_see_the_guardians_record(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    child, headers = citizen(client, db_session, born=_years_ago(16), phone="+38970000002")
    parent = factories.person(db_session, born=_years_ago(45))
    db_session.commit()
    _link(client, manager, guardian_id=parent.id, ward_id=child.id)
    assert client.get(f"/api/v1/persons/{parent.id}", headers=headers).status_code == 404


def test_officer__any_role__views_a_person_and_each_view_is_audited(
    client: TestClient, db_session: Session, officer: tuple[Headers, Any]
) -> None:
    headers, login = officer
    person = factories.person(db_session)
    db_session.commit()
    for section in ("", "/documents", "/contacts"):
        assert (
            client.get(f"/api/v1/persons/{person.id}{section}", headers=headers).status_code == 200
        )
    views = audit(db_session, "person.view")
    assert [(e.actor_kind, e.actor_id, e.object_id, e.outcome) for e in views] == [
        ("officer", login.officer.id, str(person.id), "ok")
    ] * 3
    assert [e.details["section"] for e in views] == ["person", "documents", "contacts"]


def test_officer__without_data_manager_role__cannot_change_contacts(
    client: TestClient, db_session: Session, officer: tuple[Headers, Any]
) -> None:
    person = factories.person(db_session)
    db_session.commit()
    response = client.post(
        f"/api/v1/persons/{person.id}/contacts", json={"channel": "sms", "address": "+38970123456"},
        headers=officer[0],
    )  # fmt: skip
    assert response.status_code == 403
    assert [e.outcome for e in audit(db_session, "contact.add")] == ["denied"]


def test_data_manager__adds_a_contact_for_anyone(
    client: TestClient, db_session: Session, manager: Headers
) -> None:
    person = factories.person(db_session)
    db_session.commit()
    response = client.post(
        f"/api/v1/persons/{person.id}/contacts", json={"channel": "sms", "address": "+38970123456"},
        headers=manager,
    )  # fmt: skip
    assert response.status_code == 201


def test_anonymous__any_person_route__401(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session)
    db_session.commit()
    for section in SECTIONS:
        assert client.get(f"/api/v1/persons/{person.id}{section}").status_code == 401
