"""Signing in and filling forms the way a browser without JavaScript does, for page tests."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme.identity.actions import start_session
from navreme.registry.models import Person
from navreme.web.deps import SESSION_COOKIE
from tests import factories


def field(html: str, name: str) -> str:
    """The value of the first hidden/input field called `name` in the page."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


def csrf(html: str) -> str:
    return field(html, "csrf_token")


def as_citizen(client: TestClient, session: Session, person: Person) -> None:
    """The client carries a citizen's session cookie (the code dance is tested elsewhere)."""
    started = start_session(session, subject_kind="citizen", subject_id=person.id, replaces=None)
    session.commit()
    client.cookies.set(SESSION_COOKIE, started.token)


def as_officer(
    client: TestClient, session: Session, *, roles: tuple[str, ...] = ("officer",),
    department_code: str = "MVR",
) -> factories.OfficerLogin:  # fmt: skip
    login = factories.officer(session, roles=roles, department_code=department_code)
    started = start_session(
        session, subject_kind="officer", subject_id=login.officer.id, replaces=None
    )
    session.commit()
    client.cookies.set(SESSION_COOKIE, started.token)
    return login


def submit(client: TestClient, page_html: str, action: str, **data: str):  # noqa: ANN201
    """POST a form of the page with its CSRF token, the way the browser would."""
    return client.post(action, data={"csrf_token": csrf(page_html), **data})
