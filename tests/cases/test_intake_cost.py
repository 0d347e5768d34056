"""What one case costs the database, so that it does not grow back (issue 7): an upper bound on
the statements a new case sends, the audit entry's own left out (src/navreme/audit/ changes on
its own), and no per-case read of what the per-process snapshot holds (cases/lookup.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from navreme import config, db
from navreme.cases import actions, open311, open311_keys
from navreme.catalogue.actions import load_demo_catalogue
from navreme.db import session_scope
from navreme.registry.models import Municipality

CASES = 5
# INSERT cases, INSERT case_events, the message's three INSERTs (messages, deliveries,
# delivery_events), and SQLite's BEGIN IMMEDIATE. Was 12.8 before issue 7 (main, 2026-11-23).
RECEIVE_AT_MOST = 6
# … and the client key's SELECT.
OPEN311_POST_AT_MOST = 7
SNAPSHOT_TABLES = ("case_categories", "routing_rules", "departments", "municipalities")


@pytest.fixture
def key(db_session: Session) -> str:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    db_session.add(Municipality(code="MK-77", name="Centar", name_mk="Центар", region="Skopje",
                                in_city_of_skopje=True, latitude=41.996, longitude=21.431))  # fmt: skip
    issued = open311_keys.issue_key(db_session, client="fixmystreet", actor=None)
    db_session.commit()
    return issued


@pytest.fixture
def sql(settings: config.Settings) -> Iterator[list[str]]:
    """The statements the application's engine sends, the audit entry's left out."""
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "audit_entries" not in statement and "pg_advisory_xact_lock" not in statement:
            sent.append(" ".join(statement.split()))

    engine = db.get_engine(settings)
    event.listen(engine, "before_cursor_execute", note)
    yield sent
    event.remove(engine, "before_cursor_execute", note)


def _submission(n: int) -> actions.Submission:
    return actions.Submission(
        text="Контејнерот не е празнет.", channel="open311", category_code="waste",
        municipality_code="MK-77", idempotency_key=f"fixmystreet:c-{n}",
        open311_client="fixmystreet", contact_channel="email", contact_address="a@example.org",
    )  # fmt: skip


def _reads_of_snapshot_tables(sent: list[str]) -> list[str]:
    return [s for s in sent if s.startswith("SELECT") and any(t in s for t in SNAPSHOT_TABLES)]


def test_receive__statements_per_new_case__bounded(key: str, sql: list[str]) -> None:
    with session_scope() as session:
        actions.receive(session, _submission(0), actor=open311.ACTOR)  # fills the snapshot
    sql.clear()
    for n in range(1, CASES + 1):
        with session_scope() as session:
            made = actions.receive(session, _submission(n), actor=open311.ACTOR)
        assert made.created
        assert made.case.department_id is not None  # routed, and the message written
    assert len(sql) <= RECEIVE_AT_MOST * CASES, "\n".join(sql)
    assert _reads_of_snapshot_tables(sql) == []
    assert not [s for s in sql if s.startswith("SELECT") and " FROM cases" in s]


def test_open311_post__statements_per_new_case__bounded(
    client: TestClient, key: str, sql: list[str]
) -> None:
    form = {"api_key": key, "service_code": "waste", "lat": "41.9981", "long": "21.4254",
            "description": "Bins overflowing.", "email": "ana@example.org"}  # fmt: skip
    url = "/open311/v2/requests.json"
    assert client.post(url, data=form | {"service_request_id": "w"}).status_code == 201
    sql.clear()
    for n in range(CASES):
        assert client.post(url, data=form | {"service_request_id": f"r-{n}"}).status_code == 201
    assert len(sql) <= OPEN311_POST_AT_MOST * CASES, "\n".join(sql)
    assert _reads_of_snapshot_tables(sql) == []
