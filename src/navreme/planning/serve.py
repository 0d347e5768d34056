"""The wave planner's first pass: cohorts in urgency order, each to its cheapest free office-days.

At one office, serving heavier weights on earlier days is optimal (rearrangement inequality);
across offices a cohort spills to a farther candidate only when its wait there is shorter by
more than the extra distance is worth to it. The loop runs once per cohort and once per
office-day it fills, so its length is bounded by cohorts + office-days, not by persons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from navreme.planning.cohorts import Cohorts


@dataclass(frozen=True)
class Allocation:
    """`taken[i]` members of cohort `cohort[i]` go to office `office[i]` on day `day[i]`."""

    cohort: np.ndarray  # int64 (B,)
    office: np.ndarray  # int64 (B,)
    day: np.ndarray  # int64 (B,)
    taken: np.ndarray  # int64 (B,)

    @staticmethod
    def of(blocks: list[tuple[int, int, int, int]]) -> Allocation:
        table = np.array(blocks, dtype=np.int64).reshape(-1, 4)
        return Allocation(table[:, 0], table[:, 1], table[:, 2], table[:, 3])

    def placed(self, cohorts: int) -> np.ndarray:
        """int64 (C,): members of each cohort this allocation places."""
        return np.bincount(self.cohort, weights=self.taken, minlength=cohorts).astype(np.int64)


class FreeDays:
    """Remaining capacity per office-day, with each office's first day that is not yet full."""

    def __init__(self, capacity: np.ndarray) -> None:
        self.left = capacity.astype(np.int64)
        self.open = self.left > 0
        self.low = self.open.argmax(axis=1)  # every day before low[o] is full at office o
        self.low[~self.open.any(axis=1)] = self.left.shape[1]

    def first(self, office: int, start: int, stop: int) -> int:
        """The first day in [start, stop] with capacity left at `office`, or -1."""
        low = int(self.low[office])
        begin = max(start, low)
        if begin > stop:
            return -1
        window = self.open[office, begin : stop + 1]
        found = int(window.argmax())
        if not window[found]:
            return -1
        if begin == low:
            self.low[office] = begin + found
        return begin + found

    def take(self, office: int, day: int, wanted: int) -> int:
        """Take up to `wanted` places at (office, day); returns how many were taken."""
        taken = min(wanted, int(self.left[office, day]))
        self.left[office, day] -= taken
        if self.left[office, day] == 0:
            self.open[office, day] = False
        return taken


def urgency_order(cohorts: Cohorts) -> np.ndarray:
    """Heaviest weight first; then the tighter deadline; then the larger cohort (stable ties)."""
    return np.lexsort((-cohorts.count, cohorts.latest, -cohorts.weight.astype(np.float64)))


def _serve_one(
    free: FreeDays, blocks: list[tuple[int, int, int, int]], *, cohort: int, wanted: int,
    offices: list[int], distance: list[float], weight: float, start: int, stop: int,
) -> int:  # fmt: skip
    """Place up to `wanted` members of one cohort; returns how many are still unplaced."""
    nearest = [free.first(o, start, stop) for o in offices]
    while wanted > 0:
        best, best_cost = -1, float("inf")
        for k, day in enumerate(nearest):
            if day >= 0 and distance[k] + weight * day < best_cost:
                best, best_cost = k, distance[k] + weight * day
        if best < 0:
            break
        office, day = offices[best], nearest[best]
        taken = free.take(office, day, wanted)
        if taken:
            blocks.append((cohort, office, day, taken))
            wanted -= taken
        if not free.open[office, day]:
            nearest = [free.first(o, day, stop) if o == office else d
                       for o, d in zip(offices, nearest, strict=True)]  # fmt: skip
    return wanted


def serve_in_urgency_order(cohorts: Cohorts, capacity: np.ndarray) -> Allocation:
    """The greedy pass over all cohorts (see the module docstring)."""
    free = FreeDays(capacity)
    last_day = capacity.shape[1] - 1
    blocks: list[tuple[int, int, int, int]] = []
    candidates, distance = cohorts.candidates.tolist(), cohorts.distance_km.tolist()
    weight, count = cohorts.weight.tolist(), cohorts.count.tolist()
    earliest, latest = cohorts.earliest.tolist(), cohorts.latest.tolist()
    for c in urgency_order(cohorts).tolist():
        start, stop = max(earliest[c], 0), min(latest[c], last_day)
        usable = [k for k, o in enumerate(candidates[c]) if o >= 0]
        if start > stop or not usable:
            continue
        _serve_one(
            free, blocks, cohort=c, wanted=count[c], offices=[candidates[c][k] for k in usable],
            distance=[distance[c][k] for k in usable], weight=weight[c], start=start, stop=stop,
        )  # fmt: skip
    return Allocation.of(blocks)
