"""T15: sessions rotate at login, die at logout, time out; one-time codes are single-use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.identity.models import WebSession
from tests import factories


def _me(client: TestClient, headers: dict[str, str]) -> str:
    return client.get("/api/v1/me", headers=headers).json()["kind"]


def test_login__new_session_each_time__old_one_revoked_when_replaced(
    client: TestClient, db_session: Session
) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    first = factories.officer_token(client, login)
    response = client.post(
        "/api/v1/auth/officer/login",
        headers=first,
        json={
            "username": login.officer.username,
            "password": factories.PASSWORD,
            "totp": login.totp_now,
        },
    )
    second = {"Authorization": f"Bearer {response.json()['token']}"}
    assert second != first
    assert _me(client, second) == "officer"
    assert client.get("/api/v1/me", headers=first).status_code == 401


def test_logout__token_dead_afterwards(client: TestClient, db_session: Session) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    headers = factories.officer_token(client, login)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("idle", "alive"), [(timedelta(minutes=29), True), (timedelta(minutes=31), False)]
)
def test_session__idle_timeout(
    client: TestClient, db_session: Session, idle: timedelta, alive: bool
) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    headers = factories.officer_token(client, login)
    with clock.frozen(clock.now() + idle):
        assert (client.get("/api/v1/me", headers=headers).status_code == 200) is alive


def test_session__absolute_timeout_even_when_active(
    client: TestClient, db_session: Session
) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    headers = factories.officer_token(client, login)
    start = clock.now()
    for minutes in range(20, 12 * 60, 20):  # active every 20 minutes for 12 hours
        with clock.frozen(start + timedelta(minutes=minutes)):
            assert client.get("/api/v1/me", headers=headers).status_code == 200
    with clock.frozen(start + timedelta(hours=12, minutes=1)):
        assert client.get("/api/v1/me", headers=headers).status_code == 401


def _challenge(client: TestClient, db_session: Session) -> tuple[str, str]:
    person = factories.person(db_session, phone="+38970123456")
    db_session.commit()
    body = client.post("/api/v1/auth/citizen/code", json={"national_id": person.national_id}).json()
    assert body["sent_to"] == "*********456"
    return body["challenge_id"], factories.last_code(db_session, "+38970123456")


def _verify(client: TestClient, challenge_id: str, code: str) -> int:
    body = {"challenge_id": challenge_id, "code": code}
    return client.post("/api/v1/auth/citizen/verify", json=body).status_code


def test_one_time_code__single_use(client: TestClient, db_session: Session) -> None:
    challenge_id, code = _challenge(client, db_session)
    assert _verify(client, challenge_id, code) == 200
    assert _verify(client, challenge_id, code) == 401


def test_one_time_code__expires_after_five_minutes(client: TestClient, db_session: Session) -> None:
    challenge_id, code = _challenge(client, db_session)
    with clock.frozen(clock.now() + timedelta(minutes=5, seconds=1)):
        assert _verify(client, challenge_id, code) == 401


def test_one_time_code__five_wrong_tries_burn_it(client: TestClient, db_session: Session) -> None:
    challenge_id, code = _challenge(client, db_session)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert [_verify(client, challenge_id, wrong) for _ in range(5)] == [401] * 5
    assert _verify(client, challenge_id, code) == 401
    denied = select(func.count()).where(
        AuditEntry.action == "auth.citizen_login", AuditEntry.outcome == "denied"
    )
    assert db_session.scalar(denied) == 6


def test_code_request__unknown_number__same_answer_and_nothing_sent(
    client: TestClient, db_session: Session
) -> None:
    response = client.post(
        "/api/v1/auth/citizen/code", json={"national_id": factories.national_id()}
    )
    assert response.status_code == 202
    assert response.json()["sent_to"] is None


def test_officer_login__five_failures_lock_the_account(
    client: TestClient, db_session: Session
) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    bad = {"username": login.officer.username, "password": "wrong", "totp": "000000"}
    assert [client.post("/api/v1/auth/officer/login", json=bad).status_code for _ in range(5)] == [
        401
    ] * 5
    good = {
        "username": login.officer.username,
        "password": factories.PASSWORD,
        "totp": login.totp_now,
    }
    assert client.post("/api/v1/auth/officer/login", json=good).status_code == 401
    with clock.frozen(clock.now() + timedelta(minutes=16)):
        good["totp"] = login.totp_now
        assert client.post("/api/v1/auth/officer/login", json=good).status_code == 200


def test_officer_login__wrong_totp__refused_and_audited(
    client: TestClient, db_session: Session
) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    wrong = f"{(int(login.totp_now) + 500_000) % 1_000_000:06d}"
    body = {"username": login.officer.username, "password": factories.PASSWORD, "totp": wrong}
    response = client.post("/api/v1/auth/officer/login", json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "login_failed"
    assert db_session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_api_tokens__admin_creates_revokes__token_works_until_revoked(
    client: TestClient, db_session: Session
) -> None:
    admin = factories.officer(db_session, roles=("admin",))
    clerk = factories.officer(db_session, department_code="UMEV")
    db_session.commit()
    headers = factories.officer_token(client, admin)
    created = client.post(
        "/api/v1/tokens",
        headers=headers,
        json={"officer_id": str(clerk.officer.id), "name": "batch"},
    )
    assert created.status_code == 201
    machine = {"Authorization": f"Bearer {created.json()['token']}"}
    assert client.get("/api/v1/me", headers=machine).json()["via"] == "api_token"
    token_id = created.json()["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=machine).status_code == 401
    assert "token" not in client.get("/api/v1/tokens", headers=headers).json()[0]


def test_bearer__garbage_token__401_envelope(client: TestClient) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer nvr_abc_def"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
