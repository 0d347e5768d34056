"""Family visits, the office's day, no-shows, the waitlist and the hold sweeper."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.registry.models import GuardianLink
from navreme.scheduling import actions
from navreme.scheduling.models import Appointment, WaitlistEntry
from tests import factories
from tests.scheduling.support import at, booking, next_working_day, setup


def _child(session: Session, parent_id: uuid.UUID, age: int) -> uuid.UUID:
    today = clock.today()
    child = factories.person(session, born=date(today.year - age, 3, 1))
    session.add(GuardianLink(guardian_id=parent_id, ward_id=child.id, kind="parent"))
    session.flush()
    return child.id


def test_family_visit__a_parent_and_two_children_in_one_appointment(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    kids = [_child(db_session, s.citizen.id, age) for age in (8, 12)]
    db_session.commit()
    start = at(next_working_day(), 9)
    body = {
        "office": s.office.code, "starts_at": start.isoformat(),
        "items": [{"person_id": str(p), "service": "passport"} for p in [s.citizen.id, *kids]],
    }  # fmt: skip
    made = client.post("/api/v1/appointments", json=body, headers=s.headers)
    assert made.status_code == 201, made.text
    visit = made.json()
    assert len(visit["items"]) == 3
    assert datetime.fromisoformat(visit["ends_at"]) - start == timedelta(minutes=45)
    for kid in kids:  # each child's appointments list shows the shared visit to the parent
        mine = client.get(f"/api/v1/persons/{kid}/appointments", headers=s.headers).json()
        assert [a["id"] for a in mine["appointments"]] == [visit["id"]]
    # An adult "child" is not the parent's to book for.
    adult = _child(db_session, s.citizen.id, 30)
    db_session.commit()
    body["items"] = [{"person_id": str(adult), "service": "passport"}]
    body["starts_at"] = at(next_working_day(), 11).isoformat()
    assert client.post("/api/v1/appointments", json=body, headers=s.headers).status_code == 404


def test_slots_for_a_family_need_a_long_enough_stretch(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    day = next_working_day()
    # Book every other slot of the first day: no 45-minute stretch is left on it.
    for minute in range(0, 8 * 60, 30):
        other = factories.person(db_session)
        headers = factories.session_token(db_session, other)
        db_session.commit()
        response = client.post("/api/v1/appointments",
                               json=booking(other, at(day, 8) + timedelta(minutes=minute)),
                               headers=headers)  # fmt: skip
        assert response.status_code == 201, response.text
    found = client.get(
        "/api/v1/slots",
        params={"service": "passport", "persons": 3, "limit": 1,
                "after": at(day, 7).isoformat()},
        headers=s.headers,
    ).json()  # fmt: skip
    assert clock.local(datetime.fromisoformat(found[0]["starts_at"])).date() > day
    assert found[0]["minutes"] == 45


def _book_for(client: TestClient, session: Session, start: datetime) -> tuple[dict, dict]:
    person = factories.person(session)
    headers = factories.session_token(session, person)
    session.commit()
    made = client.post("/api/v1/appointments", json=booking(person, start), headers=headers)
    assert made.status_code == 201, made.text
    return made.json(), headers


def test_office_day_and_marks__only_for_that_department(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=2)
    day = next_working_day()
    visit, _ = _book_for(client, db_session, at(day, 9))
    mvr_login = factories.officer(db_session, department_code="MVR")
    umev_login = factories.officer(db_session, department_code="UMEV")
    db_session.commit()
    mvr, umev = (
        factories.officer_token(client, mvr_login),
        factories.officer_token(client, umev_login),
    )
    listed = client.get(f"/api/v1/offices/{s.office.code}/day", params={"day": day.isoformat()},
                        headers=mvr)  # fmt: skip
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["appointments"]] == [visit["id"]]
    assert client.get(f"/api/v1/offices/{s.office.code}/day", headers=umev).status_code == 403
    early = client.post(f"/api/v1/appointments/{visit['id']}/no-show", headers=mvr)
    assert early.status_code == 409  # not started yet
    assert (
        client.post(f"/api/v1/appointments/{visit['id']}/check-in", headers=umev).status_code == 403
    )
    checked = client.post(f"/api/v1/appointments/{visit['id']}/check-in", headers=mvr)
    assert checked.json()["appointment"]["status"] == "checked_in"


def test_no_show__counted_and_a_new_slot_is_held(client: TestClient, db_session: Session) -> None:
    s = setup(db_session, counters=1)
    day = next_working_day()
    made = client.post("/api/v1/appointments", json=booking(s.citizen, at(day, 9)),
                       headers=s.headers).json()  # fmt: skip
    login = factories.officer(db_session)
    db_session.commit()
    with clock.frozen(at(day, 9, 20)):
        officer = factories.officer_token(client, login)
        headers = factories.session_token(db_session, s.citizen)
        db_session.commit()
        marked = client.post(f"/api/v1/appointments/{made['id']}/no-show", headers=officer)
        assert marked.status_code == 200, marked.text
        again = marked.json()["offered_again"]
        assert marked.json()["appointment"]["status"] == "no_show"
        assert again["status"] == "held"
        assert again["replaces_id"] == made["id"]
        assert clock.local(datetime.fromisoformat(again["starts_at"])).date() > day
        assert datetime.fromisoformat(again["held_until"]) - clock.now() == timedelta(hours=72)
        mine = client.get(f"/api/v1/persons/{s.citizen.id}/appointments", headers=headers)
        assert mine.json()["no_shows"] == 1
        twice = client.post(f"/api/v1/appointments/{made['id']}/no-show", headers=officer)
        assert twice.status_code == 409


def test_waitlist__a_cancelled_slot_is_held_for_the_longest_waiting(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    start = at(next_working_day(), 9)
    visit, owner_headers = _book_for(client, db_session, start)
    first = client.post("/api/v1/waitlist", json={"person_id": str(s.citizen.id),
                        "service": "id-card", "office": s.office.code}, headers=s.headers)  # fmt: skip
    assert first.status_code == 201, first.text
    second = factories.person(db_session)
    second_headers = factories.session_token(db_session, second)
    db_session.commit()
    client.post("/api/v1/waitlist", json={"person_id": str(second.id), "service": "id-card",
                "office": s.office.code}, headers=second_headers)  # fmt: skip
    cancelled = client.post(f"/api/v1/appointments/{visit['id']}/cancel", headers=owner_headers)
    assert cancelled.status_code == 200
    db_session.expire_all()
    entry = db_session.get(WaitlistEntry, uuid.UUID(first.json()["id"]))
    assert entry.status == "offered"
    held = db_session.get(Appointment, entry.appointment_id)
    assert (held.status, held.starts_at) == ("held", start)
    confirmed = client.post(f"/api/v1/appointments/{held.id}/confirm", headers=s.headers)
    assert confirmed.json()["status"] == "booked"
    db_session.expire_all()
    assert db_session.get(WaitlistEntry, entry.id).status == "booked"
    waiting = db_session.scalars(select(WaitlistEntry.status).where(
        WaitlistEntry.person_id == second.id)).all()  # fmt: skip
    assert waiting == ["waiting"]


def test_sweeper__lapsed_holds_expire_and_pass_to_the_waitlist(
    db_session: Session, settings: config.Settings
) -> None:
    s = setup(db_session, counters=1)
    start = at(next_working_day(), 9)
    from navreme.identity.principal import Principal
    from navreme.scheduling.queries import VisitItem

    holder = factories.person(db_session)
    held = actions.make_appointment(
        db_session, settings, Principal(kind="citizen", id=holder.id), office=s.office,
        starts_at=start, items=[VisitItem(holder.id, "id-card")],
        hold_for=timedelta(minutes=15),
    )  # fmt: skip
    entry = actions.join_waitlist(
        db_session, Principal(kind="citizen", id=s.citizen.id), person=s.citizen,
        service_code="id-card", office=None, before=None,
    )  # fmt: skip
    db_session.commit()
    assert actions.release_lapsed_holds(db_session, settings) == 0
    with clock.frozen(clock.now() + timedelta(minutes=16)):
        assert actions.release_lapsed_holds(db_session, settings) == 1
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(Appointment, held.id).status == "expired"
    passed_on = db_session.get(WaitlistEntry, entry.id)
    assert passed_on.status == "offered"
    assert db_session.get(Appointment, passed_on.appointment_id).starts_at == start
