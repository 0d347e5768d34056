"""Sign-in pages work end to end without JavaScript; every form is CSRF-protected."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme.registry.models import Document
from tests import factories


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def test_citizen__signs_in_with_code_by_forms__sees_own_documents_then_signs_out(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone="+38970555444")
    db_session.add(
        Document(person_id=person.id, kind="passport", number="P7654321",
                 issued_on=date(2020, 1, 2), expires_on=date(2030, 1, 2))
    )  # fmt: skip
    db_session.commit()
    form = client.get("/login/citizen?lang=en").text
    sent = client.post(
        "/login/citizen",
        data={"national_id": person.national_id, "csrf_token": _field(form, "csrf_token")},
    )
    assert "*********444" in sent.text
    code = factories.last_code(db_session, "+38970555444")
    home = client.post(
        "/login/citizen/code",
        data={"challenge_id": _field(sent.text, "challenge_id"), "code": code,
              "csrf_token": _field(sent.text, "csrf_token")},
    )  # fmt: skip
    assert home.status_code == 200
    assert "P7654321" in home.text
    assert "Passport" in home.text
    out = client.post("/logout", data={"csrf_token": _field(home.text, "csrf_token")})
    assert out.url.path == "/"
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_citizen__wrong_code__told_plainly_in_their_language(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone="+38970555333")
    db_session.commit()
    form = client.get("/login/citizen?lang=sq").text
    sent = client.post(
        "/login/citizen",
        data={"national_id": person.national_id, "csrf_token": _field(form, "csrf_token")},
    )
    refused = client.post(
        "/login/citizen/code",
        data={"challenge_id": _field(sent.text, "challenge_id"), "code": "000000",
              "csrf_token": _field(sent.text, "csrf_token")},
    )  # fmt: skip
    assert refused.status_code == 401
    assert "Kodi është i gabuar" in refused.text


def test_officer_home__shows_only_own_department(client: TestClient, db_session: Session) -> None:
    mine = factories.officer(db_session, username="ana.mvr")
    factories.officer(db_session, username="colleague.mvr")
    factories.officer(db_session, username="other.umev", department_code="UMEV")
    db_session.commit()
    form = client.get("/login/officer").text
    home = client.post(
        "/login/officer",
        data={"username": "ana.mvr", "password": factories.PASSWORD, "totp": mine.totp_now,
              "csrf_token": _field(form, "csrf_token")},
    )  # fmt: skip
    assert home.status_code == 200
    assert home.text.count("Test Officer") == 3  # the header line and two colleagues
    assert "other.umev" not in home.text


def test_every_form_post__without_csrf__refused_and_nothing_happens(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone="+38970555222")
    db_session.commit()
    forms = {
        "/login/officer": {"username": "x", "password": "y", "totp": "123456"},
        "/login/citizen": {"national_id": person.national_id},
        "/login/citizen/code": {
            "challenge_id": "00000000-0000-0000-0000-000000000000",
            "code": "1",
        },
    }
    for path, data in forms.items():
        assert client.post(path, data={**data, "csrf_token": "nope"}).status_code == 403
    from sqlalchemy import func, select

    from navreme.messaging.models import Delivery

    assert db_session.scalar(select(func.count()).select_from(Delivery)) == 0
