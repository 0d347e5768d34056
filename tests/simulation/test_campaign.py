"""The campaign replayed on a small country, end to end: both arms' invariants."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

pytest.importorskip("numpy")
pytest.importorskip("matplotlib")

from navreme.simulation.campaign import Campaign, run_campaign  # noqa: E402
from navreme.simulation.outcome import NEVER, Outcome  # noqa: E402

PERSONS = 10_000
START, DEADLINE = date(2023, 5, 1), date(2024, 2, 12)


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return run_campaign(persons=PERSONS, start=START, deadline=DEADLINE, seed=7)


def arms(campaign: Campaign) -> list[Outcome]:
    return [campaign.reactive, campaign.navreme]


def test_campaign__any_arm__no_office_day_over_capacity(campaign: Campaign) -> None:
    for outcome in arms(campaign):
        assert (outcome.used + outcome.idle_held <= campaign.capacity.units).all(), outcome.name
        assert outcome.used.sum() > 0, outcome.name


def test_campaign__closed_days__nobody_served(campaign: Campaign) -> None:
    closed = ~campaign.timeline.working
    for outcome in arms(campaign):
        assert outcome.used[:, closed].sum() == 0, outcome.name


def test_campaign__every_issued_document__was_applied_for_at_a_visit_before(
    campaign: Campaign,
) -> None:
    for outcome in arms(campaign):
        issued = outcome.issued != NEVER
        assert issued.any(), outcome.name
        assert (outcome.applied[issued] != NEVER).all(), outcome.name
        assert (outcome.applied[issued] < outcome.issued[issued]).all(), outcome.name
        assert (outcome.visits[(outcome.applied != NEVER).any(axis=1)] >= 1).all(), outcome.name
        assert not (issued & ~campaign.country.holds).any(), outcome.name


def test_campaign__passport__applied_only_after_the_new_id_card_was_handed_over(
    campaign: Campaign,
) -> None:
    for outcome in arms(campaign):
        both = campaign.country.holds[:, 0] & (outcome.applied[:, 1] != NEVER)
        id_issued = outcome.issued[both, 0]
        assert (id_issued != NEVER).all(), outcome.name
        assert (id_issued <= outcome.applied[both, 1]).all(), outcome.name


def test_campaign__navreme__fewer_visits_per_person_than_reactive(campaign: Campaign) -> None:
    got = {o.name: (o.issued != NEVER).any(axis=1) for o in arms(campaign)}
    navreme = campaign.navreme.visits[got["Navreme"]]
    reactive = campaign.reactive.visits[got["reactive"]]
    assert (navreme >= 1).all()
    assert navreme.mean() < reactive.mean()


def test_campaign__navreme__no_show_rate_below_reactive(campaign: Campaign) -> None:
    rate = {o.name: o.no_shows.sum() / o.bookings.sum() for o in arms(campaign)}
    assert rate["Navreme"] < rate["reactive"]


def test_campaign__same_seed__same_run(campaign: Campaign) -> None:
    again = run_campaign(persons=PERSONS, start=START, deadline=DEADLINE, seed=7)
    for first, second in zip(arms(campaign), arms(again), strict=True):
        assert np.array_equal(first.issued, second.issued)
        assert np.array_equal(first.visits, second.visits)
        assert np.array_equal(first.used, second.used)
