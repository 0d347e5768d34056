"""Household formation: everyone placed once; every minor with an adult parent at home."""

from __future__ import annotations

import random

import pytest

from navreme.demo import census
from navreme.demo.households import form_households


def _people(size: int, seed: int) -> tuple[list[int], list[str], random.Random]:
    rng = random.Random(seed)
    ages = rng.choices(census.AGE_YEARS, cum_weights=census.AGE_CUM_WEIGHTS, k=size)
    if max(ages) < 18:
        ages[0] = 40
    sexes = [rng.choice("FM") for _ in ages]
    return ages, sexes, rng


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 40, 200, 5_000])
def test_households__everyone_placed_once_minors_with_adult_parents(size: int) -> None:
    for seed in range(20 if size < 1_000 else 2):
        ages, sexes, rng = _people(size, seed)
        households = form_households(ages, sexes, rng)
        placed = sorted(p for h in households for p in h.members)
        assert placed == list(range(size))
        minors = {p for p, age in enumerate(ages) if age < 18}
        assert {w for h in households for w in h.wards} == minors
        for household in households:
            assert set(household.wards) <= set(household.members)
            assert set(household.guardians) <= set(household.members)
            assert all(ages[g] >= 18 for g in household.guardians)
            assert not household.wards or household.guardians


def test_households__plausible_parents_and_census_mean_size_in_large_blocks() -> None:
    ages, sexes, rng = _people(5_000, 1)
    households = form_households(ages, sexes, rng)
    assert abs(5_000 / len(households) - census.MEAN_HOUSEHOLD_SIZE) < 0.1
    gaps = [ages[g] - ages[w] for h in households for g in h.guardians for w in h.wards]
    assert min(gaps) >= 18
    assert max(gaps) <= 55
    mothers = [g for h in households for g in h.guardians if sexes[g] == "F"]
    assert len(mothers) > 0.8 * sum(1 for h in households if h.wards)
