"""Booking against remaining capacity, exactly and vectorised.

`book` places a batch of equal-length visits, first come first served in the given order, on
the earliest days of a shared window that still have room at each one's office: the i-th
request at an office takes the i-th free place of that office's window. It never puts an
office-day over its remaining units, which both arms rely on.
"""

from __future__ import annotations

import numpy as np

NOT_BOOKED = -1


def book(
    remaining: np.ndarray, office: np.ndarray, *, cost: int, first: int, last: int,
    order: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Day index for each request (NOT_BOOKED where the window is full); updates `remaining`.

    remaining: int (O, T) units left; office: (N,) office per request; cost: units per visit;
    window: days first…last inclusive; order: (N,) arrival order (lower books first).
    """
    day = np.full(len(office), NOT_BOOKED, dtype=np.int32)
    last = min(last, remaining.shape[1] - 1)
    if len(office) == 0 or first > last:
        return day
    places = np.cumsum(remaining[:, first : last + 1] // cost, axis=1)  # (O, W)
    width = places.shape[1]
    total = places[:, -1]
    base = np.cumsum(total) - total
    arrival = np.lexsort((order, office))
    rank = _rank_within(office[arrival])
    fits = rank < total[office[arrival]]
    flat = (places + base[:, None]).ravel()
    chosen = arrival[fits]
    slot = np.searchsorted(flat, base[office[chosen]] + rank[fits], side="right")
    day[chosen] = first + slot % width
    np.subtract.at(remaining, (office[chosen], day[chosen]), cost)
    return day


def _rank_within(groups_sorted: np.ndarray) -> np.ndarray:
    """0, 1, 2… within each run of equal values of a sorted array."""
    starts = np.searchsorted(groups_sorted, groups_sorted, side="left")
    return np.arange(len(groups_sorted)) - starts


def book_by_cost(
    remaining: np.ndarray, office: np.ndarray, cost: np.ndarray, *, first: int, last: int,
    order: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """`book` for visits of different lengths: longest first (they fit worst), each length
    exactly; the same guarantee."""
    day = np.full(len(office), NOT_BOOKED, dtype=np.int32)
    for length in np.unique(cost)[::-1]:
        which = np.flatnonzero(cost == length)
        day[which] = book(remaining, office[which], cost=int(length), first=first, last=last,
                          order=order[which])  # fmt: skip
    return day
