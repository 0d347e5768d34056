"""T24: each (rule, person, period) makes exactly one offer, with three schedulers at once,
after three days of downtime, and across the DST changes in Europe/Skopje."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.db import session_scope
from navreme.demo.seed import seed_demo_country
from navreme.registry.models import Person
from navreme.rules import actions
from navreme.rules.compiler import compile_rule
from navreme.rules.models import Offer, RuleRun
from navreme.rules.schemas import RuleDefinition
from tests import factories
from tests.rules import factories as rf

AS_OF = date(2026, 11, 22)
SKOPJE = ZoneInfo("Europe/Skopje")
Key = tuple[str, Any, str]

DOCUMENT_RULES: list[tuple[str, dict[str, Any]]] = [
    ("document_expiry", {"service": "id-card",
                         "trigger": {"document": "id_card", "horizons_days": [90]}}),
    ("document_expiry", {"prerequisites": ["id-card"], "trigger": {"grace_days": 30}}),
]  # fmt: skip
OTHER_RULES: list[tuple[str, dict[str, Any]]] = [
    ("mandated_replacement", {}),
    ("age_reached", {}),
    ("life_event", {}),
    ("life_event", {"service": "address-change", "trigger": {"event": "move", "within_days": 30}}),
    ("eligibility", {"target": {"residence": "resident", "has_child_under": 18},
                     "guardians_for_minors": False}),
]  # fmt: skip
RULE_SETS = {"document_rules": DOCUMENT_RULES, "all_rule_kinds": DOCUMENT_RULES + OTHER_RULES}


@pytest.fixture(params=sorted(RULE_SETS))
def rule_set(request: pytest.FixtureRequest) -> list[tuple[str, dict[str, Any]]]:
    return RULE_SETS[request.param]


@pytest.fixture
def country(settings: config.Settings, rule_set: list[tuple[str, dict[str, Any]]]) -> None:
    """A few hundred seeded people and the published rules, committed."""
    seed_demo_country(settings, persons=600, seed=24, as_of=AS_OF)
    with session_scope() as session:
        for kind, overrides in rule_set:
            rf.published_rule(session, kind, **overrides)


def offer_keys() -> list[Key]:
    with session_scope() as session:
        rows = session.execute(select(Offer.rule_code, Offer.person_id, Offer.period))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def assert_exactly_once(keys: list[Key]) -> None:
    duplicates = [key for key, n in Counter(keys).items() if n > 1]
    assert duplicates == []


def single_run_keys(as_of: date) -> list[Key]:
    """What one scheduler alone makes: forget every offer and run, then compare."""
    with session_scope() as session:
        session.execute(delete(Offer))
        session.execute(delete(RuleRun))
    with session_scope() as session:
        actions.catch_up(session, until=as_of)
    return offer_keys()


def in_threads(work: Any, count: int = 3) -> None:
    """Run `work(session)` in `count` threads, each with its own session, released together."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            with session_scope() as session:
                barrier.wait(timeout=60)
                work(session)
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=scheduler) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)


# --- (a) three schedulers at once --------------------------------------------------------


@pytest.mark.usefixtures("country")
def test_three_schedulers__catch_up_in_threads_at_once__each_offer_exactly_once() -> None:
    in_threads(lambda session: actions.catch_up(session, until=AS_OF))

    keys = offer_keys()
    assert keys, "the seeded country should give the rules something to offer"
    assert_exactly_once(keys)
    assert sorted(map(str, keys)) == sorted(map(str, single_run_keys(AS_OF)))


@pytest.mark.usefixtures("country")
def test_three_schedulers__run_published_in_threads_at_once__each_offer_exactly_once() -> None:
    in_threads(lambda session: actions.run_published(session, as_of=AS_OF))

    keys = offer_keys()
    assert_exactly_once(keys)
    assert sorted(map(str, keys)) == sorted(map(str, single_run_keys(AS_OF)))


SCHEDULER = """
import pathlib, sys, time
from datetime import date
from navreme.db import session_scope
from navreme.rules import actions
folder, name, as_of = pathlib.Path(sys.argv[1]), sys.argv[2], date.fromisoformat(sys.argv[3])
(folder / f"ready-{name}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
with session_scope() as session:
    runs = actions.run_published(session, as_of=as_of)
print(name, len(runs))
"""


@pytest.mark.usefixtures("country")
def test_three_schedulers__separate_processes_at_once__each_offer_exactly_once(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "gate"
    folder.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCHEDULER, str(folder), str(n), AS_OF.isoformat()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for n in range(3)
    ]
    try:
        waited = 0.0
        while len(list(folder.glob("ready-*"))) < 3:
            assert all(p.poll() is None for p in processes), "a scheduler died before the start"
            assert waited < 120, "the schedulers never got ready"
            time.sleep(0.01)
            waited += 0.01
        (folder / "go").touch()
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in processes] == [0, 0, 0], [err for _, err in outputs]

    keys = offer_keys()
    assert keys
    assert_exactly_once(keys)
    assert sorted(map(str, keys)) == sorted(map(str, single_run_keys(AS_OF)))


# --- (b) catch-up after three days of downtime -------------------------------------------

D = AS_OF


def _catch_up(until: date) -> list[RuleRun]:
    with session_scope() as session:
        return actions.catch_up(session, until=until)


def _runs(session: Session) -> list[tuple[date, str]]:
    rows = session.execute(select(RuleRun.as_of, RuleRun.trigger).order_by(RuleRun.as_of))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_downtime__three_days_missed__catch_up_runs_each_day_and_offers_once(
    settings: config.Settings,
) -> None:
    with session_scope() as session:
        rule = rf.published_rule(session, "document_expiry", trigger={"horizons_days": [7]})
        person = factories.person(session)
        code = rule.code
    _catch_up(D)
    with session_scope() as session:
        # Recorded during the downtime: a passport that expired on D+2 (no grace days), so
        # only the runs as of D+1 and D+2 can see it.
        rf.document(session, session.get(Person, person.id), expires_on=D + timedelta(days=2),
                    issued_on=D - timedelta(days=3650))  # fmt: skip

    runs = _catch_up(D + timedelta(days=4))

    assert [(r.as_of, r.trigger) for r in runs] == [
        (D + timedelta(days=1), "catch_up"),
        (D + timedelta(days=2), "catch_up"),
        (D + timedelta(days=3), "catch_up"),
        (D + timedelta(days=4), "schedule"),
    ]
    assert _catch_up(D + timedelta(days=4)) == []
    with session_scope() as session:
        assert [day for day, _ in _runs(session)] == [D + timedelta(days=n) for n in range(5)]
        [offer] = rf.offers(session, code)
        assert (offer.person_id, offer.as_of) == (person.id, D + timedelta(days=1))
    assert_exactly_once(offer_keys())


def test_downtime__life_event_during_downtime__offered_thanks_to_catch_up(
    settings: config.Settings, request: pytest.FixtureRequest
) -> None:
    with session_scope() as session:
        rule = rf.published_rule(session, "life_event",
                                 trigger={"event": "move", "within_days": 1})  # fmt: skip
        person = factories.person(session)
        code, rule_definition = rule.code, rule.definition
    _catch_up(D)
    with session_scope() as session:
        moved = session.get(Person, person.id)
        rf.life_event(session, moved, kind="move", occurred_on=D + timedelta(days=2))  # type: ignore[arg-type]

    _catch_up(D + timedelta(days=4))
    _catch_up(D + timedelta(days=4))

    with session_scope() as session:
        [offer] = rf.offers(session, code)
        assert (offer.person_id, offer.fact_date) == (person.id, D + timedelta(days=2))
        assert offer.as_of == D + timedelta(days=2)
        # Without the catch-up, the run as of D+4 alone would not have seen it:
        definition = RuleDefinition.model_validate(rule_definition)
        alone = compile_rule(definition, D + timedelta(days=4)).subquery()
        assert session.scalar(select(func.count()).select_from(alone)) == 0
    assert_exactly_once(offer_keys())


# --- (c) across the DST changes in Europe/Skopje -----------------------------------------


def local(year: int, month: int, day: int, hour: int, minute: int, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SKOPJE, fold=fold)


@pytest.mark.parametrize(
    ("instant", "utc", "local_date"),
    [
        # Autumn: 2026-10-25 03:00 CEST → 02:00 CET (a 25-hour day).
        (local(2026, 10, 24, 23, 30), "2026-10-24T21:30", date(2026, 10, 24)),
        (local(2026, 10, 25, 0, 30), "2026-10-24T22:30", date(2026, 10, 25)),
        (local(2026, 10, 25, 2, 30, fold=0), "2026-10-25T00:30", date(2026, 10, 25)),
        (local(2026, 10, 25, 2, 30, fold=1), "2026-10-25T01:30", date(2026, 10, 25)),
        (local(2026, 10, 25, 23, 30), "2026-10-25T22:30", date(2026, 10, 25)),
        (local(2026, 10, 26, 0, 30), "2026-10-25T23:30", date(2026, 10, 26)),
        # Spring: 2027-03-28 02:00 CET → 03:00 CEST (a 23-hour day).
        (local(2027, 3, 27, 23, 30), "2027-03-27T22:30", date(2027, 3, 27)),
        (local(2027, 3, 28, 0, 30), "2027-03-27T23:30", date(2027, 3, 28)),
        (local(2027, 3, 28, 3, 30), "2027-03-28T01:30", date(2027, 3, 28)),
        (local(2027, 3, 28, 23, 30), "2027-03-28T21:30", date(2027, 3, 28)),
        (local(2027, 3, 29, 0, 30), "2027-03-28T22:30", date(2027, 3, 29)),
    ],
)
def test_dst__frozen_local_instant__today_is_the_local_date(
    instant: datetime, utc: str, local_date: date
) -> None:
    assert instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") == utc
    with clock.frozen(instant):
        assert clock.today("Europe/Skopje") == local_date
        assert clock.today() == local_date


def daily_run() -> list[RuleRun]:
    """What the scheduler does each night: catch up to the local date."""
    with session_scope() as session:
        return actions.catch_up(session, until=clock.today("Europe/Skopje"))


def _dst_country(session: Session, dst_day: date) -> str:
    """Passports entering the 7-day horizon one a day: on dst_day - 1 those expiring on
    dst_day + 5 and + 6, on dst_day the one on + 7, on dst_day + 1 the one on + 8."""
    rule = rf.published_rule(session, "document_expiry", trigger={"horizons_days": [7]})
    for n in range(5, 10):
        rf.document(session, factories.person(session), expires_on=dst_day + timedelta(days=n))
    return rule.code


def _offered_as_of(session: Session, code: str, dst_day: date) -> dict[int, date]:
    return {(o.fact_date - dst_day).days: o.as_of for o in rf.offers(session, code)}  # type: ignore[operator]


@pytest.mark.usefixtures("settings")
def test_dst__autumn_25_hour_day__daily_runs_use_local_date_and_offer_once() -> None:
    with session_scope() as session:
        code = _dst_country(session, date(2026, 10, 25))

    with clock.frozen(local(2026, 10, 24, 0, 30)):
        daily_run()
    with clock.frozen(local(2026, 10, 25, 0, 30)):  # 22:30 UTC on the 24th
        [run] = daily_run()
    assert (run.as_of, run.trigger) == (date(2026, 10, 25), "schedule")
    offers_after_first = offer_keys()

    # The scheduler fires again within the same 25-hour local day, both 02:30s included.
    for instant in (local(2026, 10, 25, 2, 30, fold=0), local(2026, 10, 25, 2, 30, fold=1),
                    local(2026, 10, 25, 23, 30)):  # fmt: skip
        with clock.frozen(instant):
            assert daily_run() == []
            with session_scope() as session:  # a forced re-run makes nothing either
                actions.run_published(session, as_of=clock.today(), trigger="manual")

    assert sorted(map(str, offer_keys())) == sorted(map(str, offers_after_first))
    with clock.frozen(local(2026, 10, 26, 0, 30)):
        [next_run] = daily_run()
    assert next_run.as_of == date(2026, 10, 26)
    with session_scope() as session:
        scheduled = [day for day, trigger in _runs(session) if trigger != "manual"]
        assert scheduled == [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
        day = date(2026, 10, 25)
        assert _offered_as_of(session, code, day) == {
            5: day - timedelta(days=1), 6: day - timedelta(days=1), 7: day, 8: day + timedelta(days=1),
        }  # fmt: skip
    assert_exactly_once(offer_keys())


@pytest.mark.usefixtures("settings")
def test_dst__spring_23_hour_day__no_day_skipped_and_offer_once() -> None:
    with session_scope() as session:
        code = _dst_country(session, date(2027, 3, 28))

    with clock.frozen(local(2027, 3, 27, 23, 30)):
        [before] = daily_run()
    with clock.frozen(local(2027, 3, 28, 0, 30)):  # 23:30 UTC on the 27th
        [run] = daily_run()
    with clock.frozen(local(2027, 3, 28, 23, 30)):
        assert daily_run() == []
    with clock.frozen(local(2027, 3, 29, 0, 30)):
        [after] = daily_run()

    assert [r.as_of for r in (before, run, after)] == [
        date(2027, 3, 27), date(2027, 3, 28), date(2027, 3, 29),
    ]  # fmt: skip
    assert {r.trigger for r in (before, run, after)} == {"schedule"}
    with session_scope() as session:
        day = date(2027, 3, 28)
        assert _offered_as_of(session, code, day) == {
            5: day - timedelta(days=1), 6: day - timedelta(days=1), 7: day, 8: day + timedelta(days=1),
        }  # fmt: skip
    assert_exactly_once(offer_keys())
