"""Request pages end to end: a citizen sends a request on the web (once, however often the form
is posted), follows it, and an officer sees it in the department's queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases.models import Case
from navreme.registry.models import Person
from tests import factories
from tests.cases.support import load, make_case
from tests.web.support import as_citizen, as_officer, csrf, field


@pytest.fixture
def citizen(client: TestClient, db_session: Session) -> Person:
    load(db_session)
    person = factories.person(db_session)
    db_session.commit()
    as_citizen(client, db_session, person)
    return person


def submit(client: TestClient, page: str, action: str, **data: str):  # noqa: ANN201
    """POST the page's form with its CSRF token, without following the redirect."""
    return client.post(action, data={"csrf_token": csrf(page), **data}, follow_redirects=False)


def _count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Case)) or 0


def _form(**values: str) -> dict[str, str]:
    return {"category": "waste", "municipality": "MK-101", "address": "",
            "text": "Контејнерот не е празнет.", **values}  # fmt: skip


@pytest.mark.parametrize("lang", ["mk", "sq"])
def test_send_a_request__one_case_even_when_posted_twice(
    client: TestClient, db_session: Session, citizen: object, lang: str
) -> None:
    page = client.get(f"/me/cases/new?lang={lang}").text
    token = field(page, "request_id")
    first = submit(client, page, "/me/cases", request_id=token, **_form())
    again = submit(client, page, "/me/cases", request_id=token, **_form())
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert _count(db_session) == 1
    case = db_session.scalars(select(Case)).one()
    assert (case.channel, case.person_id, case.category_code) == ("web", citizen.id, "waste")  # type: ignore[attr-defined]
    shown = client.get(first.headers["location"])
    assert case.reference in shown.text
    assert "Контејнерот не е празнет." in shown.text
    assert case.reference in client.get("/me/cases").text


def test_bad_input__422_and_nothing_made(
    client: TestClient, db_session: Session, citizen: object
) -> None:
    page = client.get("/me/cases/new").text
    token = field(page, "request_id")
    empty = submit(client, page, "/me/cases", request_id=token, **_form(text=" "))
    nowhere = submit(client, page, "/me/cases", request_id=token, **_form(municipality="XX"))
    assert empty.status_code == nowhere.status_code == 422
    assert 'role="alert"' in empty.text
    assert _count(db_session) == 0


def test_csrf_missing__403_and_nothing_made(
    client: TestClient, db_session: Session, citizen: object
) -> None:
    page = client.get("/me/cases/new").text
    response = client.post(
        "/me/cases", data={"request_id": field(page, "request_id"), **_form()},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 403
    assert _count(db_session) == 0


def test_another_persons_request__404(
    client: TestClient, db_session: Session, citizen: object
) -> None:
    stranger = factories.person(db_session)
    theirs = make_case(db_session, person_id=stranger.id).case
    db_session.commit()
    assert client.get(f"/me/cases/{theirs.reference}").status_code == 404
    assert theirs.reference not in client.get("/me/cases").text


def test_signed_out__sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/me/cases", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login/citizen"


def test_officer_queue__the_departments_cases_with_sla_in_words(
    client: TestClient, db_session: Session
) -> None:
    load(db_session)
    ours = make_case(db_session).case  # waste → OPST
    theirs = make_case(db_session, category_code="identity-documents").case  # → MVR
    db_session.commit()
    as_officer(client, db_session, department_code="OPST")
    page = client.get("/officer/cases?lang=en").text
    assert ours.reference in page
    assert theirs.reference not in page
    assert "On time" in page
    assert "Во рок" in client.get("/officer/cases?lang=mk").text
    assert client.get(f"/officer/cases/{ours.id}").status_code == 200
    assert client.get(f"/officer/cases/{theirs.id}").status_code == 404
    assert client.get("/officer/cases/triage").status_code == 403  # supervisors only


def test_officer_step__bad_input_422_and_csrf_403(client: TestClient, db_session: Session) -> None:
    load(db_session)
    case = make_case(db_session).case
    db_session.commit()
    as_officer(client, db_session, department_code="OPST")
    page = client.get(f"/officer/cases/{case.id}").text
    assert submit(client, page, f"/officer/cases/{case.id}/reject", text="").status_code == 422
    assert client.post(f"/officer/cases/{case.id}/accept").status_code == 403
    db_session.expire_all()
    assert db_session.get(Case, case.id).status == "new"  # type: ignore[union-attr]


def test_officer_accepts__status_changes(client: TestClient, db_session: Session) -> None:
    load(db_session)
    case = make_case(db_session).case
    db_session.commit()
    as_officer(client, db_session, department_code="OPST")
    page = client.get(f"/officer/cases/{case.id}").text
    assert submit(client, page, f"/officer/cases/{case.id}/accept").status_code == 303
    db_session.expire_all()
    assert db_session.get(Case, case.id).status == "accepted"  # type: ignore[union-attr]


def _closed(db_session: Session, person: object) -> Case:
    case = make_case(db_session, person_id=person.id).case  # type: ignore[attr-defined]
    case.status, case.closed_at, case.resolution = "closed", clock.now(), "Испразнето."
    case.reopen_until = clock.now() + timedelta(days=14)
    db_session.commit()
    return case


def test_closed_request__rating_and_reopen_forms_shown(
    client: TestClient, db_session: Session, citizen: object
) -> None:
    case = _closed(db_session, citizen)
    page = client.get(f"/me/cases/{case.reference}?lang=sq").text
    assert 'name="rating"' in page
    assert "<fieldset" in page
    assert "<legend>" in page
    assert f"/me/cases/{case.reference}/reopen" in page
    bad = submit(client, page, f"/me/cases/{case.reference}/rating", rating="9")
    assert bad.status_code == 422


def test_rate__stored_once(client: TestClient, db_session: Session, citizen: object) -> None:
    case = _closed(db_session, citizen)
    page = client.get(f"/me/cases/{case.reference}").text
    done = submit(client, page, f"/me/cases/{case.reference}/rating", rating="4", comment="Брзо.")
    assert done.status_code == 303
    db_session.expire_all()
    assert db_session.get(Case, case.id).rating == 4  # type: ignore[union-attr]


def test_reopen__back_to_accepted(client: TestClient, db_session: Session, citizen: object) -> None:
    case = _closed(db_session, citizen)
    page = client.get(f"/me/cases/{case.reference}").text
    done = submit(client, page, f"/me/cases/{case.reference}/reopen", reason="Пак е полно.")
    assert done.status_code == 303
    db_session.expire_all()
    assert db_session.get(Case, case.id).status == "accepted"  # type: ignore[union-attr]
