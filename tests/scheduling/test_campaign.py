"""A mandated replacement planned into invitation dates and held slots (both backends)."""

from __future__ import annotations

import tomllib
from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from navreme import clock, config
from navreme.catalogue.actions import load_demo_catalogue
from navreme.cli.main import app
from navreme.registry.models import Document
from navreme.rules.actions import create_rule_version, publish_rule
from navreme.rules.loader import DEFINITIONS_DIR
from navreme.scheduling.campaign import NotACampaign, plan_campaign
from navreme.scheduling.models import Appointment, AppointmentItem, SlotClaim
from tests import factories
from tests.rules_support import published_expiry_rule

START = date(2023, 5, 2)


def _campaign_rule(session: Session):  # type: ignore[no-untyped-def]
    text = (DEFINITIONS_DIR / "name-change-id-card-2024.toml").read_text(encoding="utf-8")
    rule = create_rule_version(session, tomllib.loads(text), actor=None)
    return publish_rule(session, rule, actor=None)


def _country(session: Session, people: int) -> None:
    load_demo_catalogue(session)
    # One small office: one counter, open two hours a day, so the campaign must spread out.
    factories.office(session, counters=1, hours=tuple((d, time(8), time(10)) for d in range(5)))
    for n in range(people):
        person = factories.person(session)
        expires = date(2023, 3, 1) if n % 3 == 0 else date(2025, 6, 1)  # a third expired
        factories.document(session, person, issued=expires.replace(year=expires.year - 10),
                           expires=expires)  # fmt: skip
    session.commit()


def test_plan_campaign__within_capacity_expired_first_and_slots_held(
    db_session: Session, settings: config.Settings
) -> None:
    _country(db_session, people=30)
    rule = _campaign_rule(db_session)
    db_session.commit()
    with clock.frozen(clock.local_midnight(START - timedelta(days=1)) + timedelta(hours=10)):
        dry = plan_campaign(db_session, settings, rule, start=START)
        assert dry.held == 0
        assert db_session.scalar(select(func.count()).select_from(Appointment)) == 0
        report = plan_campaign(db_session, settings, rule, start=START, commit=True)
        db_session.commit()
    assert (report.persons, report.planned, report.held) == (30, 30, 30)
    assert report.peak_load <= 1.0
    held = db_session.scalars(select(Appointment).order_by(Appointment.starts_at)).all()
    assert {a.status for a in held} == {"held"}
    # 8 slots a day less a 10 % buffer: at most 7 visits a day, never two on one slot.
    per_day: dict[date, int] = {}
    for appointment in held:
        day = clock.local(appointment.starts_at).date()
        per_day[day] = per_day.get(day, 0) + 1
        assert appointment.invite_on <= day
        assert appointment.held_until < appointment.starts_at
    assert max(per_day.values()) <= 7
    assert db_session.scalar(select(func.count()).select_from(SlotClaim)) == 30
    # The expired cards (every third person) come first: no later than anyone else.
    day_of = {
        person: clock.local(starts_at).date()
        for person, starts_at in db_session.execute(
            select(AppointmentItem.person_id, Appointment.starts_at).join(
                Appointment, Appointment.id == AppointmentItem.appointment_id
            )
        )
    }
    expired = set(db_session.scalars(select(Document.person_id).where(Document.expires_on < START)))
    assert max(day_of[p] for p in expired) <= min(d for p, d in day_of.items() if p not in expired)


def test_plan_campaign__refuses_other_rules(db_session: Session, settings: config.Settings) -> None:
    rule = published_expiry_rule(db_session)
    with pytest.raises(NotACampaign, match="mandated-replacement"):
        plan_campaign(db_session, settings, rule, start=START)


def test_cli_plan_campaign__reports_and_commits(
    db_session: Session, settings: config.Settings
) -> None:
    _country(db_session, people=6)
    _campaign_rule(db_session)
    db_session.commit()
    runner = CliRunner()
    day = (START - timedelta(days=1)).isoformat()
    with clock.frozen(clock.local_midnight(START - timedelta(days=1)) + timedelta(hours=10)):
        dry = runner.invoke(app, ["plan", "campaign", "name-change-id-card-2024",
                                  "--start", START.isoformat()])  # fmt: skip
        assert dry.exit_code == 0, dry.output
        assert "persons targeted   6" in dry.output
        done = runner.invoke(app, ["plan", "campaign", "name-change-id-card-2024",
                                   "--start", START.isoformat(), "--commit"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "slots held         6" in done.output
    missing = runner.invoke(app, ["plan", "campaign", "no-such-rule", "--start", day])
    assert missing.exit_code == 2


def test_plan_campaign__holds_nothing_in_the_past(
    db_session: Session, settings: config.Settings
) -> None:
    _country(db_session, people=3)
    rule = _campaign_rule(db_session)
    db_session.commit()
    with clock.frozen(clock.local_midnight(START + timedelta(days=3))):
        with pytest.raises(NotACampaign, match="tomorrow"):
            plan_campaign(db_session, settings, rule, start=START, commit=True)
        assert plan_campaign(db_session, settings, rule, start=START).planned == 3
