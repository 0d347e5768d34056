"""Portfolio plans: the issue's worked example, families, delivery, windows, and fewest visits.

The brute-force test enumerates every way of putting a small household's office steps into k
ordered visits and compares the least k that works with what the planner returns.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from navreme.catalogue.actions import load_demo_catalogue
from navreme.planning.portfolio import (
    Need,
    PortfolioPlan,
    ServiceSpec,
    Window,
    plan_portfolio,
    specs_from_catalogue,
)

MONDAY = date(2026, 3, 2)


def weekdays(day: date) -> bool:
    return day.weekday() < 5


SPECS = {
    "id-card": ServiceSpec("id-card", lead_time_days=10),
    "driving-licence": ServiceSpec("driving-licence", lead_time_days=10),
    "passport": ServiceSpec(
        "passport",
        lead_time_days=10,
        delivery_allowed=True,
        prerequisites=(("id-card", "valid"),),
        minutes=20,
    ),
    "passport-minor": ServiceSpec("passport-minor", lead_time_days=10, minutes=20),
}
THREE_DOCUMENTS = [Need("ana", "id-card"), Need("ana", "driving-licence"), Need("ana", "passport")]


def steps(plan: PortfolioPlan) -> list[list[tuple[str, str, str]]]:
    return [[(i.person, i.service, i.action) for i in visit.items] for visit in plan.visits]


def plan(needs: list[Need], **options: object) -> PortfolioPlan:
    return plan_portfolio(needs, SPECS, start=MONDAY, is_working_day=weekdays, **options)  # type: ignore[arg-type]


# --- the worked example ------------------------------------------------------------------


def test_three_documents__passport_delivered__two_visits() -> None:
    result = plan(THREE_DOCUMENTS)
    assert steps(result) == [
        [("ana", "id-card", "apply"), ("ana", "driving-licence", "apply")],
        [
            ("ana", "id-card", "collect"),
            ("ana", "driving-licence", "collect"),
            ("ana", "passport", "apply"),
        ],
    ]
    assert [v.earliest for v in result.visits] == [MONDAY, MONDAY + timedelta(days=10)]
    assert [(d.service, d.arrives) for d in result.deliveries] == [
        ("passport", MONDAY + timedelta(days=22))  # 10 days after applying, 2 days of post
    ]
    assert result.visit_count == result.lower_bound == 2
    assert not result.unplanned


def test_three_documents__collected_in_person__a_third_visit_for_the_passport() -> None:
    result = plan(THREE_DOCUMENTS, prefer_delivery=False)
    assert steps(result)[2] == [("ana", "passport", "collect")]
    assert result.visits[2].earliest == date(2026, 3, 23)  # ready on Sunday the 22nd
    assert result.visit_count == result.lower_bound == 3
    assert not result.deliveries


def test_three_documents__person_refuses_delivery__collects_it() -> None:
    needs = [*THREE_DOCUMENTS[:2], Need("ana", "passport", accepts_delivery=False)]
    assert plan(needs).visit_count == 3


def test_visit_minutes__sum_of_the_items() -> None:
    first, second = plan(THREE_DOCUMENTS).visits
    assert first.minutes == 15 + 15
    assert second.minutes == 5 + 5 + 20


def test_issued_on_the_spot__applied_and_collected_in_one_visit_in_that_order() -> None:
    specs = {"extract": ServiceSpec("extract", lead_time_days=0), **SPECS}
    result = plan_portfolio(
        [Need("ana", "id-card"), Need("ana", "extract")],
        specs,
        start=MONDAY,
        is_working_day=weekdays,
    )
    assert steps(result)[0] == [
        ("ana", "id-card", "apply"),
        ("ana", "extract", "apply"),
        ("ana", "extract", "collect"),
    ]
    assert result.visit_count == 2


# --- prerequisites -------------------------------------------------------------------------------


def test_prerequisite_already_held__passport_applied_for_at_the_first_visit() -> None:
    needs = [*THREE_DOCUMENTS[:2], Need("ana", "passport", holds=frozenset({"id-card"}))]
    result = plan(needs, prefer_delivery=False)
    assert steps(result) == [
        [("ana", s, "apply") for s in ("id-card", "driving-licence", "passport")],
        [("ana", s, "collect") for s in ("id-card", "driving-licence", "passport")],
    ]


def test_prerequisite_neither_held_nor_planned__need_left_out_with_a_reason() -> None:
    result = plan([Need("ana", "passport")])
    assert [(u.service, u.reason) for u in result.unplanned] == [
        ("passport", "missing-prerequisite")
    ]
    assert result.visits == ()


def test_prerequisite_cycle__both_needs_left_out() -> None:
    specs = {
        "a": ServiceSpec("a", prerequisites=(("b", "completed"),)),
        "b": ServiceSpec("b", prerequisites=(("a", "completed"),)),
    }
    needs = [Need("ana", "a"), Need("ana", "b")]
    result = plan_portfolio(needs, specs, start=MONDAY, is_working_day=weekdays)
    assert {u.reason for u in result.unplanned} == {"prerequisite-cycle"}


def test_unknown_service_and_duplicate__reported() -> None:
    result = plan([Need("ana", "id-card"), Need("ana", "id-card"), Need("ana", "moon-visa")])
    assert [u.reason for u in result.unplanned] == ["duplicate", "unknown-service"]
    assert result.visit_count == 2


def test_dependent_of_an_unplannable_need__left_out_too() -> None:
    specs = {**SPECS, "visa": ServiceSpec("visa", prerequisites=(("passport", "valid"),))}
    needs = [Need("ana", "passport"), Need("ana", "visa")]
    result = plan_portfolio(needs, specs, start=MONDAY, is_working_day=weekdays)
    assert [u.reason for u in result.unplanned] == ["missing-prerequisite", "waits-for-unplanned"]


# --- families ------------------------------------------------------------------------------------


def test_family__parent_and_two_children_apply_together__one_visit_minutes_summed() -> None:
    needs = [Need("mother", "passport", holds=frozenset({"id-card"}))]
    needs += [Need(child, "passport-minor") for child in ("son", "daughter")]
    result = plan(needs)
    assert steps(result)[0] == [
        ("mother", "passport", "apply"),
        ("son", "passport-minor", "apply"),
        ("daughter", "passport-minor", "apply"),
    ]
    assert result.visits[0].minutes == 60
    # The children's passports are collected together; the mother's is posted.
    assert steps(result)[1] == [
        ("son", "passport-minor", "collect"),
        ("daughter", "passport-minor", "collect"),
    ]
    assert result.visit_count == result.lower_bound == 2


def test_family__child_joins_the_parent_later_visit_rather_than_adding_one() -> None:
    needs = [*THREE_DOCUMENTS, Need("son", "passport-minor")]
    result = plan(needs)
    assert result.visit_count == 2
    assert ("son", "passport-minor", "apply") in steps(result)[0]
    assert ("son", "passport-minor", "collect") in steps(result)[1]


def test_family__windows_never_meet__visits_split_and_said_so() -> None:
    windows = {
        "mother": [Window(date(2026, 7, 1), date(2026, 7, 31))],
        "son": [Window(date(2026, 9, 1), date(2026, 9, 30))],
    }
    needs = [Need("mother", "id-card"), Need("son", "passport-minor")]
    result = plan(needs, windows=windows)
    assert result.visit_count == 4 > result.lower_bound == 2
    assert {(n.person, n.code) for n in result.notes} >= {("mother", "family-split")}


# --- availability windows ------------------------------------------------------------------------


SUMMER = [Window(date(2026, 7, 1), date(2026, 8, 31))]


def test_abroad_with_a_summer_window__every_visit_inside_it() -> None:
    result = plan(THREE_DOCUMENTS, windows={"ana": SUMMER}, prefer_delivery=False)
    assert [v.earliest for v in result.visits] == [
        date(2026, 7, 1),
        date(2026, 7, 13),
        date(2026, 7, 23),
    ]
    assert result.visit_count == 3
    assert not result.notes


def test_abroad__collection_after_the_window__delivered_when_allowed() -> None:
    late_summer = [Window(date(2026, 8, 24), date(2026, 8, 31))]
    needs = [Need("ana", "passport", holds=frozenset({"id-card"}))]
    result = plan(needs, windows={"ana": late_summer}, prefer_delivery=False)
    assert [v.earliest for v in result.visits] == [date(2026, 8, 24)]
    assert [d.service for d in result.deliveries] == ["passport"]
    assert [n.code for n in result.notes] == ["delivered-outside-window"]


def test_abroad__collection_after_the_window__planned_in_the_next_window_and_said() -> None:
    windows = [
        Window(date(2026, 8, 24), date(2026, 8, 31)),
        Window(date(2027, 7, 1), date(2027, 8, 31)),
    ]
    result = plan([Need("ana", "id-card")], windows={"ana": windows})
    assert [v.earliest for v in result.visits] == [date(2026, 8, 24), date(2027, 7, 1)]
    assert [(n.service, n.code) for n in result.notes] == [("id-card", "collect-in-next-window")]


def test_abroad__no_window_left_for_the_collection__need_left_out() -> None:
    result = plan(
        [Need("ana", "id-card")], windows={"ana": [Window(date(2026, 8, 24), date(2026, 8, 31))]}
    )
    assert [u.reason for u in result.unplanned] == ["no-available-day"]
    assert result.visits == ()


def test_start_on_a_holiday__first_visit_on_the_next_working_day() -> None:
    holiday = MONDAY

    def working(day: date) -> bool:
        return weekdays(day) and day != holiday

    result = plan_portfolio(THREE_DOCUMENTS, SPECS, start=MONDAY, is_working_day=working)
    assert result.visits[0].earliest == MONDAY + timedelta(days=1)


# --- the catalogue -------------------------------------------------------------------------------


def test_specs_from_catalogue__passport_as_the_demo_catalogue_says(db_session: Session) -> None:
    load_demo_catalogue(db_session)
    specs = specs_from_catalogue(db_session)
    assert specs["passport"] == ServiceSpec(
        code="passport",
        apply_needs_visit=True,
        lead_time_days=10,
        collect_needs_visit=True,
        delivery_allowed=True,
        prerequisites=(("id-card", "valid"),),
        minutes=20,
        collect_minutes=5,
        delivery_days=2,
    )
    assert specs["birth-certificate"].apply_needs_visit is False
    assert specs["birth-certificate"].delivery_days == 3
    assert specs["child-benefit"].prerequisites == (("birth-certificate", "completed"),)


def test_catalogue_plan__licence_also_waits_for_the_id_card__three_visits(
    db_session: Session,
) -> None:
    load_demo_catalogue(db_session)
    specs = specs_from_catalogue(db_session)
    result = plan_portfolio(THREE_DOCUMENTS, specs, start=MONDAY, is_working_day=weekdays)
    assert steps(result) == [
        [("ana", "id-card", "apply")],
        [
            ("ana", "id-card", "collect"),
            ("ana", "driving-licence", "apply"),
            ("ana", "passport", "apply"),
        ],
        [("ana", "driving-licence", "collect")],
    ]
    assert result.visit_count == result.lower_bound == 3


def test_catalogue_plan__online_services_need_no_visit(db_session: Session) -> None:
    load_demo_catalogue(db_session)
    specs = specs_from_catalogue(db_session)
    needs = [Need("baby", "birth-certificate"), Need("baby", "child-benefit")]
    result = plan_portfolio(needs, specs, start=MONDAY, is_working_day=weekdays)
    assert result.visits == ()
    assert [(a.service, a.earliest) for a in result.online] == [
        ("birth-certificate", MONDAY),
        ("child-benefit", MONDAY + timedelta(days=1)),  # once the certificate is produced
    ]


@pytest.mark.parametrize("prefer_delivery", [True, False])
def test_plan__no_needs__empty_plan(prefer_delivery: bool) -> None:
    result = plan([], prefer_delivery=prefer_delivery)
    assert (result.visits, result.unplanned, result.lower_bound) == ((), (), 0)


# --- fewest visits: brute force on small random households ---------------------------------------

HORIZON = MONDAY + timedelta(days=70)


@st.composite
def households(
    draw: st.DrawFn,
) -> tuple[list[Need], dict[str, ServiceSpec], dict[str, list[Window]]]:
    """Up to three needs over services s0…s3 whose prerequisites point to lower numbers (acyclic)."""
    specs: dict[str, ServiceSpec] = {}
    for n in range(4):
        before = draw(
            st.lists(st.sampled_from([f"s{k}" for k in range(n)] or ["-"]), max_size=2, unique=True)
        )
        specs[f"s{n}"] = ServiceSpec(
            f"s{n}",
            apply_needs_visit=draw(st.sampled_from([True, True, False])),
            lead_time_days=draw(st.integers(0, 4)),
            collect_needs_visit=draw(st.booleans()),
            delivery_allowed=draw(st.booleans()),
            delivery_days=draw(st.integers(0, 2)),
            prerequisites=tuple(
                (code, draw(st.sampled_from(["valid", "completed"])))
                for code in before
                if code != "-"
            ),
        )
    persons = draw(st.lists(st.sampled_from(["p", "q"]), min_size=1, max_size=3))
    needs, seen = [], set()
    for person in persons:
        service = draw(st.sampled_from(sorted(specs)))
        if (person, service) in seen:
            continue
        seen.add((person, service))
        holds = frozenset(draw(st.lists(st.sampled_from(sorted(specs)), max_size=2)))
        needs.append(Need(person, service, holds=holds, accepts_delivery=draw(st.booleans())))
    first = MONDAY + timedelta(days=draw(st.integers(0, 10)))
    shared = [Window(first, first + timedelta(days=draw(st.integers(0, 12))))]
    shared.append(Window(first + timedelta(days=20), HORIZON))
    windowed = draw(st.sets(st.sampled_from(["p", "q"])))
    return needs, specs, {person: shared for person in windowed}


class Household:
    """The constraints of a plan, stated again independently of the planner."""

    def __init__(
        self, needs: list[Need], specs: dict[str, ServiceSpec], windows: dict[str, list[Window]]
    ) -> None:
        self.needs, self.specs, self.windows = needs, specs, windows
        self.index = {(n.person, n.service): i for i, n in enumerate(needs)}

    def delivered(self, i: int) -> bool:
        spec = self.specs[self.needs[i].service]
        return spec.collect_needs_visit and spec.delivery_allowed and self.needs[i].accepts_delivery

    def office_steps(self) -> list[tuple[int, str]]:
        found = []
        for i, need in enumerate(self.needs):
            spec = self.specs[need.service]
            found += [(i, "apply")] if spec.apply_needs_visit else []
            found += [(i, "collect")] if spec.collect_needs_visit and not self.delivered(i) else []
        return found

    def can_come(self, person: str, day: date) -> bool:
        windows = self.windows.get(person)
        return weekdays(day) and (not windows or any(day in w for w in windows))

    def _earliest_apply(self, i: int, hand: dict[int, date], ready: dict[int, date]) -> date | None:
        need, latest = self.needs[i], MONDAY
        for code, condition in self.specs[need.service].prerequisites:
            if code in need.holds:
                continue
            found = (hand if condition == "valid" else ready).get(self.index[(need.person, code)])
            if found is None:
                return None
            latest = max(latest, found)
        return latest

    def timeline(
        self, office: dict[tuple[int, str], date]
    ) -> tuple[dict[int, date], dict[int, date], bool]:
        """Application and in-hand dates that follow from the office steps' dates, and whether
        any office step is dated before its predecessors allow."""
        applied: dict[int, date] = {}
        ready: dict[int, date] = {}
        hand: dict[int, date] = {}
        early, progress = False, True
        while progress:
            progress = False
            for i, need in enumerate(self.needs):
                spec = self.specs[need.service]
                earliest = None if i in applied else self._earliest_apply(i, hand, ready)
                on = office.get((i, "apply"), None if spec.apply_needs_visit else earliest)
                if earliest is not None and on is not None:
                    early |= on < earliest
                    applied[i], ready[i] = on, on + timedelta(days=spec.lead_time_days)
                    progress = True
                if i in ready and i not in hand:
                    progress |= self._hand(i, office, ready[i], hand)
                    early |= i in hand and hand[i] < ready[i]
        return applied, hand, early

    def _hand(
        self, i: int, office: dict[tuple[int, str], date], ready: date, hand: dict[int, date]
    ) -> bool:
        spec = self.specs[self.needs[i].service]
        if spec.collect_needs_visit and not self.delivered(i):
            if (i, "collect") not in office:
                return False
            hand[i] = office[(i, "collect")]
        else:
            hand[i] = ready + timedelta(days=spec.delivery_days if self.delivered(i) else 0)
        return True

    def fits(self, assignment: tuple[int, ...], k: int) -> bool:
        """Can the office steps, put into visits 0…k−1 in date order, all be dated?"""
        office_steps, dated, day = self.office_steps(), {}, MONDAY
        for visit in range(k):
            members = [step for step, v in zip(office_steps, assignment, strict=True) if v == visit]
            people = {self.needs[i].person for i, _ in members}
            while True:
                if day > HORIZON:
                    return False
                trial = {**dated, **dict.fromkeys(members, day)}
                applied, hand, early = self.timeline(trial)
                reached = all(i in (applied if step == "apply" else hand) for i, step in members)
                if not reached:
                    return False  # a member waits for a step of a later visit
                if not early and all(self.can_come(p, day) for p in people):
                    break
                day += timedelta(days=1)
            dated = trial
        _, hand, early = self.timeline(dated)
        return not early and len(hand) == len(self.needs)

    def fewest_visits(self) -> int | None:
        steps = self.office_steps()
        for k in range(len(steps) + 1):
            if any(self.fits(a, k) for a in product(range(k), repeat=len(steps))):
                return k
        return None

    def check(self, result: PortfolioPlan) -> None:
        """The plan keeps every constraint: dates from the plan, rules from this class."""
        office = {
            (self.index[(item.person, item.service)], item.action): visit.earliest
            for visit in result.visits
            for item in visit.items
        }
        assert all(self.can_come(str(i.person), v.earliest) for v in result.visits for i in v.items)
        assert len(office) == len(self.office_steps())
        _, hand, early = self.timeline(office)
        assert not early
        assert len(hand) == len(self.needs)
        delivered = {(n.person, n.service) for i, n in enumerate(self.needs) if self.delivered(i)}
        assert {(d.person, d.service) for d in result.deliveries} == delivered


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(households())
def test_fewest_visits__equals_brute_force_on_small_households(
    case: tuple[list[Need], dict[str, ServiceSpec], dict[str, list[Window]]],
) -> None:
    needs, specs, windows = case
    result = plan_portfolio(needs, specs, start=MONDAY, is_working_day=weekdays, windows=windows)
    planned = [
        n
        for n in needs
        if (n.person, n.service) not in {(u.person, u.service) for u in result.unplanned}
    ]
    household = Household(planned, specs, windows)
    household.check(result)
    assert result.visit_count >= result.lower_bound
    if any(u.reason == "no-available-day" for u in result.unplanned):
        return  # the windows ran out: the claim is about plans that fit
    fewest = household.fewest_visits()
    assert fewest is not None  # every planned need fits within the horizon
    assert result.visit_count == fewest == result.lower_bound
