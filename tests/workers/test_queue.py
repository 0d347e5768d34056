"""The job queue: every periodic job is scheduled, and the daily rule run really runs rules."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.rules.models import RuleRun
from navreme.workers.app import DAILY_RULES_SCHEDULE, daily_rules, huey


def test_periodic_schedule__daily_rules_checked_every_hour() -> None:
    due = [
        datetime(2026, 3, 29, hour, 5, tzinfo=UTC) for hour in range(24)
    ]  # across the spring DST change in Europe/Skopje
    assert all(DAILY_RULES_SCHEDULE(moment) for moment in due)
    assert not DAILY_RULES_SCHEDULE(datetime(2026, 3, 29, 10, 6, tzinfo=UTC))
    names = {task.name for task in huey.read_periodic(datetime(2026, 3, 29, 10, 5, tzinfo=UTC))}
    assert "rules.daily" in names


def test_daily_rules__runs_published_rules_once_per_day(db_session: Session) -> None:
    from tests.rules_support import published_expiry_rule

    published_expiry_rule(db_session)
    with clock.frozen(datetime(2026, 11, 22, 8, 5, tzinfo=UTC)):
        assert daily_rules.call_local() == 1
        assert daily_rules.call_local() == 0  # the same day again: nothing to do
    with clock.frozen(datetime(2026, 11, 23, 8, 5, tzinfo=UTC)):
        assert daily_rules.call_local() == 1
    assert db_session.scalar(select(func.count()).select_from(RuleRun)) == 2


def test_periodic_schedule__holds_swept_every_minute_keys_forgotten_hourly() -> None:
    every_minute = {
        task.name for task in huey.read_periodic(datetime(2026, 3, 29, 10, 6, tzinfo=UTC))
    }
    assert "scheduling.release_lapsed_holds" in every_minute
    hourly = {task.name for task in huey.read_periodic(datetime(2026, 3, 29, 10, 17, tzinfo=UTC))}
    assert "web.forget_idempotency_keys" in hourly


def test_release_lapsed_holds__task_expires_a_lapsed_hold(db_session: Session) -> None:
    from datetime import timedelta

    from navreme.config import get_settings
    from navreme.identity.principal import Principal
    from navreme.scheduling.actions import make_appointment
    from navreme.scheduling.models import Appointment
    from navreme.scheduling.queries import VisitItem
    from navreme.workers.app import release_lapsed_holds
    from tests.scheduling.support import at, next_working_day, setup

    s = setup(db_session, counters=1)
    held = make_appointment(
        db_session, get_settings(), Principal(kind="citizen", id=s.citizen.id), office=s.office,
        starts_at=at(next_working_day(), 9), items=[VisitItem(s.citizen.id, "id-card")],
        hold_for=timedelta(minutes=15),
    )  # fmt: skip
    db_session.commit()
    assert release_lapsed_holds.call_local() == 0
    with clock.frozen(clock.now() + timedelta(minutes=20)):
        assert release_lapsed_holds.call_local() == 1
    db_session.expire_all()
    assert db_session.get(Appointment, held.id).status == "expired"
