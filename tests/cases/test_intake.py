"""Intake: one case per submission, routed by data, with SLA deadlines; access by department."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases import actions, queries
from navreme.cases.models import Case, CaseCategory, CaseEvent, RoutingRule
from navreme.catalogue.actions import load_demo_catalogue
from navreme.db import session_scope
from navreme.identity.principal import Principal
from tests import factories

SYSTEM = Principal(kind="system")
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Skopje


@pytest.fixture
def categories(db_session: Session) -> Session:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    factories.municipality(db_session)  # MK-101
    db_session.commit()
    return db_session


def _submission(**overrides: object) -> actions.Submission:
    values: dict[str, object] = {
        "text": "Контејнерот на нашата улица не е празнет две недели.", "channel": "web",
        "category_code": "waste", "municipality_code": "MK-101",
    }  # fmt: skip
    values.update(overrides)
    return actions.Submission(**values)  # type: ignore[arg-type]


def _officer(session: Session, code: str, *roles: str) -> Principal:
    department = factories.department(session, code)
    return Principal(kind="officer", id=uuid.uuid4(), department_id=department.id,
                     roles=frozenset(roles or ("officer",)))  # fmt: skip


def test_receive__routed_by_category__sla_deadlines_in_working_time(categories: Session) -> None:
    with clock.frozen(MONDAY_10):
        made = actions.receive(categories, _submission(), actor=SYSTEM)
    case = made.case
    assert made.created
    assert case.status == "new"
    assert case.reference.startswith("NV-")
    assert len(case.reference) == 11
    assert case.department_id == factories.department(categories, "OPST").id
    assert case.classified_by == "sender"
    # waste: accept within 8 working hours (Tuesday 10:00), resolve within 5 working days
    assert case.accept_due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert case.resolve_due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    kinds = categories.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert sorted(kinds) == ["classified", "received", "routed"]


def test_receive__area_rule_beats_the_country_wide_one(categories: Session) -> None:
    other = factories.department(categories, "MVR")
    categories.add(RoutingRule(category_code="waste", municipality_code="MK-101",
                               department_id=other.id))  # fmt: skip
    categories.flush()
    case = actions.receive(categories, _submission(), actor=SYSTEM).case
    assert case.department_id == other.id
    elsewhere = actions.receive(categories, _submission(municipality_code=None), actor=SYSTEM)
    assert elsewhere.case.department_id == factories.department(categories, "OPST").id


def test_receive__no_department_for_it__triage(categories: Session) -> None:
    case = actions.receive(categories, _submission(category_code="other"), actor=SYSTEM).case
    assert case.status == "triage"
    assert case.department_id is None


def test_receive__bad_input__clear_error_nothing_written(categories: Session) -> None:
    with pytest.raises(actions.CaseError, match="Unknown category"):
        actions.receive(categories, _submission(category_code="unicorns"), actor=SYSTEM)
    with pytest.raises(actions.CaseError, match="needs some text"):
        actions.receive(categories, _submission(text="   \n"), actor=SYSTEM)
    assert categories.scalar(select(func.count()).select_from(Case)) == 0


def test_receive__unknown_municipality__clear_error__the_transaction_goes_on(
    categories: Session,
) -> None:
    """No pre-read: the INSERT stores nothing for an unknown area, and receive() says why
    (never the foreign key's IntegrityError, which would also abort a PostgreSQL transaction)."""
    with pytest.raises(actions.CaseError, match=r"^Unknown municipality 'MK-999'\.$"):
        actions.receive(categories, _submission(municipality_code="MK-999"), actor=SYSTEM)
    with pytest.raises(actions.CaseError, match="Unknown municipality"):
        actions.receive(categories, _submission(municipality_code="MK-999", idempotency_key="u"),
                        actor=SYSTEM)  # fmt: skip
    assert categories.scalar(select(func.count()).select_from(Case)) == 0
    made = actions.receive(categories, _submission(idempotency_key="u"), actor=SYSTEM)
    assert made.created
    assert made.case.municipality_code == "MK-101"


def test_receive__same_idempotency_key__one_case(categories: Session) -> None:
    first = actions.receive(categories, _submission(idempotency_key="k-1"), actor=SYSTEM)
    again = actions.receive(categories, _submission(idempotency_key="k-1"), actor=SYSTEM)
    assert first.created
    assert not again.created
    assert again.case.id == first.case.id
    assert categories.scalar(select(func.count()).select_from(Case)) == 1


def test_receive__repeat_after_its_category_was_retired__still_the_first_case(
    categories: Session,
) -> None:
    """Nothing is read before the INSERT, but a repeat is answered as before even when the
    submission would no longer be accepted as new."""
    first = actions.receive(categories, _submission(idempotency_key="k-2"), actor=SYSTEM)
    categories.execute(
        update(CaseCategory).where(CaseCategory.code == "waste").values(active=False)
    )
    categories.commit()
    again = actions.receive(categories, _submission(idempotency_key="k-2"), actor=SYSTEM)
    assert (again.created, again.case.id) == (False, first.case.id)
    with pytest.raises(actions.CaseError, match="Unknown category 'waste'"):
        actions.receive(categories, _submission(idempotency_key="k-3"), actor=SYSTEM)


def test_receive__eight_concurrent_duplicates__one_case(categories: Session) -> None:
    categories.commit()
    outcomes: list[bool] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        with session_scope() as session:
            made = actions.receive(session, _submission(idempotency_key="same"), actor=SYSTEM)
            outcomes.append(made.created)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    categories.expire_all()
    assert categories.scalar(select(func.count()).select_from(Case)) == 1
    assert outcomes.count(True) == 1
    assert len(outcomes) == 8


def test_access__own_department__tasks__supervisors_see_triage(categories: Session) -> None:
    routed = actions.receive(categories, _submission(), actor=SYSTEM).case
    triaged = actions.receive(categories, _submission(category_code="other"), actor=SYSTEM).case
    opst, mvr = _officer(categories, "OPST"), _officer(categories, "MVR")
    supervisor = _officer(categories, "MVR", "officer", "supervisor")
    assert queries.get_case_for(categories, opst, routed.id) is routed
    assert queries.get_case_for(categories, mvr, routed.id) is None
    assert queries.get_case_for(categories, opst, triaged.id) is None
    assert queries.get_case_for(categories, supervisor, triaged.id) is triaged
    assert queries.get_case_for(categories, supervisor, routed.id) is None
    citizen = Principal(kind="citizen", id=uuid.uuid4())
    assert queries.get_case_for(categories, citizen, routed.id) is None
