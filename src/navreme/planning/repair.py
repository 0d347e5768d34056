"""The wave planner's second pass: let a cohort squeezed out of its window in.

Urgency order can leave a cohort with a narrow window (persons abroad, only in July–August)
unplanned because more urgent persons with wide windows took those days first, while free
days remain elsewhere in their windows. Each such member is let in by moving one member of
another cohort from a day in the squeezed window to that cohort's cheapest free office-day —
a shortest augmenting path of length two in the min-cost-flow picture — whenever the
objective drops; it always does while UNPLANNED_COST dominates.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from navreme.planning.cohorts import Cohorts
from navreme.planning.serve import Allocation, urgency_order

Cell = tuple[int, int]  # (office, day)


class Ledger:
    """Who holds which office-day, and what is still free, while moves are made."""

    def __init__(self, cohorts: Cohorts, capacity: np.ndarray, allocation: Allocation) -> None:
        self.cohorts = cohorts
        self.free = capacity.astype(np.int64)
        # per-cohort fields as Python numbers: the loops below read them thousands of times
        self.offices: list[list[int]] = cohorts.candidates.tolist()
        self.distances: list[list[float]] = cohorts.distance_km.tolist()
        self.weights: list[float] = cohorts.weight.tolist()
        days = self.free.shape[1]
        self.windows: list[tuple[int, int]] = list(zip(
            np.maximum(cohorts.earliest, 0).tolist(),
            np.minimum(cohorts.latest, days - 1).tolist(), strict=True))  # fmt: skip
        self.distance_to: list[dict[int, float]] = [
            {o: d for o, d in reversed(list(zip(offices, distances, strict=True)))}
            for offices, distances in zip(self.offices, self.distances, strict=True)
        ]  # the first candidate slot of each office, as flatnonzero(...)[0] picked it
        self.holders: dict[Cell, dict[int, int]] = defaultdict(dict)
        self.relocation: dict[int, tuple[float, Cell] | None] = {}  # valid until a move
        for c, o, d, t in zip(*(a.tolist() for a in (allocation.cohort, allocation.office,
                                                       allocation.day, allocation.taken)),
                              strict=True):  # fmt: skip
            self.add(c, (o, d), t)

    def add(self, cohort: int, cell: Cell, taken: int) -> None:
        self.relocation.clear()
        held = self.holders[cell]
        held[cohort] = held.get(cohort, 0) + taken
        self.free[cell] -= taken

    def remove(self, cohort: int, cell: Cell, taken: int) -> None:
        self.relocation.clear()
        held = self.holders[cell]
        held[cohort] -= taken
        if not held[cohort]:
            del held[cohort]
        self.free[cell] += taken

    def cost(self, cohort: int, cell: Cell) -> float:
        return self.distance_to[cohort][cell[0]] + self.weights[cohort] * cell[1]

    def cheapest_free(self, cohort: int) -> tuple[float, Cell] | None:
        """The cohort's cheapest office-day with capacity left, inside its window."""
        start, stop = self.windows[cohort]
        if start > stop:
            return None
        weight = self.weights[cohort]
        best: tuple[float, Cell] | None = None
        for office, distance in zip(self.offices[cohort], self.distances[cohort], strict=True):
            if office < 0:
                continue
            window = self.free[office, start : stop + 1] > 0
            first = int(window.argmax())  # the first day with a free place, if any
            if window[first]:
                cost = distance + weight * (start + first)
                if best is None or cost < best[0]:
                    best = (cost, (office, start + first))
        return best

    def allocation(self) -> Allocation:
        return Allocation.of([(c, o, d, t) for (o, d), held in self.holders.items()
                              for c, t in held.items() if t > 0])  # fmt: skip


def _best_move(ledger: Ledger, squeezed: int) -> tuple[float, int, Cell, Cell] | None:
    """(cost change, cohort moved, the cell it frees, where it goes) of the best move, if any."""
    c = ledger.cohorts
    start, stop = max(int(c.earliest[squeezed]), 0), int(c.latest[squeezed])
    relocation, holders = ledger.relocation, ledger.holders
    distance_to, weights = ledger.distance_to, ledger.weights
    best: tuple[float, int, Cell, Cell] | None = None
    for office in {o for o in ledger.offices[squeezed] if o >= 0}:
        for day in range(start, min(stop, ledger.free.shape[1] - 1) + 1):
            cell = (office, day)
            held = holders.get(cell)
            if not held:
                continue
            here = ledger.cost(squeezed, cell)
            for other in held:
                if other not in relocation:
                    relocation[other] = ledger.cheapest_free(other)
                target = relocation[other]
                if target is None:
                    continue
                # ledger.cost(other, cell), inlined: this is the innermost loop
                change = here + target[0] - (distance_to[other][office] + weights[other] * day)
                if best is None or change < best[0]:
                    best = (change, other, cell, target[1])
    return best


def _let_in(ledger: Ledger, squeezed: int, waiting: int, unplanned_cost: float) -> None:
    saved_per_person = (
        unplanned_cost + float(ledger.cohorts.weight[squeezed]) * ledger.free.shape[1]
    )
    while waiting > 0:
        move = _best_move(ledger, squeezed)
        if move is None or move[0] >= saved_per_person:
            return
        _, other, freed, target = move
        moved = min(waiting, ledger.holders[freed][other], int(ledger.free[target]))
        ledger.remove(other, freed, moved)
        ledger.add(other, target, moved)
        ledger.add(squeezed, freed, moved)
        waiting -= moved


def repair(
    cohorts: Cohorts, capacity: np.ndarray, allocation: Allocation, *, unplanned_cost: float
) -> Allocation:
    """Let squeezed cohorts in by two-step moves (see the module docstring)."""
    waiting = cohorts.count - allocation.placed(cohorts.size)
    if not waiting.any():
        return allocation
    ledger = Ledger(cohorts, capacity, allocation)
    for squeezed in urgency_order(cohorts).tolist():
        if waiting[squeezed] > 0 and cohorts.latest[squeezed] >= max(cohorts.earliest[squeezed], 0):
            _let_in(ledger, squeezed, int(waiting[squeezed]), unplanned_cost)
    return ledger.allocation()
