"""The drawing plan: who lives where, and the chunks of rows drawn for them, in a fixed order
so that the same plan always gives the same rows (whichever process draws them)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from navreme.demo import census
from navreme.demo.persons import Location, Registrar, Rows
from navreme.demo.reference import MunicipalityFacts, embg_regions, split_remainder
from navreme.demo.rows import TABLE_ORDER, start_of_day

BLOCK = 5_000  # people whose households are formed together (one place)
CHUNK = 25_000  # people per write: their rows in every table go in one round


@dataclass(frozen=True)
class DrawPlan:
    """Everything that decides the rows (picklable, for a drawing subprocess)."""

    seed: int
    as_of: date
    persons: int
    postgres: bool  # instants are written in each database's own text form
    municipalities: tuple[MunicipalityFacts, ...]
    taken_national_ids: frozenset[str] = frozenset()


@dataclass
class Chunk:
    rows: Rows
    households: int


def draw_chunks(plan: DrawPlan) -> Iterator[Chunk]:
    """Rows for about CHUNK people at a time, whole households only."""
    registrar = _registrar(plan)
    rows, households = _empty_rows(), 0
    for location, size in _blocks(allocation(list(plan.municipalities), persons=plan.persons)):
        registrar.register_block(location, size, rows)
        if len(rows["persons"]) >= CHUNK:
            yield Chunk(rows, registrar.households - households)
            rows, households = _empty_rows(), registrar.households
    if rows["persons"]:
        yield Chunk(rows, registrar.households - households)


def allocation(
    municipalities: list[MunicipalityFacts], *, persons: int
) -> list[tuple[Location, int]]:
    """How many people live in each municipality and each diaspora country."""
    abroad = round(persons * census.ABROAD_SHARE)
    regions = embg_regions(municipalities)
    at_home = split_remainder(persons - abroad, {m.code: m.population for m in municipalities})
    places = [(_home(code, regions[code]), count) for code, count in sorted(at_home.items())]
    weights = {country: weight for country, weight, _, _ in census.DIASPORA}
    in_diaspora = split_remainder(abroad, weights)
    places += [(_abroad(country), count) for country, count in sorted(in_diaspora.items())]
    return [(place, count) for place, count in places if count]


def _home(code: str, region: int) -> Location:
    albanian = census.ALBANIAN_SHARE.get(code, 0.0)
    macedonian = 1.0 - albanian - census.RESIDENT_ENGLISH_SHARE
    return Location(code, None, (macedonian, macedonian + albanian, 1.0), region)


def _abroad(country: str) -> Location:
    _, _, albanian, english = next(d for d in census.DIASPORA if d[0] == country)
    macedonian = 1.0 - albanian - english
    return Location(None, country, (macedonian, macedonian + albanian, 1.0), None)


def _blocks(places: list[tuple[Location, int]]) -> Iterator[tuple[Location, int]]:
    for location, count in places:
        parts = -(-count // BLOCK)
        for part in range(parts):
            yield location, count * (part + 1) // parts - count * part // parts


def _empty_rows() -> Rows:
    return {table: [] for table in TABLE_ORDER}


def _registrar(plan: DrawPlan) -> Registrar:
    municipalities = list(plan.municipalities)
    regions = embg_regions(municipalities)
    weight: Counter[int] = Counter()
    for m in municipalities:
        weight[regions[m.code]] += m.population
    region_list = sorted(weight)
    cumulative, running = [], 0.0
    for region in region_list:
        running += weight[region]
        cumulative.append(running)
    return Registrar(
        random.Random(plan.seed),  # noqa: S311 - repeatable synthetic data  # nosec B311
        as_of=plan.as_of, seeded_at=start_of_day(plan.as_of), postgres=plan.postgres,
        taken_ids=set(plan.taken_national_ids), region_cum=(region_list, cumulative),
        municipality_codes=[m.code for m in municipalities],
    )  # fmt: skip
