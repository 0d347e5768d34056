"""SLA supervision with a frozen clock: at risk and breached only in working time (weekends and
public holidays do not count), escalated once per state, only changed rows touched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases import actions, handling, sla
from navreme.cases.models import Case, CaseEvent
from navreme.catalogue.actions import load_demo_catalogue
from navreme.identity.principal import Principal
from tests import factories

SYSTEM = Principal(kind="system")  # type: ignore[arg-type]
# Friday 30 April 2027, 15:00 in Skopje (UTC+2); Monday 3 May 2027 is a public holiday.
FRIDAY_15 = datetime(2027, 4, 30, 13, 0, tzinfo=UTC)
TUESDAY = datetime(2027, 5, 4, tzinfo=UTC)


@pytest.fixture
def world(db_session: Session) -> Session:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    factories.municipality(db_session)
    db_session.commit()
    return db_session


def waste_case(session: Session, at: datetime) -> Case:
    submission = actions.Submission(
        text="Полн контејнер.", channel="web", category_code="waste", municipality_code="MK-101"
    )
    with clock.frozen(at):
        return actions.receive(session, submission, actor=SYSTEM).case


def sweep(session: Session, at: datetime) -> sla.Sweep:
    with clock.frozen(at):
        result = sla.supervise(session)
    session.expire_all()
    return result


def escalations(session: Session, case: Case) -> list[str]:
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "escalated")
    )
    return sorted(str(e.details["state"]) for e in events)


def test_friday_case__weekend_and_holiday_do_not_count__at_risk_then_breached(
    world: Session,
) -> None:
    case = waste_case(world, FRIDAY_15)
    # 8 working hours: Friday 15–16, then (Monday a holiday) Tuesday 08–15
    assert case.accept_due_at == TUESDAY + timedelta(hours=13)
    for quiet in (
        FRIDAY_15 + timedelta(hours=3),  # Friday evening
        datetime(2027, 5, 1, 10, tzinfo=UTC),  # Saturday
        datetime(2027, 5, 3, 12, tzinfo=UTC),  # Monday, the holiday: 14:00 would be at risk
        TUESDAY + timedelta(hours=10, minutes=59),  # Tuesday 12:59: 5h59 of 8 used
    ):
        assert sweep(world, quiet).changed == {}, quiet
        assert world.get_one(Case, case.id).sla_state == "on_time"
    result = sweep(world, TUESDAY + timedelta(hours=11))  # 13:00: three quarters used
    assert result.changed == {"at_risk": 1}
    assert result.escalated == 1
    assert world.get_one(Case, case.id).sla_state == "at_risk"
    assert sweep(world, TUESDAY + timedelta(hours=12)).changed == {}  # nothing new
    result = sweep(world, TUESDAY + timedelta(hours=13))  # 15:00: due
    assert result.changed == {"breached": 1}
    assert world.get_one(Case, case.id).sla_state == "breached"
    assert escalations(world, case) == ["at_risk", "breached"]


def test_sweep__only_changed_rows__escalated_once_per_state(world: Session) -> None:
    late = waste_case(world, FRIDAY_15)
    fresh = waste_case(world, TUESDAY + timedelta(hours=12))
    first = sweep(world, TUESDAY + timedelta(hours=13))
    assert first.changed == {"breached": 1}
    assert sweep(world, TUESDAY + timedelta(hours=13)).changed == {}
    assert world.get_one(Case, fresh.id).sla_state == "on_time"
    assert escalations(world, late) == ["breached"]  # straight to breached: one escalation


def test_accepting_switches_to_the_resolve_clock__transfer_restarts_accept(world: Session) -> None:
    case = waste_case(world, FRIDAY_15)
    sweep(world, TUESDAY + timedelta(hours=11, minutes=30))
    assert world.get_one(Case, case.id).sla_state == "at_risk"
    opst = factories.department(world, "OPST")
    officer = Principal(kind="officer", id=uuid.uuid4(), department_id=opst.id,
                        roles=frozenset({"officer"}))  # fmt: skip
    case = world.get_one(Case, case.id)
    with clock.frozen(TUESDAY + timedelta(hours=11, minutes=45)):
        handling.accept(world, case, actor=officer)
    assert case.sla_state == "on_time"  # 5 working days to resolve, from Friday
    assert sweep(world, TUESDAY + timedelta(hours=12)).changed == {}
    # resolve due: Friday 15:00 + 5 working days, skipping the holiday = Monday 10 May 15:00
    assert case.resolve_due_at == datetime(2027, 5, 10, 13, 0, tzinfo=UTC)
    assert sweep(world, datetime(2027, 5, 7, 10, 0, tzinfo=UTC)).changed == {}  # 11h left
    assert sweep(world, datetime(2027, 5, 7, 11, 0, tzinfo=UTC)).changed == {"at_risk": 1}


def test_at_risk_cases__the_supervisors_view__breached_first(world: Session) -> None:
    older = waste_case(world, FRIDAY_15)
    newer = waste_case(world, datetime(2027, 5, 5, 6, tzinfo=UTC))  # Wednesday 08:00
    sweep(world, datetime(2027, 5, 5, 12, tzinfo=UTC))  # Wednesday 14:00: 6 of 8 hours used
    opst = factories.department(world, "OPST")
    supervisor = Principal(kind="officer", id=uuid.uuid4(), department_id=opst.id,
                           roles=frozenset({"officer", "supervisor"}))  # fmt: skip
    found = sla.at_risk_cases(world, supervisor)
    assert [c.id for c in found] == [older.id, newer.id]
    assert [c.sla_state for c in found] == ["breached", "at_risk"]
    other = Principal(kind="officer", id=uuid.uuid4(),
                      department_id=factories.department(world, "MVR").id,
                      roles=frozenset({"officer", "supervisor"}))  # fmt: skip
    assert sla.at_risk_cases(world, other) == []
