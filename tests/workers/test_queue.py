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
