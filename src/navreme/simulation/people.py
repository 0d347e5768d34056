"""What each person must do and when they hear of it."""

from __future__ import annotations

import numpy as np

from navreme.simulation.assumptions import Reactive
from navreme.simulation.country import ID_CARD, LICENCE, PASSPORT, Country
from navreme.simulation.outcome import NEVER
from navreme.simulation.timeline import Timeline

REACTIVE_ORDER = (ID_CARD, PASSPORT, LICENCE)  # the ID card first, travel before driving


def document_queue(holds: np.ndarray) -> np.ndarray:
    """(P, 3) document kinds in the order a person applies, padded with -1."""
    order = np.array(REACTIVE_ORDER)
    wanted = holds[:, order]
    position = np.argsort(~wanted, axis=1, kind="stable")
    kinds = order[position]
    return np.where(np.take_along_axis(wanted, position, axis=1), kinds, -1).astype(np.int8)


def media_informed(
    country: Country, timeline: Timeline, params: Reactive, rng: np.random.Generator
) -> np.ndarray:
    """The day each person hears of the campaign: a share of the not-yet-informed at each
    announcement, word of mouth in between (NEVER: not before the end of the timeline)."""
    size = country.persons
    hazard = np.full(timeline.length, params.word_of_mouth_daily)
    for day, reach in params.announcements:
        index = timeline.index(day)
        if 0 <= index < timeline.length:
            hazard[index] = 1 - (1 - hazard[index]) * (1 - reach)
    survive = np.cumprod(1 - hazard)
    heard = 1 - survive  # probability of having heard by the end of each day
    informed = np.searchsorted(heard, rng.random(size), side="right")
    return np.where(informed < timeline.length, informed, NEVER).astype(np.int32)
