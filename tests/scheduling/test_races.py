"""T01 booking race and T02 same-request retries, over real HTTP against a running server.

T01: 200 citizens race for 10 slots (2 counters × 5 starts) per round: exactly 10 bookings win,
everyone else gets a clean 409, no 5xx, and the database never holds two live claims on one
counter and slot. 50 rounds on PostgreSQL; on SQLite, which serialises writers, 10 rounds
(NAVREME_RACE_ROUNDS overrides both).
T02: 20 parallel POSTs with one Idempotency-Key have exactly one effect and one answer; the
same key with another body is a 422.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from navreme import config
from navreme.scheduling.models import Appointment, SlotClaim
from tests import factories
from tests.scheduling.support import at, booking, next_working_day, setup

RACERS = 200
STARTS_PER_ROUND = 5  # × 2 counters = 10 slots


def _rounds(settings: config.Settings) -> int:
    if found := os.environ.get("NAVREME_RACE_ROUNDS"):
        return int(found)
    return 10 if settings.is_sqlite else 50


def _overlapping_claims(session: Session) -> int:
    """Live claims sharing a counter and start: must always be 0 (the key forbids it)."""
    doubled = (
        select(SlotClaim.counter_id, SlotClaim.starts_at)
        .group_by(SlotClaim.counter_id, SlotClaim.starts_at)
        .having(func.count() > 1)
    )
    return session.scalar(select(func.count()).select_from(doubled.subquery())) or 0


def test_t01__200_citizens_race_for_10_slots(
    live_server: str, settings: config.Settings, db_session: Session
) -> None:
    setup(db_session, counters=2)
    racers = [factories.person(db_session) for _ in range(RACERS)]
    tokens = [factories.session_token(db_session, p) for p in racers]
    db_session.commit()
    chooser = random.Random(2023)  # noqa: S311 - test data, not security
    statuses: Counter[int] = Counter()
    # A fresh client per round: between rounds its pooled keep-alive connections sit idle while
    # the database is checked, the server closes them (uvicorn's keep-alive timeout), and
    # httpcore, reusing one from 64 threads at once, then read from a closed socket (EBADF).
    for round_number in range(_rounds(settings)):
        with httpx.Client(base_url=live_server, timeout=60) as http, ThreadPoolExecutor(64) as pool:
            day = next_working_day(skip=round_number // 6)
            first = at(day, 8) + timedelta(minutes=15 * STARTS_PER_ROUND * (round_number % 6))
            starts = [first + timedelta(minutes=15 * i) for i in range(STARTS_PER_ROUND)]
            picks = [chooser.choice(starts) for _ in racers]

            def race(n: int, picks: list[datetime] = picks) -> int:
                response = http.post(
                    "/api/v1/appointments", json=booking(racers[n], picks[n]), headers=tokens[n]
                )
                if response.status_code == 409:
                    assert response.json()["error"]["code"] == "slot_taken"
                return response.status_code

            got = Counter(pool.map(race, range(RACERS)))
            statuses += got
            assert got == Counter({201: 10, 409: RACERS - 10}), (round_number, got)
            won = db_session.scalar(
                select(func.count()).where(
                    Appointment.status == "booked",
                    Appointment.starts_at.between(starts[0], starts[-1]),
                )
            )
            assert won == 10
            assert _overlapping_claims(db_session) == 0
    assert all(status < 500 for status in statuses)
    # The database itself refuses an 11th booking of a taken slot, whatever the application does.
    eleventh = text(
        "INSERT INTO slot_claims (counter_id, starts_at, appointment_id) "
        "SELECT counter_id, starts_at, appointment_id FROM slot_claims LIMIT 1"
    )
    with pytest.raises(IntegrityError):
        db_session.execute(eleventh)
    db_session.rollback()


def test_t02__one_key_twenty_parallel_posts_one_effect(
    live_server: str, db_session: Session
) -> None:
    s = setup(db_session, counters=2)
    start = at(next_working_day(), 9)
    body = booking(s.citizen, start)
    headers = {**s.headers, "Idempotency-Key": "t02-booking-0001"}
    with httpx.Client(base_url=live_server, timeout=60) as http, ThreadPoolExecutor(20) as pool:

        def post(_: int) -> httpx.Response:
            return http.post("/api/v1/appointments", json=body, headers=headers)

        answers = list(pool.map(post, range(20)))
        assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        replayed = [a for a in answers if a.headers.get("idempotent-replayed") == "true"]
        assert len(replayed) == 19
        assert db_session.scalar(select(func.count()).select_from(Appointment)) == 1
        assert db_session.scalar(select(func.count()).select_from(SlotClaim)) == 1

        other = booking(s.citizen, start + timedelta(minutes=15))
        reused = http.post("/api/v1/appointments", json=other, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        # Another citizen's identical key is theirs alone: it books, it does not replay.
        stranger = factories.person(db_session)
        stranger_headers = {**factories.session_token(db_session, stranger),
                            "Idempotency-Key": "t02-booking-0001"}  # fmt: skip
        db_session.commit()
        theirs = http.post("/api/v1/appointments", json=booking(stranger, start),
                           headers=stranger_headers)  # fmt: skip
        assert theirs.status_code == 201
        assert theirs.headers.get("idempotent-replayed") is None
        bad_key = http.post("/api/v1/appointments", json=body,
                            headers={**s.headers, "Idempotency-Key": "x"})  # fmt: skip
        assert bad_key.status_code == 422
