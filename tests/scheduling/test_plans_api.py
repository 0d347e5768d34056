"""A person's portfolio plan with held slots, and the invite of an appointment, through the API."""

from __future__ import annotations

from datetime import date, datetime

from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy.orm import Session

from navreme import clock
from navreme.registry.models import Person
from navreme.rules.models import Offer
from tests.rules_support import published_expiry_rule
from tests.scheduling.support import at, booking, next_working_day, setup


def _offers(session: Session, person: Person, services: list[str]) -> None:
    rule = published_expiry_rule(session)
    for service in services:
        session.add(
            Offer(
                rule_id=rule.id,
                rule_code=rule.code,
                person_id=person.id,
                recipient_id=person.id,
                period=f"test-{service}",
                service_code=service,
                level="offer",
                status="notified",
                fact_kind="person",
                as_of=clock.today(),
            )  # fmt: skip
        )
    session.commit()


def test_plan__three_documents_fewest_visits_and_held_slots(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=2)
    _offers(db_session, s.citizen, ["id-card", "passport", "driving-licence"])
    planned = client.get(f"/api/v1/persons/{s.citizen.id}/plan", headers=s.headers)
    assert planned.status_code == 200, planned.text
    plan = planned.json()
    # ID card first; passport and licence both need a valid ID card; the passport is posted.
    assert len(plan["visits"]) == plan["fewest_possible_visits"] == 3
    first, second, third = plan["visits"]
    assert [(i["service"], i["action"]) for i in first["items"]] == [("id-card", "apply")]
    assert {(i["service"], i["action"]) for i in second["items"]} == {
        ("id-card", "collect"), ("passport", "apply"), ("driving-licence", "apply")}  # fmt: skip
    assert [(i["service"], i["action"]) for i in third["items"]] == [
        ("driving-licence", "collect")]  # fmt: skip
    assert [d["service"] for d in plan["deliveries"]] == ["passport"]

    held = client.post(f"/api/v1/persons/{s.citizen.id}/plan/hold", headers=s.headers)
    assert held.status_code == 201, held.text
    visits = held.json()["visits"]
    appointments = [v["appointment"] for v in visits]
    assert all(a is not None and a["status"] == "held" for a in appointments)
    starts = [datetime.fromisoformat(a["starts_at"]) for a in appointments]
    assert starts == sorted(starts)
    for visit, start in zip(visits, starts, strict=True):
        assert clock.local(start).date() >= date.fromisoformat(visit["earliest"])
    # The second visit is long enough for one collection and two applications.
    assert appointments[1]["items"]
    assert visits[1]["minutes"] >= 5 + 15 + 20


def test_plan__strangers_see_nothing(client: TestClient, db_session: Session) -> None:
    s = setup(db_session)
    from tests import factories

    stranger = factories.person(db_session)
    headers = factories.session_token(db_session, stranger)
    db_session.commit()
    assert client.get(f"/api/v1/persons/{s.citizen.id}/plan", headers=headers).status_code == 404
    refused = client.post(f"/api/v1/persons/{s.citizen.id}/plan/hold", headers=headers)
    assert refused.status_code == 404


def _ics(client: TestClient, appointment_id: str, headers: dict[str, str]) -> Calendar:
    response = client.get(f"/api/v1/appointments/{appointment_id}/invite.ics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def test_invite__same_uid_sequence_grows_and_cancel_says_so(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    day = next_working_day()
    made = client.post("/api/v1/appointments", json=booking(s.citizen, at(day, 9)),
                       headers=s.headers).json()  # fmt: skip
    first = _ics(client, made["id"], s.headers)
    event = first.walk("VEVENT")[0]
    assert first["METHOD"] == "REQUEST"
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (f"{made['id']}@navreme", 0)
    assert event.decoded("DTSTART") == at(day, 9)
    assert s.citizen.national_id not in first.to_ical().decode()
    client.post(f"/api/v1/appointments/{made['id']}/reschedule",
                json={"starts_at": at(day, 10).isoformat()}, headers=s.headers)  # fmt: skip
    moved = _ics(client, made["id"], s.headers).walk("VEVENT")[0]
    assert (int(moved["SEQUENCE"]), moved.decoded("DTSTART")) == (1, at(day, 10))
    client.post(f"/api/v1/appointments/{made['id']}/cancel", headers=s.headers)
    cancelled = _ics(client, made["id"], s.headers)
    assert cancelled["METHOD"] == "CANCEL"
    assert str(cancelled.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    assert int(cancelled.walk("VEVENT")[0]["SEQUENCE"]) == 2
