"""The wave planner: capacity never exceeded, windows and candidates kept, urgency first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from navreme.planning import waves


def make_instance(
    *, capacity: list[list[int]], candidates: list[list[int]], weight: list[float],
    window: list[tuple[int, int]] | None = None, distance: list[list[float]] | None = None,
) -> waves.WaveInstance:  # fmt: skip
    days = len(capacity[0])
    persons = len(candidates)
    window = window or [(0, days - 1)] * persons
    return waves.WaveInstance(
        days=np.arange(np.datetime64("2023-05-01"), np.datetime64("2023-05-01") + days),
        capacity=np.array(capacity, dtype=np.int32),
        candidates=np.array(candidates, dtype=np.int32).reshape(persons, -1),
        distance_km=np.array(distance or [[0.0] * len(candidates[0])] * persons, dtype=np.float32),
        weight=np.array(weight, dtype=np.float32),
        earliest=np.array([w[0] for w in window], dtype=np.int32),
        latest=np.array([w[1] for w in window], dtype=np.int32),
    )  # fmt: skip


@st.composite
def instances(draw: st.DrawFn) -> waves.WaveInstance:
    offices, days = draw(st.integers(1, 4)), draw(st.integers(1, 8))
    persons, depth = draw(st.integers(1, 30)), draw(st.integers(1, 3))
    capacity = draw(st.lists(st.lists(st.integers(0, 3), min_size=days, max_size=days),
                             min_size=offices, max_size=offices))  # fmt: skip
    candidates = draw(st.lists(st.lists(st.integers(-1, offices - 1), min_size=depth,
                                        max_size=depth), min_size=persons, max_size=persons))  # fmt: skip
    distance = draw(st.lists(st.lists(st.sampled_from([0.0, 2.5, 10.0, 40.0]), min_size=depth,
                                      max_size=depth), min_size=persons, max_size=persons))  # fmt: skip
    weight = draw(st.lists(st.sampled_from([0.2, 0.5, 1.0]), min_size=persons, max_size=persons))
    window = draw(st.lists(st.tuples(st.integers(-1, days), st.integers(-1, days)),
                           min_size=persons, max_size=persons))  # fmt: skip
    return make_instance(capacity=capacity, candidates=candidates, weight=weight,
                         window=window, distance=distance)  # fmt: skip


def recomputed_objective(instance: waves.WaveInstance, plan: waves.WavePlan) -> float:
    total = 0.0
    for p in range(instance.persons):
        weight = float(instance.weight[p])
        if plan.office[p] < 0:
            total += waves.UNPLANNED_COST + weight * len(instance.days)
            continue
        k = list(instance.candidates[p]).index(plan.office[p])
        total += float(instance.distance_km[p, k]) + weight * int(plan.day[p])
    return total


@settings(max_examples=150, deadline=None)
@given(instances())
def test_plan__random_instances__capacity_candidates_windows_and_objective_hold(
    instance: waves.WaveInstance,
) -> None:
    plan = waves.plan_waves(instance)
    assert (waves.office_day_load(instance, plan) <= instance.capacity).all()
    planned = plan.office >= 0
    assert ((plan.day >= 0) == planned).all()
    assert ((plan.reason == waves.PLANNED) == planned).all()
    for p in np.flatnonzero(planned):
        assert plan.office[p] in instance.candidates[p]
        assert instance.earliest[p] <= plan.day[p] <= instance.latest[p]
    assert waves.objective(instance, plan) == pytest.approx(recomputed_objective(instance, plan))


def test_plan__capacity_short__expired_documents_first() -> None:
    expired, valid = 1.0, 0.2
    instance = make_instance(capacity=[[1, 1, 1]], candidates=[[0]] * 5,
                             weight=[valid, expired, valid, expired, valid])  # fmt: skip
    plan = waves.plan_waves(instance)
    assert sorted(plan.day[[1, 3]].tolist()) == [0, 1]  # both expired, on the first two days
    assert (plan.office[[0, 2, 4]] >= 0).sum() == 1  # one valid on the last day, two left out
    assert sorted(plan.reason[[0, 2, 4]].tolist()) == [waves.PLANNED, waves.FULL, waves.FULL]


def test_plan__person_abroad__only_in_the_summer_window_and_not_squeezed_out() -> None:
    # Day 2 is "July": the resident could come any day but is more urgent; the person abroad
    # only on day 2. Both fit only if the resident leaves day 2 to the person abroad.
    instance = make_instance(capacity=[[0, 0, 1, 1]], candidates=[[0], [0]],
                             weight=[1.0, 0.2], window=[(0, 3), (2, 2)])  # fmt: skip
    plan = waves.plan_waves(instance)
    assert plan.day.tolist() == [3, 2]
    assert (plan.reason == waves.PLANNED).all()


def test_plan__reasons__no_office_no_window_closed() -> None:
    instance = make_instance(capacity=[[0, 2], [0, 0]], candidates=[[-1], [0], [1]],
                             weight=[1.0, 1.0, 1.0], window=[(0, 1), (5, 9), (0, 1)])  # fmt: skip
    plan = waves.plan_waves(instance)
    assert plan.reason.tolist() == [waves.NO_OFFICE, waves.NO_WINDOW, waves.CLOSED]


def test_plan__equal_waits__nearest_office() -> None:
    instance = make_instance(capacity=[[5], [5]], candidates=[[1, 0]], weight=[1.0],
                             distance=[[3.0, 12.0]])  # fmt: skip
    assert waves.plan_waves(instance).office.tolist() == [1]


def test_usable_capacity__buffer_kept_back_and_rounded_down() -> None:
    assert waves.usable_capacity(np.array([[10, 7, 0]]), 0.3).tolist() == [[7, 4, 0]]
    with pytest.raises(ValueError, match="no_show_buffer"):
        waves.usable_capacity(np.array([[1]]), 1.0)
