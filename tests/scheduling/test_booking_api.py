"""Finding free slots, holding, booking, moving and cancelling through the API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from navreme import clock
from navreme.scheduling.calendar import public_holidays
from navreme.scheduling.models import Appointment, SlotClaim
from tests import factories
from tests.scheduling.support import at, booking, next_working_day, setup


def _slots(client: TestClient, headers: dict[str, str], **params: object) -> list[dict]:
    response = client.get("/api/v1/slots", params={"service": "id-card", **params},
                          headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def test_slots__earliest_first_on_working_days_inside_opening_hours(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    found = _slots(client, s.headers, limit=5)
    assert len(found) == 5
    starts = [datetime.fromisoformat(x["starts_at"]) for x in found]
    assert starts == sorted(starts)
    assert starts[0] > clock.now()
    for start in starts:
        local = clock.local(start)
        assert local.weekday() < 5
        assert 8 <= local.hour < 16
        assert local.minute % 15 == 0
    assert found[0]["office"]["code"] == "MVR-MK-101"
    assert found[0]["minutes"] == 15


def test_slots__near_a_municipality_or_a_point_and_bad_near_refused(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    assert _slots(client, {}, near="MK-101", limit=1)[0]["distance_km"] == 0.0
    assert _slots(client, {}, near="41.99,21.43", limit=1)[0]["distance_km"] > 30
    for bad in ("MK-999", "north", "91,0"):
        response = client.get("/api/v1/slots", params={"service": "id-card", "near": bad})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid"
    unknown = client.get("/api/v1/slots", params={"service": "teleportation"}, headers=s.headers)
    assert unknown.status_code == 422


def test_book__takes_the_slot_and_the_next_person_gets_409(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    start = at(next_working_day(), 9)
    first = client.post("/api/v1/appointments", json=booking(s.citizen, start), headers=s.headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "booked"
    assert body["counter"] == 1
    assert body["sequence"] == 0
    assert datetime.fromisoformat(body["ends_at"]) - start == timedelta(minutes=15)
    other = factories.person(db_session)
    other_headers = factories.session_token(db_session, other)
    db_session.commit()
    second = client.post("/api/v1/appointments", json=booking(other, start), headers=other_headers)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "slot_taken"
    free = [x["starts_at"] for x in _slots(client, other_headers, after=start.isoformat())]
    assert start.isoformat() not in [datetime.fromisoformat(x).isoformat() for x in free]


def test_book__a_longer_visit_claims_consecutive_slots(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    start = at(next_working_day(), 10)
    body = booking(s.citizen, start)
    body["items"].append({"person_id": str(s.citizen.id), "service": "driving-licence"})
    made = client.post("/api/v1/appointments", json=body, headers=s.headers)
    assert made.status_code == 201, made.text
    assert datetime.fromisoformat(made.json()["ends_at"]) - start == timedelta(minutes=45)
    assert db_session.scalar(select(func.count()).select_from(SlotClaim)) == 3


def test_book__refuses_closed_days_off_grid_past_and_strangers(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    day = next_working_day()
    saturday = day + timedelta(days=(5 - day.weekday()) % 7)
    cases = [
        at(saturday, 9),  # closed
        at(day, 9, 7),  # off the 15-minute grid
        at(day, 15, 50),  # ends after closing
        at(day, 7),  # before opening
        clock.now() - timedelta(hours=1),  # the past
    ]
    for start in cases:
        response = client.post("/api/v1/appointments", json=booking(s.citizen, start),
                               headers=s.headers)  # fmt: skip
        assert response.status_code == 422, (start, response.text)
    stranger = factories.person(db_session)
    db_session.commit()
    response = client.post("/api/v1/appointments", json=booking(stranger, at(day, 9)),
                           headers=s.headers)  # fmt: skip
    assert response.status_code == 404  # as if the person did not exist, and audited
    assert db_session.scalar(select(func.count()).select_from(Appointment)) == 0


def test_book__on_a_public_holiday_is_refused(client: TestClient, db_session: Session) -> None:
    s = setup(db_session)
    year = clock.today().year + 1
    holiday = min(d for d in public_holidays("MK", year) if d.weekday() < 5)
    response = client.post("/api/v1/appointments", json=booking(s.citizen, at(holiday, 9)),
                           headers=s.headers)  # fmt: skip
    assert response.status_code == 422
    assert "not a slot" in response.json()["error"]["message"]


def test_book__bad_bodies_get_a_clear_422(client: TestClient, db_session: Session) -> None:
    s = setup(db_session)
    start = at(next_working_day(), 9)
    bad = [
        {},
        {**booking(s.citizen, start), "items": []},
        {**booking(s.citizen, start), "starts_at": "2030-01-07T09:00:00"},  # naive
        {**booking(s.citizen, start), "office": "NOPE"},
        {**booking(s.citizen, start), "extra": 1},
        {**booking(s.citizen, start), "items": [{"person_id": "x", "service": "id-card"}]},
        booking(s.citizen, start, service="ID card ✓"),
    ]
    for body in bad:
        response = client.post("/api/v1/appointments", json=body, headers=s.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "invalid"
    assert client.post("/api/v1/appointments", json=booking(s.citizen, start)).status_code == 401


def test_hold_confirm_and_lapse(client: TestClient, db_session: Session) -> None:
    s = setup(db_session, counters=1)
    start = at(next_working_day(), 11)
    held = client.post("/api/v1/appointments", json=booking(s.citizen, start, hold=True),
                       headers=s.headers).json()  # fmt: skip
    assert held["status"] == "held"
    assert held["held_until"]
    confirmed = client.post(f"/api/v1/appointments/{held['id']}/confirm", headers=s.headers)
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "booked"
    assert confirmed.json()["held_until"] is None
    again = client.post(f"/api/v1/appointments/{held['id']}/confirm", headers=s.headers)
    assert again.status_code == 409

    later = at(next_working_day(), 12)
    lapsing = client.post("/api/v1/appointments", json=booking(s.citizen, later, hold=True),
                          headers=s.headers).json()  # fmt: skip
    other = factories.person(db_session)
    other_headers = factories.session_token(db_session, other)
    db_session.commit()
    with clock.frozen(clock.now() + timedelta(minutes=16)):
        # The lapsed hold reads as free at once and can be booked by someone else.
        taken = client.post("/api/v1/appointments", json=booking(other, later),
                            headers=other_headers)  # fmt: skip
        assert taken.status_code == 201, taken.text
        late = client.post(f"/api/v1/appointments/{lapsing['id']}/confirm", headers=s.headers)
        assert late.status_code == 409
    db_session.expire_all()
    assert db_session.get(Appointment, uuid.UUID(lapsing["id"])).status == "expired"


def test_reschedule_keeps_the_id_bumps_the_sequence_and_frees_the_old_slot(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    day = next_working_day()
    made = client.post("/api/v1/appointments", json=booking(s.citizen, at(day, 9)),
                       headers=s.headers).json()  # fmt: skip
    moved = client.post(f"/api/v1/appointments/{made['id']}/reschedule",
                        json={"starts_at": at(day, 9, 15).isoformat()}, headers=s.headers)  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == made["id"]
    assert moved.json()["sequence"] == 1
    claims = db_session.scalars(select(SlotClaim.starts_at)).all()
    assert claims == [at(day, 9, 15)]
    # Moving onto a taken slot fails and keeps the booking where it was.
    other = factories.person(db_session)
    other_headers = factories.session_token(db_session, other)
    db_session.commit()
    blocker = client.post("/api/v1/appointments", json=booking(other, at(day, 10)),
                          headers=other_headers)  # fmt: skip
    assert blocker.status_code == 201
    refused = client.post(f"/api/v1/appointments/{made['id']}/reschedule",
                          json={"starts_at": at(day, 10).isoformat()}, headers=s.headers)  # fmt: skip
    assert refused.status_code == 409
    kept = client.get(f"/api/v1/appointments/{made['id']}", headers=s.headers).json()
    assert kept["starts_at"] == moved.json()["starts_at"]
    assert kept["sequence"] == 1


def test_cancel_frees_the_slot_and_strangers_cannot_see_it(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    start = at(next_working_day(), 9)
    made = client.post("/api/v1/appointments", json=booking(s.citizen, start),
                       headers=s.headers).json()  # fmt: skip
    stranger = factories.person(db_session)
    stranger_headers = factories.session_token(db_session, stranger)
    db_session.commit()
    hidden = client.get(f"/api/v1/appointments/{made['id']}", headers=stranger_headers)
    assert hidden.status_code == 404
    assert client.post(f"/api/v1/appointments/{made['id']}/cancel",
                       headers=stranger_headers).status_code == 404  # fmt: skip
    cancelled = client.post(f"/api/v1/appointments/{made['id']}/cancel", headers=s.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["sequence"] == 1
    retaken = client.post("/api/v1/appointments", json=booking(stranger, start),
                          headers=stranger_headers)  # fmt: skip
    assert retaken.status_code == 201


def test_raw_insert_of_a_second_claim_fails_in_the_database(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    start = at(next_working_day(), 9)
    assert client.post("/api/v1/appointments", json=booking(s.citizen, start),
                       headers=s.headers).status_code == 201  # fmt: skip
    try:
        db_session.execute(
            text("INSERT INTO slot_claims (counter_id, starts_at, appointment_id) "
                 "SELECT counter_id, starts_at, appointment_id FROM slot_claims"),
        )  # fmt: skip
        db_session.commit()
        raise AssertionError("a second claim on the same counter and slot was accepted")
    except IntegrityError:
        db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(SlotClaim)) == 1
