"""The per-process snapshot of categories and routing rules: kept between cases, never stale
for a write made through this process, at most TTL_SECONDS stale for one made elsewhere."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from navreme import config, db
from navreme.cases import actions, lookup
from navreme.cases.models import RoutingRule
from navreme.db import session_scope
from navreme.identity.principal import Principal
from tests import factories

SYSTEM = Principal(kind="system")


@pytest.fixture
def categories(db_session: Session) -> Session:
    from navreme.catalogue.actions import load_demo_catalogue

    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    factories.municipality(db_session)  # MK-101
    db_session.commit()
    return db_session


def _receive(**overrides: object) -> actions.Received:
    values: dict[str, object] = {"text": "Контејнерот не е празнет.", "channel": "web",
                                 "category_code": "waste", "municipality_code": "MK-101"}  # fmt: skip
    values.update(overrides)
    with session_scope() as session:
        return actions.receive(session, actions.Submission(**values), actor=SYSTEM)  # type: ignore[arg-type]


@pytest.fixture
def sql(settings: config.Settings) -> Iterator[list[str]]:
    """Every statement the application's engine sends while the test runs."""
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    engine = db.get_engine(settings)
    event.listen(engine, "before_cursor_execute", note)
    yield sent
    event.remove(engine, "before_cursor_execute", note)


def _reads_of(sent: list[str], table: str) -> int:
    return sum(1 for s in sent if s.lstrip().upper().startswith("SELECT") and table in s)


def test_snapshot__kept_between_cases__no_category_or_rule_read_per_case(
    categories: Session, sql: list[str]
) -> None:
    _receive()
    sql.clear()
    for _ in range(3):
        assert _receive().case.status == "new"
    assert _reads_of(sql, "case_categories") == 0
    assert _reads_of(sql, "routing_rules") == 0


def test_rule_committed_through_another_session__the_next_case_sees_it_at_once(
    categories: Session,
) -> None:
    opst = factories.department(categories, "OPST").id
    assert _receive().case.department_id == opst  # the snapshot is filled
    other = factories.department(categories, "MVR").id
    with session_scope() as session:
        session.add(RoutingRule(category_code="waste", municipality_code="MK-101",
                                department_id=other))  # fmt: skip
    assert _receive().case.department_id == other
    assert _receive(municipality_code=None).case.department_id == opst


def test_uncommitted_write__only_its_own_transaction_sees_it__a_rollback_leaves_nothing(
    categories: Session,
) -> None:
    opst = factories.department(categories, "OPST").id
    other = factories.department(categories, "MVR").id
    categories.commit()
    assert lookup.snapshot(categories).route("waste", "MK-101") == opst
    writer = Session(bind=db.get_engine(), expire_on_commit=False)
    try:
        writer.add(RoutingRule(category_code="waste", municipality_code="MK-101",
                               department_id=other))  # fmt: skip
        writer.flush()
        assert lookup.snapshot(writer).route("waste", "MK-101") == other  # its own row
        assert lookup.snapshot(categories).route("waste", "MK-101") == opst  # not committed
        writer.rollback()
    finally:
        writer.close()
    assert lookup.snapshot(categories).route("waste", "MK-101") == opst


def test_category_changed_by_sql_in_this_process__seen_after_its_commit(
    categories: Session,
) -> None:
    before = _receive().case
    with session_scope() as session:
        session.execute(text("UPDATE case_categories SET active = false WHERE code = 'waste'"))
    with pytest.raises(actions.CaseError, match="Unknown category 'waste'"):
        _receive()
    with session_scope() as session:
        session.execute(text("UPDATE case_categories SET active = true, resolve_days = 20 "
                             "WHERE code = 'waste'"))  # fmt: skip
    after = _receive().case
    assert after.resolve_due_at > before.resolve_due_at  # type: ignore[operator]


def test_change_from_another_process__seen_within_the_ttl(
    categories: Session, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that never passes through this process (another API process, psql) is the one
    the snapshot can miss, for TTL_SECONDS at most: the documented bound."""
    assert lookup.snapshot(categories).categories["waste"].resolve_days == 5
    categories.commit()
    statement = "UPDATE case_categories SET resolve_days = 9 WHERE code = 'waste'"
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as raw:
            raw.execute(statement)
    else:
        with psycopg.connect(url) as raw:
            raw.execute(statement)
    assert lookup.snapshot(categories).categories["waste"].resolve_days == 5  # within the TTL
    later = lookup.monotonic() + lookup.TTL_SECONDS + 0.1
    monkeypatch.setattr(lookup, "monotonic", lambda: later)
    assert lookup.snapshot(categories).categories["waste"].resolve_days == 9


def test_snapshot_read_between_a_write_and_its_commit__dropped_at_the_commit(
    categories: Session,
) -> None:
    opst = factories.department(categories, "OPST").id
    other = factories.department(categories, "MVR").id
    categories.commit()
    writer = Session(bind=db.get_engine(), expire_on_commit=False)
    try:
        writer.add(RoutingRule(category_code="waste", municipality_code="MK-101",
                               department_id=other))  # fmt: skip
        writer.flush()
        assert lookup.snapshot(categories).route("waste", "MK-101") == opst  # kept, for now
        writer.commit()
    finally:
        writer.close()
    assert lookup.snapshot(categories).route("waste", "MK-101") == other


def test_municipality_and_department_written_here__seen_by_the_next_case(
    categories: Session,
) -> None:
    """The nearest-centre search and the message's department name use the snapshot too."""
    from navreme.identity.models import Department
    from navreme.registry.models import Municipality

    assert lookup.snapshot(categories).nearest(41.996, 21.431) is None  # only Veles, 45 km off
    opst = factories.department(categories, "OPST")
    categories.commit()
    with session_scope() as session:
        session.add(Municipality(code="MK-77", name="Centar", name_mk="Центар", region="Skopje",
                                 in_city_of_skopje=True, latitude=41.996, longitude=21.431))  # fmt: skip
        session.get_one(Department, opst.id).name_en = "Communal services"
    known = lookup.snapshot(categories)
    assert known.nearest(41.9981, 21.4254) == "MK-77"
    assert known.departments[opst.id].name_en == "Communal services"
