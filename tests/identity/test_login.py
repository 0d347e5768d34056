from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories


def test_officer_login__password_and_totp__gives_a_working_token(
    client: TestClient, db_session: Session
) -> None:
    login = factories.officer(db_session, roles=("officer", "supervisor"))
    db_session.commit()
    headers = factories.officer_token(client, login)
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["kind"] == "officer"
    assert me["roles"] == ["officer", "supervisor"]


def test_citizen_login__one_time_code__is_single_use(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone="+38970111222")
    db_session.commit()
    headers = factories.citizen_token(client, db_session, person)
    assert client.get("/api/v1/me", headers=headers).json()["id"] == str(person.id)
