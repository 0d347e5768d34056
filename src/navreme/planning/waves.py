"""Capacity-aware renewal waves: who goes to which office on which working day.

A mass event (a mandated-replacement rule) makes a whole population due at once. The planner
sends each person to one of their candidate offices on one working day of their availability
window, never over an office-day's usable capacity, and reports why anyone was left out.

The objective (lower is better), in kilometre-equivalents, with D = number of working days:

    Σ over planned persons p      distance_km[p, office] + weight[p] × day
  + Σ over unplanned persons p    UNPLANNED_COST + weight[p] × D

`weight` is in kilometres per working day of waiting: how much further a person would travel
to be served one day sooner (expired documents weigh most). UNPLANNED_COST exceeds any
distance plus waiting a plan can hold, so "as many persons planned as capacity allows"
dominates; the weight × D term makes an unplanned person count as served the day after the
deadline, so when capacity is short the more urgent are the ones planned; then waiting
(urgency), then nearness.

The algorithm (`plan_waves`): merge identical persons into cohorts (`cohorts.merge`), then
serve cohorts most urgent first (ties: the earlier `latest` first), each taking the cheapest
free office-day among its candidates — the rearrangement argument makes "heavier weight,
earlier day" optimal at a single office — and finally repair: a cohort left out only because
others hold its window moves one of them to a free office-day elsewhere when that lowers the
objective. `bench/planning.py` measures the gap to the exact min-cost-flow optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from navreme.planning import cohorts as cohort_merge
from navreme.planning.repair import Allocation, repair
from navreme.planning.serve import serve_in_urgency_order

UNPLANNED_COST = 10_000.0  # km-equivalent; far above any distance + weight × day in a plan

PLANNED = 0
NO_OFFICE = 1  # no candidate office at all
NO_WINDOW = 2  # the availability window holds none of the campaign's working days
CLOSED = 3  # every candidate office is closed (capacity 0) on every day of the window
FULL = 4  # there was capacity in the window, but more urgent persons took all of it
REASONS = {
    PLANNED: "planned",
    NO_OFFICE: "no candidate office",
    NO_WINDOW: "not available on any working day of the campaign",
    CLOSED: "candidate offices closed throughout the window",
    FULL: "capacity in the window taken by more urgent persons",
}


@dataclass(frozen=True)
class WaveInstance:
    days: np.ndarray  # datetime64[D] (D,): the working days from campaign start to deadline
    capacity: np.ndarray  # int32 (O, D): usable appointments per office-day (0 = closed)
    candidates: np.ndarray  # int32 (P, K): offices a person may go to, nearest first; -1 = none
    distance_km: np.ndarray  # float32 (P, K): distance to each candidate
    weight: np.ndarray  # float32 (P,): urgency, km per working day of waiting
    earliest: np.ndarray  # int32 (P,): first day index the person is available
    latest: np.ndarray  # int32 (P,): last day index the person is available

    def __post_init__(self) -> None:
        persons, depth = self.candidates.shape
        days = self.days.shape[0]
        if self.capacity.ndim != 2 or self.capacity.shape[1] != days:
            raise ValueError(f"capacity must be (offices, {days}), not {self.capacity.shape}")
        if self.distance_km.shape != (persons, depth):
            raise ValueError("distance_km must have the shape of candidates")
        for name in ("weight", "earliest", "latest"):
            if getattr(self, name).shape != (persons,):
                raise ValueError(f"{name} must be ({persons},)")
        if (self.capacity < 0).any() or (self.weight < 0).any():
            raise ValueError("capacity and weight must not be negative")
        if (self.candidates >= self.capacity.shape[0]).any():
            raise ValueError("a candidate office is outside the capacity table")

    @property
    def persons(self) -> int:
        return int(self.candidates.shape[0])


@dataclass(frozen=True)
class WavePlan:
    office: np.ndarray  # int32 (P,), -1 = not planned
    day: np.ndarray  # int32 (P,), -1 = not planned
    reason: np.ndarray  # int8 (P,): PLANNED or one of the codes in REASONS


def usable_capacity(raw: np.ndarray, no_show_buffer: float) -> np.ndarray:
    """Appointments to plan per office-day, keeping `no_show_buffer` of them for re-invitations."""
    if not 0.0 <= no_show_buffer < 1.0:
        raise ValueError("no_show_buffer must be in [0, 1)")
    return np.floor(np.asarray(raw, dtype=np.float64) * (1.0 - no_show_buffer)).astype(np.int32)


def merge_persons(instance: WaveInstance) -> cohort_merge.Cohorts:
    """The instance's cohorts (what both our planner and the exact peer decide for)."""
    return cohort_merge.merge(
        candidates=instance.candidates, distance_km=instance.distance_km,
        weight=instance.weight, earliest=instance.earliest, latest=instance.latest,
    )  # fmt: skip


def plan_waves(instance: WaveInstance) -> WavePlan:
    """Plan everyone capacity allows, most urgent first, nearest office when waiting is equal."""
    cohorts = merge_persons(instance)
    allocation = serve_in_urgency_order(cohorts, instance.capacity)
    allocation = repair(cohorts, instance.capacity, allocation, unplanned_cost=UNPLANNED_COST)
    return plan_from_allocation(instance, cohorts, allocation)


def plan_from_allocation(
    instance: WaveInstance, cohorts: cohort_merge.Cohorts, allocation: Allocation
) -> WavePlan:
    """Hand every cohort's places to its members and say why the rest were not planned."""
    office, day = cohort_merge.hand_out(
        cohorts, cohort=allocation.cohort, office=allocation.office, day=allocation.day,
        taken=allocation.taken,
    )  # fmt: skip
    why = unplanned_reason(
        instance.capacity, candidates=cohorts.candidates, earliest=cohorts.earliest,
        latest=cohorts.latest,
    )  # fmt: skip
    reason = np.where(office >= 0, PLANNED, why[cohorts.of_person])
    return WavePlan(office=office, day=day, reason=reason.astype(np.int8))


def unplanned_reason(
    capacity: np.ndarray, *, candidates: np.ndarray, earliest: np.ndarray, latest: np.ndarray
) -> np.ndarray:
    """Why each row (person or cohort) would be left out: the first reason that holds, else FULL."""
    days = capacity.shape[1]
    lo = np.clip(earliest, 0, days)[:, None]
    hi = np.clip(latest + 1, 0, days)[:, None]
    open_before = np.zeros((capacity.shape[0] + 1, days + 1), dtype=np.int64)
    np.cumsum(capacity > 0, axis=1, out=open_before[:-1, 1:])  # the last row stands for -1
    open_days = np.where(hi > lo, open_before[candidates, hi] - open_before[candidates, lo], 0)
    reason = np.full(candidates.shape[0], FULL, dtype=np.int8)
    reason[open_days.sum(axis=1) == 0] = CLOSED
    reason[(hi <= lo)[:, 0]] = NO_WINDOW
    reason[~(candidates >= 0).any(axis=1)] = NO_OFFICE
    return reason


def objective(instance: WaveInstance, plan: WavePlan) -> float:
    """The cost defined in the module docstring (float64, summed exactly the same for any plan)."""
    planned = plan.office >= 0
    slot = np.argmax(instance.candidates == plan.office[:, None], axis=1)
    distance = instance.distance_km[np.arange(instance.persons), slot].astype(np.float64)
    weight = instance.weight.astype(np.float64)
    served = distance + weight * plan.day
    left_out = UNPLANNED_COST + weight * instance.days.shape[0]
    return float(np.where(planned, served, left_out).sum())


def office_day_load(instance: WaveInstance, plan: WavePlan) -> np.ndarray:
    """int64 (O, D): persons the plan sends to each office on each day."""
    offices, days = instance.capacity.shape
    planned = plan.office >= 0
    cells = plan.office[planned].astype(np.int64) * days + plan.day[planned]
    return np.bincount(cells, minlength=offices * days).reshape(offices, days)
