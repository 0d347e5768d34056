"""Cohort merging: the table-ranked merge gives exactly the cohorts of a plain row sort."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from navreme.planning import cohorts


def reference_merge(
    candidates: np.ndarray, distance_km: np.ndarray, weight: np.ndarray, earliest: np.ndarray,
    latest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(of_person, first, count) by np.unique over whole rows, as the first merge did it."""
    rows = np.column_stack([candidates.astype(np.float64), weight.astype(np.float64),
                            earliest.astype(np.float64), latest.astype(np.float64)])  # fmt: skip
    _, first, of_person, count = np.unique(
        rows, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    of_person = of_person.reshape(-1)
    if not (distance_km == distance_km[first[of_person]]).all():
        bits = np.ascontiguousarray(distance_km).view(np.int32).astype(np.float64)
        _, first, of_person, count = np.unique(
            np.column_stack([of_person, bits]), axis=0, return_index=True, return_inverse=True,
            return_counts=True,
        )  # fmt: skip
        of_person = of_person.reshape(-1)
    return of_person, first, count


def check(candidates, distance_km, weight, earliest, latest) -> None:  # type: ignore[no-untyped-def]
    merged = cohorts.merge(candidates=candidates, distance_km=distance_km, weight=weight,
                           earliest=earliest, latest=latest)  # fmt: skip
    of_person, first, count = reference_merge(candidates, distance_km, weight, earliest, latest)
    np.testing.assert_array_equal(merged.of_person, of_person)
    np.testing.assert_array_equal(merged.first, first)
    np.testing.assert_array_equal(merged.count, count)
    np.testing.assert_array_equal(merged.candidates, candidates[first])
    np.testing.assert_array_equal(merged.weight, weight[first])


def random_persons(rng: np.random.Generator, persons: int, *, offices: int, span: int, depth: int,
                   distances: bool):  # type: ignore[no-untyped-def]  # fmt: skip
    candidates = rng.integers(-1, offices, size=(persons, depth)).astype(np.int32)
    distance = (rng.integers(0, 3, size=(persons, depth)) * 2.5).astype(np.float32)
    if not distances:  # distance follows the candidates, as it does for real persons
        distance = (candidates * 1.5).astype(np.float32)
    weight = rng.choice(np.arange(0.05, 5.0, 0.05 if span > 20 else 0.5), size=persons)
    earliest = rng.integers(-1, span, size=persons).astype(np.int32)
    latest = rng.integers(-1, span, size=persons).astype(np.int32)
    return candidates, distance, weight.astype(np.float32), earliest, latest


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), persons=st.integers(1, 400), offices=st.integers(1, 90),
       span=st.sampled_from([1, 3, 200]), depth=st.integers(1, 4), distances=st.booleans())  # fmt: skip
def test_merge_matches_a_row_sort(seed, persons, offices, span, depth, distances) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    check(*random_persons(rng, persons, offices=offices, span=span, depth=depth,
                          distances=distances))  # fmt: skip


@pytest.mark.parametrize("persons", [1, 5_000, 60_000])
def test_merge_matches_on_wide_columns(persons: int) -> None:
    """Columns too wide for a presence table (and keys that outgrow one) take the sort path."""
    rng = np.random.default_rng(persons)
    candidates, distance, weight, earliest, latest = random_persons(
        rng, persons, offices=90, span=200, depth=4, distances=True
    )
    earliest = rng.integers(-(2**30), 2**30, size=persons).astype(np.int32) // 4096 * 4096
    weight = rng.random(persons).astype(np.float32).round(2)  # more distinct values than _FEW
    check(candidates, distance, weight, earliest, latest)


def test_merge_of_nobody() -> None:
    merged = cohorts.merge(
        candidates=np.zeros((0, 2), dtype=np.int32), distance_km=np.zeros((0, 2), np.float32),
        weight=np.zeros(0, np.float32), earliest=np.zeros(0, np.int32),
        latest=np.zeros(0, np.int32),
    )  # fmt: skip
    assert merged.size == 0
    assert merged.of_person.size == 0


def test_dense_key_is_lexicographic() -> None:
    a = np.array([3, 1, 3, 1, 2], dtype=np.int32)
    b = np.array([0, 9, -5, 9, 0], dtype=np.int32)
    key, n = cohorts.dense_key([a, b])
    assert n == 4
    assert key.tolist() == [3, 0, 2, 0, 1]


@pytest.mark.parametrize("span", [1, 300, 1 << 16, (1 << 16) + 1, 1 << 20, 1 << 33])
def test_stable_order_is_a_stable_argsort(span: int) -> None:
    keys = np.random.default_rng(span).integers(0, span, size=20_000)
    np.testing.assert_array_equal(cohorts.stable_order(keys, span), np.argsort(keys, kind="stable"))
