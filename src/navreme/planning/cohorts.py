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


_FEW = 16  # distinct values ranked by comparisons rather than searchsorted


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ranks 0..n-1 of `values` (in their order) and n."""
    unique = np.unique(values)  # a sort of the values alone, no argsort
    if unique.dtype.kind == "f" and unique.size and np.isnan(unique[-1]):
        _, inverse = np.unique(values, return_inverse=True)  # NaN: leave it to np.unique
        return inverse.astype(np.int64).reshape(-1), int(unique.size)
    if unique.size <= _FEW:  # e.g. urgency weights: a few passes beat a binary search
        rank = np.zeros(values.shape[0], dtype=np.int64)
        for value in unique[:-1]:
            rank += values > value
        return rank, int(unique.size)
    return np.searchsorted(unique, values).astype(np.int64), int(unique.size)


def _table_limit(rows: int) -> int:
    """The widest key span ranked with a presence table (bytes) instead of a sort."""
    return max(4 * rows, 1 << 20)


def _rank(key: np.ndarray, span: int) -> tuple[np.ndarray, int]:
    """Dense ranks of keys in [0, span), in key order: a presence table (O(rows + span)) when
    the span allows one, else a sort."""
    if span > _table_limit(key.size):
        return _dense(key)
    present = np.zeros(span, dtype=bool)
    present[key] = True
    keys = np.flatnonzero(present)
    rank = np.empty(span, dtype=np.int64)  # read only where present
    rank[keys] = np.arange(keys.size, dtype=np.int64)
    return rank[key], int(keys.size)


def dense_key(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """Dense ranks 0..n-1 of the rows of `columns` in lexicographic order, and n.

    Columns are packed one at a time (key × width + value) and the key re-ranked with a
    presence table whenever the next column would make it wider than the table may be, so
    no sort over rows runs unless a column, or the key and one column together, is too wide
    for a table (then `np.unique` of the values ranks it).
    """
    rows = columns[0].shape[0]
    limit = _table_limit(rows)
    key = np.zeros(rows, dtype=np.int64)
    span = 1
    for column in columns:
        low, high = int(column.min(initial=0)), int(column.max(initial=0))
        width = high - low + 1
        if width > limit:
            column, width = _dense(column)
            low = 0
        if span * width > limit:
            key, span = _rank(key, span)
        if column.dtype.kind != "i":  # unsigned or bool: no in-place mixed-sign add
            column = column.astype(np.int64)
        key *= width
        key += column  # int32 columns are added without an int64 copy
        if low:
            key -= low
        span *= width
    return _rank(key, span)


def _person_columns(
    candidates: np.ndarray, weight: np.ndarray, earliest: np.ndarray, latest: np.ndarray
) -> list[np.ndarray]:
    weight_rank, _ = _dense(weight)
    return [*candidates.T, weight_rank, earliest, latest]


def _groups(key: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """First row and size of each group of dense `key`."""
    first = np.full(groups, key.size, dtype=np.int64)
    np.minimum.at(first, key, np.arange(key.size, dtype=np.int64))
    return first, np.bincount(key, minlength=groups).astype(np.int64)


def merge(
    *, candidates: np.ndarray, distance_km: np.ndarray, weight: np.ndarray,
    earliest: np.ndarray, latest: np.ndarray,
) -> Cohorts:  # fmt: skip
    """Merge identical persons. Distances join the key only when they differ inside a cohort.

    Cohorts are numbered in the lexicographic order of (candidates, weight, earliest, latest
    [, distance bits]) and `first` is each cohort's first person, as `np.unique` of a packed
    key would give them, without sorting the persons.
    """
    of_person, size = dense_key(_person_columns(candidates, weight, earliest, latest))
    first, count = _groups(of_person, size)
    if not (distance_km == distance_km[first[of_person]]).all():
        distance_bits = [column.view(np.int32) for column in np.ascontiguousarray(distance_km.T)]
        of_person, size = dense_key([of_person, *distance_bits])
        first, count = _groups(of_person, size)
    return Cohorts(
        of_person=of_person, count=count, first=first, candidates=candidates[first],
        distance_km=distance_km[first], weight=weight[first], earliest=earliest[first],
        latest=latest[first],
    )  # fmt: skip


def stable_order(keys: np.ndarray, span: int) -> np.ndarray:
    """`np.argsort(keys, kind="stable")` for keys in [0, span): numpy radix-sorts 16-bit keys
    (O(n), several times faster than its merge sort of int64), so wider keys take two passes."""
    if span <= 1 << 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    if span <= 1 << 32:
        order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
        high = (keys[order] >> 16).astype(np.uint16)
        return order[np.argsort(high, kind="stable")]
    return np.argsort(keys, kind="stable")


def members(cohorts: Cohorts) -> tuple[np.ndarray, np.ndarray]:
    """Persons sorted by cohort, and where each cohort's members start in that order."""
    order = stable_order(cohorts.of_person, cohorts.size)
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
