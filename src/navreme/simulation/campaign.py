"""Both arms on one synthetic country and one office capacity."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from navreme.simulation.assumptions import Proactive, Reactive
from navreme.simulation.capacity import Capacity, office_capacity, population_scale
from navreme.simulation.country import Country, draw_country
from navreme.simulation.outcome import Outcome
from navreme.simulation.proactive import run_proactive
from navreme.simulation.reactive import run_reactive
from navreme.simulation.timeline import Timeline


@dataclass
class Campaign:
    seed: int
    country: Country
    timeline: Timeline
    capacity: Capacity
    reactive: Outcome
    navreme: Outcome
    seconds: dict[str, float] = field(default_factory=dict)


def run_campaign(
    *, persons: int, start: date, deadline: date, seed: int,
    reactive: Reactive | None = None, proactive: Proactive | None = None,
) -> Campaign:  # fmt: skip
    """Draw the country, build the capacity, run the reactive and the Navreme arm."""
    reactive, proactive = reactive or Reactive(), proactive or Proactive()
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    country = draw_country(persons=persons, seed=seed, as_of=start)
    seconds["draw the country"] = time.perf_counter() - began
    timeline = Timeline.between(start, deadline)
    capacity = office_capacity(country.municipalities, working=timeline.working,
                               units_per_counter=reactive.units_per_counter,
                               scale=population_scale(persons))  # fmt: skip
    arms = {}
    for name, run, params in (("reactive", run_reactive, reactive),
                              ("Navreme", run_proactive, proactive)):  # fmt: skip
        began = time.perf_counter()
        arms[name] = run(
            country, capacity, timeline, params, np.random.default_rng([seed, len(arms)])
        )  # type: ignore[operator]
        seconds[f"{name} arm"] = time.perf_counter() - began
    return Campaign(seed, country, timeline, capacity, arms["reactive"], arms["Navreme"], seconds)
