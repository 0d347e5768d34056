"""The wave planner's first pass: cohorts in urgency order, each to its cheapest free office-days.

At one office, serving heavier weights on earlier days is optimal (rearrangement inequality);
across offices a cohort spills to a farther candidate only when its wait there is shorter by
more than the extra distance is worth to it. The loop runs once per cohort and once per
office-day it fills, so its length is bounded by cohorts + office-days, not by persons.
"""

from __future__ import annotations

import heapq
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
    """Remaining capacity per office-day, with each office's first day that is not yet full.

    `left` is a list of Python lists (the serving loop reads and writes single office-days,
    which numpy scalars make several times slower); `open` mirrors `left > 0` as a numpy
    array for the one vector step, finding an office's next open day.
    """

    def __init__(self, capacity: np.ndarray) -> None:
        left = capacity.astype(np.int64)
        self.days = int(left.shape[1])
        self.open = left > 0
        low = self.open.argmax(axis=1)  # every day before low[o] is full at office o
        low[~self.open.any(axis=1)] = self.days
        self.low: list[int] = low.tolist()
        self.left: list[list[int]] = left.tolist()

    def first(self, office: int, start: int, stop: int) -> int:
        """The first day in [start, stop] with capacity left at `office`, or -1."""
        low = self.low[office]
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
        row = self.left[office]
        taken = min(wanted, row[day])
        row[day] -= taken
        if row[day] == 0:
            self.open[office, day] = False
        return taken


def urgency_order(cohorts: Cohorts) -> np.ndarray:
    """Heaviest weight first; then the tighter deadline; then the larger cohort (stable ties)."""
    return np.lexsort((-cohorts.count, cohorts.latest, -cohorts.weight.astype(np.float64)))


@dataclass
class Waiting:
    """A cohort of the class being served: its offices and the first free day at each."""

    cohort: int
    wanted: int
    offices: list[int]
    distance: list[float]
    nearest: list[int]
    stop: int

    def best(self, free: FreeDays, weight: float) -> tuple[float, int]:
        """(cost, k) of the cheapest free office-day, refreshing entries that filled up."""
        nearest, distance, offices, left = self.nearest, self.distance, self.offices, free.left
        while True:
            best, cost = -1, float("inf")
            for k, day in enumerate(nearest):
                if day >= 0:
                    here = distance[k] + weight * day
                    if here < cost:
                        best, cost = k, here
            if best < 0 or left[offices[best]][nearest[best]] > 0:
                return cost, best
            nearest[best] = free.first(offices[best], nearest[best], self.stop)


def _serve_class(
    free: FreeDays, blocks: list[tuple[int, int, int, int]], waiting: list[Waiting], weight: float
) -> None:
    """Serve cohorts of equal weight together, always the cheapest (cohort, office-day) next.

    Served one after another, the first cohort of a class would take its neighbours' early
    days and push them to farther offices; taken together, everyone fills their own office
    first and spills only where the wait saved is worth the distance.
    """
    queue = [(entry.best(free, weight)[0], i) for i, entry in enumerate(waiting)]
    heapq.heapify(queue)
    while queue:
        _, i = heapq.heappop(queue)
        entry = waiting[i]
        cost, k = entry.best(free, weight)
        if k < 0:
            continue
        if queue and cost > queue[0][0]:
            heapq.heappush(queue, (cost, i))
            continue
        office, day = entry.offices[k], entry.nearest[k]
        taken = free.take(office, day, entry.wanted)
        blocks.append((entry.cohort, office, day, taken))
        entry.wanted -= taken
        if entry.wanted:
            heapq.heappush(queue, (cost, i))


def _waiting(cohorts: Cohorts, c: int, free: FreeDays) -> Waiting | None:
    start = max(int(cohorts.earliest[c]), 0)
    stop = min(int(cohorts.latest[c]), free.days - 1)
    usable = [k for k, o in enumerate(cohorts.candidates[c].tolist()) if o >= 0]
    if start > stop or not usable:
        return None
    offices = [int(cohorts.candidates[c, k]) for k in usable]
    return Waiting(
        cohort=c, wanted=int(cohorts.count[c]), offices=offices,
        distance=[float(cohorts.distance_km[c, k]) for k in usable],
        nearest=[free.first(o, start, stop) for o in offices], stop=stop,
    )  # fmt: skip


def narrow_first(cohorts: Cohorts, days: int) -> list[np.ndarray]:
    """Cohorts available on only part of the campaign, then everyone else, each in urgency order.

    A person abroad can come only in July–August; a resident can come any day. Serving the
    narrow windows first keeps the summer days for those who have no other days, which is
    what planning as many persons as capacity allows needs (the objective's first term).
    """
    order = urgency_order(cohorts)
    narrow = (cohorts.earliest[order] > 0) | (cohorts.latest[order] < days - 1)
    return [order[narrow], order[~narrow]]


def serve_in_urgency_order(cohorts: Cohorts, capacity: np.ndarray) -> Allocation:
    """The first pass: narrow windows first, then weight classes heaviest first, each class
    served together (see `_serve_class`)."""
    free = FreeDays(capacity)
    blocks: list[tuple[int, int, int, int]] = []
    for part in narrow_first(cohorts, capacity.shape[1]):
        weights = cohorts.weight[part]
        for members in np.split(part, np.flatnonzero(np.diff(weights)) + 1):
            if not members.size:
                continue
            waiting = [w for c in members.tolist() if (w := _waiting(cohorts, c, free)) is not None]
            _serve_class(free, blocks, waiting, float(cohorts.weight[members[0]]))
    return Allocation.of(blocks)
