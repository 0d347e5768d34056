"""`navreme rules`: list, sync, dry-run, run and the daily job, through the real command."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from navreme.catalogue.actions import load_demo_catalogue
from navreme.cli.main import app
from navreme.rules.models import Offer, Rule, RuleRun
from tests import factories
from tests.rules import factories as rf

AS_OF = date(2026, 11, 22)
runner = CliRunner()


def _rules(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["rules", *args])
    return result.exit_code, result.output


def _catalogue(session: Session) -> None:
    load_demo_catalogue(session)
    session.commit()


def _expiring_passport(session: Session) -> None:
    person = factories.person(session)
    rf.document(session, person, expires_on=AS_OF + timedelta(days=20))
    session.commit()


def test_sync__empty_catalogue__refused_with_a_hint(db_session: Session) -> None:
    code, output = _rules("sync")

    assert code == 2
    assert "navreme seed" in output
    assert db_session.scalars(select(Rule)).all() == []


def test_sync_then_list__every_rule_published_once(db_session: Session) -> None:
    _catalogue(db_session)

    first = _rules("sync")
    second = _rules("sync")
    code, listing = _rules("list")

    assert first == (0, first[1])
    assert "created 20, published 20, unchanged 0" in first[1]
    assert "created 0, published 0, unchanged 20" in second[1]
    assert code == 0
    line = next(row for row in listing.splitlines() if row.startswith("passport-expiry "))
    assert line.split()[:6] == ["passport-expiry", "1", "published", "passport",
                                "document_expiry", "offer"]  # fmt: skip
    assert line.endswith("never")


def test_dry_run__prints_the_breakdown_and_writes_nothing(db_session: Session) -> None:
    _catalogue(db_session)
    _rules("sync")
    _expiring_passport(db_session)

    code, output = _rules("dry-run", "passport-expiry", "--as-of", AS_OF.isoformat())

    assert code == 0, output
    assert "passport-expiry v1 (published) as of 2026-11-22: 1 matched" in output
    assert "MK-101" in output
    assert "30-44" in output
    db_session.expire_all()
    assert db_session.scalars(select(Offer)).all() == []
    assert db_session.scalars(select(RuleRun)).all() == []


def test_run__one_rule__offers_made_and_shown_in_list(db_session: Session) -> None:
    _catalogue(db_session)
    _rules("sync")
    _expiring_passport(db_session)

    code, output = _rules("run", "passport-expiry", "--as-of", AS_OF.isoformat())
    _, listing = _rules("list")

    assert code == 0, output
    assert output.splitlines()[1].split()[:4] == ["passport-expiry", "2026-11-22", "manual", "1"]
    assert len(rf.offers(db_session, "passport-expiry")) == 1
    assert "2026-11-22 (1 matched" in listing


def test_run__neither_a_rule_nor_all__refused(db_session: Session) -> None:
    code, output = _rules("run")

    assert code == 2
    assert "--all" in output


def test_run__unknown_rule__refused(db_session: Session) -> None:
    code, output = _rules("run", "no-such-rule")

    assert code == 1
    assert "no published rule 'no-such-rule'" in output


def test_daily__runs_each_published_rule_once_per_day(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    db_session.commit()
    _expiring_passport(db_session)

    code, output = _rules("daily", "--as-of", AS_OF.isoformat())
    again = _rules("daily", "--as-of", AS_OF.isoformat())

    assert code == 0, output
    assert "1 run(s)" in output
    assert "0 run(s)" in again[1]
    assert [run.as_of for run in rf.runs(db_session, rule)] == [AS_OF]
