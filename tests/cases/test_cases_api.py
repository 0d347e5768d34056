"""The cases JSON API: an officer's queue and steps, a citizen's own cases; 404 for a foreign
department, 403 for a step the role may not take, 409 for a wrong transition — all audited."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.cases import actions
from navreme.cases.models import Case
from navreme.catalogue.actions import load_demo_catalogue
from navreme.registry.models import ConsentEvent, Person
from tests import factories

CALL = {"text": "Јавува: уличното светло не работи три ноќи.", "channel": "phone",
        "category": "waste", "municipality": "MK-101"}  # fmt: skip


@pytest.fixture
def world(db_session: Session) -> Session:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    factories.municipality(db_session)
    db_session.commit()
    return db_session


def login(client: TestClient, session: Session, code: str, *roles: str) -> dict[str, str]:
    made = factories.officer(session, department_code=code, roles=roles or ("officer",))
    session.commit()
    return factories.officer_token(client, made)


def resident(client: TestClient, session: Session) -> tuple[Person, dict[str, str]]:
    person = factories.person(session, phone="+38970111222", language="en")
    session.add(ConsentEvent(person_id=person.id, purpose="case_updates", channel="any",
                             granted=True, source="test", actor="test"))  # fmt: skip
    session.commit()
    return person, factories.citizen_token(client, session, person)


def _set(session: Session, case_id: str, **values: object) -> None:
    session.execute(update(Case).where(Case.id == uuid.UUID(case_id)).values(**values))
    session.commit()


def denials(session: Session) -> int:
    return session.scalar(select(func.count()).where(AuditEntry.outcome == "denied")) or 0


def test_journey__call_recorded_to_rating__over_http(client: TestClient, world: Session) -> None:
    person, me = resident(client, world)
    opst = login(client, world, "OPST")
    mvr = login(client, world, "MVR")
    supervisor = login(client, world, "OPST", "officer", "supervisor")
    call = {**CALL, "person_id": str(person.id)}
    key = {"Idempotency-Key": "call-2026-0001"}
    made = client.post("/api/v1/cases", json=call, headers=opst | key)
    assert made.status_code == 201, made.text
    again = client.post("/api/v1/cases", json=call, headers=opst | key)
    assert again.json()["id"] == made.json()["id"]
    case_id = made.json()["id"]
    assert made.json()["channel"] == "phone"
    assert made.json()["status"] == "new"
    url = f"/api/v1/cases/{case_id}"
    assert client.post(f"{url}/accept", headers=opst).json()["status"] == "accepted"
    mvr_id = str(factories.department(world, "MVR").id)
    task = client.post(f"{url}/tasks", headers=opst,
                       json={"department_id": mvr_id, "title": "Check the pole", "due_days": 3})  # fmt: skip
    assert task.status_code == 200, task.text
    task_id = task.json()["tasks"][0]["id"]
    assert client.get(url, headers=mvr).status_code == 200  # the task's department sees it
    done = client.post(f"{url}/tasks/{task_id}/done", headers=mvr, json={"note": "Fixed."})
    assert done.json()["tasks"][0]["status"] == "done"
    client.post(f"{url}/notes", headers=opst, json={"text": "Internal only.", "public": False})
    resolved = client.post(f"{url}/resolve", headers=opst, json={"resolution": "Light fixed."})
    assert resolved.json()["status"] == "resolved"
    assert client.post(f"{url}/review", headers=opst, json={"approve": True}).status_code == 403
    closed = client.post(f"{url}/review", headers=supervisor, json={"approve": True})
    assert closed.json()["status"] == "closed"
    mine = client.get(url, headers=me).json()
    assert mine["tasks"] == []
    assert all(event["public"] for event in mine["events"])
    assert "Internal only." not in str(mine["events"])
    rated = client.post(f"{url}/rate", headers=me, json={"rating": 5, "comment": "Thanks"})
    assert rated.json()["rating"] == 5
    twice = client.post(f"{url}/rate", headers=me, json={"rating": 1})
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "wrong_status"
    listed = client.get(f"/api/v1/persons/{person.id}/cases", headers=me).json()
    assert [c["id"] for c in listed] == [case_id]


def test_transfer__old_department_gets_404__new_one_sees_it(
    client: TestClient, world: Session
) -> None:
    opst, mvr = login(client, world, "OPST"), login(client, world, "MVR")
    case_id = client.post("/api/v1/cases", json=CALL, headers=opst).json()["id"]
    url = f"/api/v1/cases/{case_id}"
    mvr_id = str(factories.department(world, "MVR").id)
    moved = client.post(f"{url}/transfer", headers=opst,
                        json={"department_id": mvr_id, "note": "Street lights are MVR's."})  # fmt: skip
    assert moved.status_code == 200, moved.text
    before = denials(world)
    assert client.get(url, headers=opst).status_code == 404
    assert client.post(f"{url}/accept", headers=opst).status_code == 404
    assert denials(world) == before + 2
    assert client.get(url, headers=mvr).status_code == 200
    assert [c["id"] for c in client.get("/api/v1/cases", headers=mvr).json()] == [case_id]
    assert client.get("/api/v1/cases", headers=opst).json() == []


def test_refusals__foreign_404__role_403__wrong_status_409__bad_body_422(
    client: TestClient, world: Session
) -> None:
    person, me = resident(client, world)
    opst, mvr = login(client, world, "OPST"), login(client, world, "MVR")
    editor = login(client, world, "OPST", "catalogue_editor")
    case_id = client.post("/api/v1/cases", json={**CALL, "person_id": str(person.id)},
                          headers=opst).json()["id"]  # fmt: skip
    url = f"/api/v1/cases/{case_id}"
    before = denials(world)
    assert client.post(f"{url}/accept", headers=mvr).status_code == 404
    assert client.post(f"{url}/accept", headers=me).status_code == 403
    assert client.get(url, headers=editor).status_code == 403
    assert denials(world) == before + 3
    wrong = client.post(f"{url}/resolve", headers=opst, json={"resolution": "Done"})
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "wrong_status"
    assert client.post(f"{url}/reject", headers=opst, json={"reason": ""}).status_code == 422
    unknown = client.post("/api/v1/cases", headers=opst, json={**CALL, "category": "unicorns"})
    assert unknown.status_code == 422
    assert client.get(url, headers=me).status_code == 200
    assert client.get(f"/api/v1/persons/{person.id}/cases", headers=mvr).json() == []


def test_reopen_window_and_queue_filters_and_supervision(
    client: TestClient, world: Session
) -> None:
    person, me = resident(client, world)
    opst = login(client, world, "OPST")
    supervisor = login(client, world, "OPST", "officer", "supervisor")
    body = {**CALL, "person_id": str(person.id)}
    first = client.post("/api/v1/cases", json=body, headers=opst).json()["id"]
    second = client.post("/api/v1/cases", json=body, headers=opst).json()["id"]
    url = f"/api/v1/cases/{first}"
    client.post(f"{url}/accept", headers=opst)
    client.post(f"{url}/resolve", headers=opst, json={"resolution": "Done."})
    client.post(f"{url}/review", headers=supervisor, json={"approve": True, "reopen_days": 1})
    queue = client.get("/api/v1/cases", headers=opst, params={"status": "closed"}).json()
    assert [c["id"] for c in queue] == [first]
    until = world.get_one(Case, uuid.UUID(first)).reopen_until
    assert until is not None
    _set(world, first, reopen_until=clock.now() - timedelta(minutes=1))
    late = client.post(f"{url}/reopen", headers=me, json={"reason": "Dark again."})
    assert late.status_code == 409
    _set(world, first, reopen_until=until)
    reopened = client.post(f"{url}/reopen", headers=me, json={"reason": "Dark again."})
    assert reopened.json()["status"] == "accepted"
    merged = client.post(f"/api/v1/cases/{second}/merge", headers=opst, json={"into": first})
    assert merged.json()["status"] == "merged"
    assert client.get("/api/v1/cases/at-risk", headers=opst).status_code == 403
    _set(world, first, sla_state="breached")
    risky = client.get("/api/v1/cases/at-risk", headers=supervisor).json()
    assert [(c["id"], c["sla_state"]) for c in risky] == [(first, "breached")]
    breached = client.get("/api/v1/cases", headers=opst, params={"sla_state": "breached"})
    assert [c["id"] for c in breached.json()] == [first]


def test_record__unknown_municipality__is_a_422_not_a_crash(
    client: TestClient, world: Session
) -> None:
    """T14 found an unknown municipality code breaking the foreign key at insert (a 500)."""
    opst = login(client, world, "OPST")
    answer = client.post("/api/v1/cases", json=CALL | {"municipality": "en"}, headers=opst)
    assert answer.status_code == 422, answer.text
    assert "municipality" in answer.json()["error"]["message"]


def test_record__a_nul_byte_the_database_cannot_hold__is_a_422(
    client: TestClient, world: Session, backend: str
) -> None:
    """PostgreSQL refuses NUL in text; the API says so as a 422, never a 500 (T14)."""
    opst = login(client, world, "OPST")
    answer = client.post("/api/v1/cases", json=CALL | {"text": "светло\u0000"}, headers=opst)
    assert answer.status_code == (422 if backend == "postgres" else 201), answer.text
