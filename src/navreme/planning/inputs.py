"""The pieces a wave instance is made of, as plain numpy: working days, candidate offices by
distance, urgency from expiry dates, summer windows for persons abroad, counter capacity.

Shared by `instance.py` (persons from a Navreme database) and `bench/planning.py` (a synthetic
country drawn from the same municipality data), so both build instances the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

import numpy as np

EARTH_RADIUS_KM = 6371.0
# Urgency, in km per working day of waiting (see waves.py): an expired document weighs most;
# one that expires during the campaign a little less the later it expires; one that outlives
# the deadline least. Rounded to WEIGHT_STEP so that persons merge into cohorts.
EXPIRED_WEIGHT = 1.0
EXPIRING_WEIGHTS = (0.8, 0.4)  # expiring on the first … last day of the campaign
VALID_WEIGHT = 0.2
WEIGHT_STEP = 0.05
SUMMER = (7, 8)  # persons abroad visit in July and August


def working_days(start: date, deadline: date, holidays: Collection[date]) -> np.ndarray:
    """datetime64[D]: Monday–Friday from start to deadline (both included), minus holidays."""
    days = np.arange(np.datetime64(start, "D"), np.datetime64(deadline, "D") + 1)
    workday = np.is_busday(days)
    if holidays:
        workday &= ~np.isin(days, np.array(sorted(holidays), dtype="datetime64[D]"))
    return days[workday]


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distances (broadcasting), in km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest_offices(
    *, home: np.ndarray, origin: np.ndarray, offices: np.ndarray, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per origin: its home office first (-1: none), then the nearest others, up to `depth`.

    `origin` is (N, 2) latitude/longitude, `offices` (O, 2); returns candidates int32 (N, depth)
    (-1 padded) and distances float32 (N, depth).
    """
    distance = haversine_km(origin[:, :1], origin[:, 1:], offices[None, :, 0], offices[None, :, 1])
    rows = np.arange(origin.shape[0])
    has_home = home >= 0
    distance[rows[has_home], home[has_home]] = -1.0  # sorts first: the person's own office
    ranked = np.argsort(distance, axis=1, kind="stable")[:, :depth]
    chosen = np.take_along_axis(distance, ranked, axis=1).clip(min=0.0)
    candidates = np.full((origin.shape[0], depth), -1, dtype=np.int32)
    distances = np.zeros((origin.shape[0], depth), dtype=np.float32)
    candidates[:, : ranked.shape[1]] = ranked
    distances[:, : ranked.shape[1]] = np.round(chosen, 1)
    if has_home.any():  # the own office's real distance (0 when it sits in the municipality)
        own = haversine_km(origin[has_home, 0], origin[has_home, 1],
                           offices[home[has_home], 0], offices[home[has_home], 1])  # fmt: skip
        distances[has_home, 0] = np.round(own, 1)
    return candidates, distances


def urgency_weight(expires: np.ndarray, *, start: date, deadline: date) -> np.ndarray:
    """float32 weight from datetime64[D] expiry dates (NaT counts as valid past the deadline)."""
    first, last = np.datetime64(start, "D"), np.datetime64(deadline, "D")
    span = max(int((last - first).astype(int)), 1)
    elapsed = np.clip((expires - first).astype("timedelta64[D]").astype(np.float64), 0, span)
    high, low = EXPIRING_WEIGHTS
    expiring = high + (low - high) * elapsed / span
    weight = np.where(
        expires < first, EXPIRED_WEIGHT, np.where(expires <= last, expiring, VALID_WEIGHT)
    )
    weight = np.where(np.isnat(expires), VALID_WEIGHT, weight)
    return (np.round(weight / WEIGHT_STEP) * WEIGHT_STEP).astype(np.float32)


def summer_window(days: np.ndarray) -> tuple[int, int]:
    """(earliest, latest) day indices of July–August; (len, -1) when the campaign has none."""
    months = days.astype("datetime64[M]").astype(int) % 12 + 1
    inside = np.flatnonzero(np.isin(months, SUMMER))
    if not inside.size:
        return days.shape[0], -1
    return int(inside[0]), int(inside[-1])


def counter_capacity(counters: np.ndarray, days: np.ndarray, *, per_counter: int) -> np.ndarray:
    """int32 (O, D): every counter takes `per_counter` appointments on every working day."""
    return np.repeat(
        np.asarray(counters, dtype=np.int32)[:, None] * per_counter, days.shape[0], axis=1
    )
