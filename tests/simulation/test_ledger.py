"""Booking against remaining capacity: first come first served, never over capacity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numpy")

from navreme.simulation.ledger import NOT_BOOKED, book, book_by_cost  # noqa: E402


def test_book__earliest_free_day_in_arrival_order() -> None:
    remaining = np.array([[3, 6, 0, 9], [1, 1, 1, 1]])
    day = book(remaining, np.array([0, 0, 0, 0, 0, 1]), cost=3, first=0, last=3,
               order=np.array([4, 3, 2, 1, 0, 0]))  # fmt: skip
    assert day.tolist() == [3, 3, 1, 1, 0, NOT_BOOKED]
    assert remaining.tolist() == [[0, 0, 0, 3], [1, 1, 1, 1]]


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.lists(st.lists(st.integers(0, 12), min_size=5, max_size=5), min_size=1, max_size=4),
    requests=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6)), max_size=40),
    first=st.integers(0, 4),
)
def test_book_by_cost__random_batches__never_over_capacity(
    capacity: list[list[int]], requests: list[tuple[int, int]], first: int
) -> None:
    remaining = np.array(capacity)
    start = remaining.copy()
    office = np.array([o % len(capacity) for o, _ in requests], dtype=np.int64)
    cost = np.array([c for _, c in requests], dtype=np.int64)
    day = book_by_cost(remaining, office, cost, first=first, last=4, order=np.arange(len(office)))
    booked = day != NOT_BOOKED
    load = np.zeros_like(start)
    np.add.at(load, (office[booked], day[booked]), cost[booked])
    assert (load <= start).all()
    assert (remaining == start - load).all()
    assert (day[booked] >= first).all()
