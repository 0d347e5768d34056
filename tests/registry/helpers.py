"""Registry test helpers: request bodies, signed-in citizens, fresh counts of what was written."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme.audit.models import AuditEntry
from navreme.registry.models import Person
from tests import factories

Headers = dict[str, str]


def person_body(
    *, born: date = date(1990, 5, 17), sex: str = "F", **overrides: Any
) -> dict[str, Any]:
    body = {
        "national_id": factories.national_id(born, sex), "given_name": "Ана",
        "family_name": "Стојанова", "birth_date": born.isoformat(), "sex": sex,
        "municipality_code": "MK-101",
    }  # fmt: skip
    return body | overrides


def count(session: Session, model: type[Any]) -> int:
    """Rows as the API left them (ends the test session's read snapshot first)."""
    session.commit()
    return session.scalar(select(func.count()).select_from(model)) or 0


def persons(session: Session) -> int:
    return count(session, Person)


def audit(session: Session, action: str) -> list[AuditEntry]:
    session.commit()
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    return list(session.scalars(query))


def citizen(
    client: TestClient, session: Session, *, born: date = date(1990, 5, 17), phone: str
) -> tuple[Person, Headers]:
    """A person with a verified phone, signed in through the API."""
    row = factories.person(session, born=born, phone=phone)
    session.commit()
    return row, factories.citizen_token(client, session, row)
