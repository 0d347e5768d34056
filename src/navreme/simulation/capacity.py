"""The offices' capacity, the same for both arms: the demo MVR offices' counters × service units
per counter and working day, over the campaign's calendar days.

Capacity is counted in service units of about 4 minutes: applying for one document takes
APPLICATION_UNITS (photo, fingerprints, form), handing over documents COLLECTION_UNITS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from navreme.demo.census import RESIDENT_POPULATION
from navreme.demo.offices import counters
from navreme.demo.reference import MunicipalityFacts

APPLICATION_UNITS = 3  # ≈ 12 minutes per document applied for
COLLECTION_UNITS = 1  # ≈ 4 minutes to hand over one person's finished documents
FAMILY_VISIT_MEMBERS = 4  # at most this many people of one household share a visit
# The longest visit: a family group applying for three documents each; every office can take
# one a day however small the simulated country (scaled-down runs are not calibrated).
MIN_UNITS_PER_DAY = FAMILY_VISIT_MEMBERS * 3 * APPLICATION_UNITS
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Capacity:
    """Units each office (one MVR office per municipality, same index) has on each day."""

    units: np.ndarray  # int32 (O, T): 0 on weekends and holidays
    counters: np.ndarray  # int32 (O,)

    @property
    def offices(self) -> int:
        return self.units.shape[0]


def office_capacity(
    municipalities: tuple[MunicipalityFacts, ...], *, working: np.ndarray,
    units_per_counter: int, scale: float,
) -> Capacity:  # fmt: skip
    """Counters from the demo offices × units per counter on every working day, × `scale`.

    `scale` (persons simulated ÷ the census population) keeps a smaller country's offices as
    busy as the full one's; each office keeps at least one application and one collection a
    day (MIN_UNITS_PER_DAY), so tiny test countries still move (they are not calibrated).
    """
    per_counter = np.array([counters(m.population) for m in municipalities], dtype=np.int32)
    per_day = np.maximum(np.round(per_counter * units_per_counter * scale), MIN_UNITS_PER_DAY)
    units = np.outer(per_day, working.astype(np.int32)).astype(np.int32)
    return Capacity(units=units, counters=per_counter)


def population_scale(persons: int) -> float:
    return persons / RESIDENT_POPULATION


def nearest_offices(
    municipalities: tuple[MunicipalityFacts, ...], *, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each municipality its k nearest offices (its own first) and their distances in km."""
    lat = np.radians([m.latitude for m in municipalities])
    lon = np.radians([m.longitude for m in municipalities])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    order = np.argsort(km, axis=1, kind="stable")[:, :k]
    return order.astype(np.int32), np.take_along_axis(km, order, axis=1).astype(np.float32)
