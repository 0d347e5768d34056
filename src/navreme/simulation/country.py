"""The synthetic country the campaign runs on, drawn in memory by the demo generator.

`navreme.demo.draw.draw_chunks` gives the same persons and documents that `navreme seed`
writes for the same seed; we keep only what the campaign needs, as numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from navreme.demo.draw import Chunk, DrawPlan, draw_chunks
from navreme.demo.reference import MunicipalityFacts, load_reference
from navreme.demo.rows import COLUMNS

KINDS = ("id_card", "passport", "driving_licence")
ID_CARD, PASSPORT, LICENCE = range(len(KINDS))
_PERSON = {name: i for i, name in enumerate(COLUMNS["persons"])}
_DOCUMENT = {name: i for i, name in enumerate(COLUMNS["documents"])}


@dataclass(frozen=True)
class Country:
    """Persons as parallel arrays (index = person)."""

    municipalities: tuple[MunicipalityFacts, ...]
    municipality: np.ndarray  # int16 (P,): home municipality index, or where someone abroad goes
    abroad: np.ndarray  # bool (P,)
    household: np.ndarray  # int32 (P,): household number, 0…H-1
    holds: np.ndarray  # bool (P, 3): holds an ID card, passport, driving licence (to replace)
    expired: np.ndarray  # bool (P,): one of those documents had expired before the campaign

    @property
    def persons(self) -> int:
        return len(self.municipality)

    def in_skopje(self) -> np.ndarray:
        """Whether each person's office is in the City of Skopje (bool (P,))."""
        flags = np.array([m.in_city_of_skopje for m in self.municipalities])
        return flags[self.municipality]


def draw_country(*, persons: int, seed: int, as_of: date) -> Country:
    """Draw `persons` people with the demo generator; the same arguments give the same country."""
    municipalities = tuple(load_reference())
    plan = DrawPlan(seed=seed, as_of=as_of, persons=persons, postgres=False,
                    municipalities=municipalities)  # fmt: skip
    parts = [_chunk_arrays(chunk, municipalities, as_of) for chunk in draw_chunks(plan)]
    municipality, abroad, household, holds, expired = (
        np.concatenate(a) for a in zip(*parts, strict=True)
    )
    household = np.unique(household, return_inverse=True)[1].astype(np.int32)
    municipality = _place_abroad(municipality, abroad, household, municipalities, seed)
    return Country(municipalities, municipality, abroad, household, holds, expired)


def _chunk_arrays(
    chunk: Chunk, municipalities: tuple[MunicipalityFacts, ...], as_of: date
) -> tuple[np.ndarray, ...]:
    index = {m.code: i for i, m in enumerate(municipalities)}
    people = chunk.rows["persons"]
    position = {row[_PERSON["id"]]: i for i, row in enumerate(people)}
    code = _PERSON["municipality_code"]
    municipality = np.array([index.get(str(row[code]), -1) for row in people], dtype=np.int16)
    households = [str(row[_PERSON["household_id"]]) for row in people]
    holds = np.zeros((len(people), len(KINDS)), dtype=bool)
    expired = np.zeros(len(people), dtype=bool)
    kind_of = {kind: k for k, kind in enumerate(KINDS)}
    for doc in chunk.rows["documents"]:
        person = position[doc[_DOCUMENT["person_id"]]]
        holds[person, kind_of[str(doc[_DOCUMENT["kind"]])]] = True
        expired[person] |= str(doc[_DOCUMENT["expires_on"]]) < as_of.isoformat()
    return municipality, municipality < 0, np.array(households), holds, expired


def _place_abroad(
    municipality: np.ndarray, abroad: np.ndarray, household: np.ndarray,
    municipalities: tuple[MunicipalityFacts, ...], seed: int,
) -> np.ndarray:  # fmt: skip
    """Where a household abroad applies: a municipality drawn by population, one per household.

    The registry does not say where emigrants come from; we assume they apply where family
    lives, in proportion to the population (the waves brief sends them to their last
    municipality, which the demo registry does not record).
    """
    rng = np.random.default_rng([seed, 1])
    population = np.array([m.population for m in municipalities], dtype=float)
    per_household = rng.choice(len(municipalities), size=household.max() + 1,
                               p=population / population.sum())  # fmt: skip
    return np.where(abroad, per_household[household], municipality).astype(np.int16)
