"""Cohorts: persons a wave plan cannot tell apart, merged into one row with a count.

Two persons with the same candidate offices, distances, urgency and availability window cost
the same wherever they are sent, so every planner (ours and the exact peer in
`bench/planning.py`) may decide for the cohort and hand its places out to its members in any
order. A national instance of 1.8 M persons has a few thousand cohorts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# A packed key must stay below 2**62 so that one more multiplication cannot overflow int64.
_KEY_LIMIT = 1 << 62


@dataclass(frozen=True)
class Cohorts:
    """Cohort c holds `count[c]` persons, all like person `first[c]`; `of_person` maps back."""

    of_person: np.ndarray  # int64 (P,): each person's cohort
    count: np.ndarray  # int64 (C,)
    first: np.ndarray  # int64 (C,): one member, whose fields the cohort carries
    candidates: np.ndarray  # int32 (C, K)
    distance_km: np.ndarray  # float32 (C, K)
    weight: np.ndarray  # float32 (C,)
    earliest: np.ndarray  # int32 (C,)
    latest: np.ndarray  # int32 (C,)

    @property
    def size(self) -> int:
        return int(self.count.size)


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ranks 0..n-1 of `values` and n."""
    unique, inverse = np.unique(values, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), int(unique.size)


def packed_key(columns: Sequence[np.ndarray]) -> np.ndarray:
    """One int64 per row, equal exactly when every column is equal (ranks repacked on overflow)."""
    key = np.zeros(columns[0].shape[0], dtype=np.int64)
    span = 1
    for column in columns:
        low, high = int(column.min(initial=0)), int(column.max(initial=0))
        width = high - low + 1
        if span * width >= _KEY_LIMIT:
            key, span = _dense(key)
        if span * width >= _KEY_LIMIT:  # the column alone is too wide: rank it as well
            shifted, width = _dense(column)
        else:
            shifted = column.astype(np.int64) - low
        key = key * width + shifted
        span *= width
    return key


def _person_columns(
    candidates: np.ndarray, weight: np.ndarray, earliest: np.ndarray, latest: np.ndarray
) -> list[np.ndarray]:
    weight_rank, _ = _dense(weight)
    return [*candidates.T, weight_rank, earliest, latest]


def merge(
    *, candidates: np.ndarray, distance_km: np.ndarray, weight: np.ndarray,
    earliest: np.ndarray, latest: np.ndarray,
) -> Cohorts:  # fmt: skip
    """Merge identical persons. Distances join the key only when they differ inside a cohort."""
    key = packed_key(_person_columns(candidates, weight, earliest, latest))
    first, of_person, count = np.unique(key, return_index=True, return_inverse=True,
                                        return_counts=True)[1:]  # fmt: skip
    same = distance_km == distance_km[first[of_person]]
    if not same.all():
        distance_bits = [column.view(np.int32) for column in np.ascontiguousarray(distance_km.T)]
        key = packed_key([key, *distance_bits])
        first, of_person, count = np.unique(key, return_index=True, return_inverse=True,
                                            return_counts=True)[1:]  # fmt: skip
    return Cohorts(
        of_person=of_person.astype(np.int64).reshape(-1), count=count.astype(np.int64),
        first=first.astype(np.int64), candidates=candidates[first],
        distance_km=distance_km[first], weight=weight[first], earliest=earliest[first],
        latest=latest[first],
    )  # fmt: skip


def members(cohorts: Cohorts) -> tuple[np.ndarray, np.ndarray]:
    """Persons sorted by cohort, and where each cohort's members start in that order."""
    order = np.argsort(cohorts.of_person, kind="stable")
    start = np.zeros(cohorts.size, dtype=np.int64)
    np.cumsum(cohorts.count[:-1], out=start[1:])
    return order, start


def hand_out(
    cohorts: Cohorts, *, cohort: np.ndarray, office: np.ndarray, day: np.ndarray, taken: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-person office and day (-1 where none) from `taken[i]` places of cohort[i] at (office, day)."""
    persons = cohorts.of_person.size
    office_of = np.full(persons, -1, dtype=np.int32)
    day_of = np.full(persons, -1, dtype=np.int32)
    keep = taken > 0
    cohort, office, day, taken = cohort[keep], office[keep], day[keep], taken[keep]
    by_cohort = np.argsort(cohort, kind="stable")
    cohort, office, day, taken = (
        cohort[by_cohort],
        office[by_cohort],
        day[by_cohort],
        taken[by_cohort],
    )
    order, start = members(cohorts)
    ends = np.cumsum(taken)
    first_of_cohort = np.searchsorted(cohort, cohort, side="left")
    before = ends - taken - (ends[first_of_cohort] - taken[first_of_cohort])
    slot_start = start[cohort] + before  # position, in cohort order, of each block's first member
    total = int(ends[-1]) if ends.size else 0
    within = np.arange(total, dtype=np.int64) - np.repeat(ends - taken, taken)
    persons_in_order = order[np.repeat(slot_start, taken) + within]
    office_of[persons_in_order] = np.repeat(office, taken)
    day_of[persons_in_order] = np.repeat(day, taken)
    return office_of, day_of
