from urllib.parse import parse_qs, urlparse

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from navreme import clock
from navreme.cli.main import app
from tests import factories


def test_officer_create__then_sign_in_with_password_and_enrolled_totp(
    client: TestClient, db_session: Session
) -> None:
    factories.department(db_session, "UMEV")
    db_session.commit()
    result = CliRunner().invoke(
        app,
        ["officer", "create", "--username", "ana", "--name", "Ана", "--department", "UMEV",
         "--role", "officer", "--role", "supervisor"],
        input="a long enough password\na long enough password\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    uri = next(line for line in result.output.splitlines() if "otpauth://" in line).split(": ")[1]
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    totp = pyotp.TOTP(secret).at(clock.now().timestamp())
    body = {"username": "ana", "password": "a long enough password", "totp": totp}
    assert client.post("/api/v1/auth/officer/login", json=body).status_code == 200


def test_officer_create__bad_input__every_problem_listed_nothing_written(
    settings: object, db_session: Session
) -> None:
    result = CliRunner().invoke(
        app,
        ["officer", "create", "--username", "x", "--name", "X", "--department", "NOPE",
         "--role", "wizard"],
        input="short\nshort\n",
    )  # fmt: skip
    assert result.exit_code == 1
    for problem in ("unknown role 'wizard'", "at least 12 characters", "unknown department"):
        assert problem in result.output
    assert "x " not in CliRunner().invoke(app, ["officer", "list"]).output


def test_token_create__prints_a_token_that_authenticates(
    client: TestClient, db_session: Session
) -> None:
    login = factories.officer(db_session, username="batch-owner")
    db_session.commit()
    result = CliRunner().invoke(
        app, ["token", "create", "--username", "batch-owner", "--name", "etl"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["id"] == str(login.officer.id)
