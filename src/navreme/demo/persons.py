"""People, block by block: ages and sexes from the census, households, names, EMBGs,
accessibility needs and recent life events; documents, endpoints and consents per person."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate

from navreme.demo import census, names
from navreme.demo.consents import CONSENT_FROM_AGE, ConsentRecorder
from navreme.demo.contacts import EndpointMaker
from navreme.demo.documents import DocumentIssuer
from navreme.demo.households import ADULT_AGE, Household, form_households
from navreme.demo.rows import Identifiers, Stamps, below, json_text
from navreme.registry import embg

LANGUAGES = ("mk", "sq", "en")
Rows = dict[str, list[tuple[object, ...]]]

# Accessibility needs grow with age; (need, weight) for whoever has one.
ACCESSIBILITY_NEEDS = (
    ("large_print", 40), ("audio", 20), ("easy_read", 20), ("screen_reader", 15),
    ("sign_language", 5),
)  # fmt: skip
_NEEDS = tuple(need for need, _ in ACCESSIBILITY_NEEDS)
_NEEDS_CUM = tuple(accumulate(weight for _, weight in ACCESSIBILITY_NEEDS))
MOVED_RECENTLY = 0.005  # adults with a 'move' life event in the last two years
TURNED_18_WITHIN_DAYS = 30


class SeedError(RuntimeError):
    """The demo country cannot be seeded as asked; the message says why."""


def accessibility_share(age: int) -> float:
    return 0.02 if age < 60 else 0.08 if age < 75 else 0.22


@dataclass(frozen=True)
class Location:
    """Where a block of people lives: a municipality, or a country abroad."""

    municipality_code: str | None
    abroad_country: str | None
    language_cum: tuple[float, float, float]  # mk, sq, en (cumulative)
    region: int | None  # EMBG region; None abroad, where it is drawn per household


def birthday(born: date, years: int) -> date:
    """The day someone born on `born` is `years` old (29 February counts from 1 March)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


class NationalIds:
    """EMBGs with serials counted per (birth date, region, sex), skipping never-issued ones."""

    def __init__(self, taken: set[str]) -> None:
        self._next: dict[int, int] = {}
        self._taken = taken

    def issue(self, born: date, *, sex: str, region: int) -> str:
        key = (born.toordinal() * 10 + region - 40) * 2 + (sex == "F")
        serial = self._next.get(key, 0)
        while serial < 500:
            value = embg.make(born, sex=sex, region=region, serial=serial)
            serial += 1
            if value is not None and value not in self._taken:
                self._next[key] = serial
                return value
        raise SeedError(f"more than 500 people of one sex born on {born} in region {region}")


class Registrar:
    """Draws people into the row buffers; one instance per seed run (it keeps the counters)."""

    def __init__(
        self, rng: random.Random, *, as_of: date, seeded_at: datetime, postgres: bool,
        taken_ids: set[str], region_cum: tuple[list[int], list[float]],
        municipality_codes: list[str],
    ) -> None:  # fmt: skip
        self.rng = rng
        self.as_of = as_of
        self._as_of_ordinal = as_of.toordinal()
        self.stamps = Stamps(postgres=postgres, seeded_at=seeded_at)
        self._row_ids = Identifiers(rng, seeded_at=seeded_at)
        self._ids = NationalIds(taken_ids)
        self._regions, self._region_cum = region_cum
        self._municipality_codes = municipality_codes
        common = {"ids": self._row_ids, "stamps": self.stamps, "as_of_ordinal": as_of.toordinal()}
        self._documents = DocumentIssuer(
            rng, ids=self._row_ids, as_of=as_of, created_at=self.stamps.seeded_at
        )
        self._endpoints = EndpointMaker(rng, **common)
        self._consents = ConsentRecorder(rng, **common)
        self.households = 0

    def register_block(self, location: Location, size: int, rows: Rows) -> None:
        births = self._births(size)
        ages = [self._age(born) for born in births]
        sexes = [self._sex(age) for age in ages]
        ids = [""] * size  # drawn as each person is written, so ids follow insertion order
        for household in form_households(ages, sexes, self.rng):
            self._household(household, location, births, ages, sexes, ids, rows)

    def _births(self, size: int) -> list[date]:
        rng = self.rng
        years = rng.choices(census.AGE_YEARS, cum_weights=census.AGE_CUM_WEIGHTS, k=size)
        if max(years) < ADULT_AGE:  # a tiny block still needs an adult to look after the rest
            years[0] = rng.randint(25, 60)
        return [
            date.fromordinal(self._as_of_ordinal - int((year + rng.random()) * 365.2425))
            for year in years
        ]

    def _age(self, born: date) -> int:
        as_of = self.as_of
        return as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))

    def _sex(self, age: int) -> str:
        return "F" if self.rng.random() < census.FEMALE_SHARE_BY_AGE[age] else "M"

    def _household(
        self, household: Household, location: Location, births: list[date], ages: list[int],
        sexes: list[str], ids: list[str], rows: Rows,
    ) -> None:  # fmt: skip
        rng = self.rng
        self.households += 1
        household_id = self._row_ids.next()
        language = rng.choices(LANGUAGES, cum_weights=location.language_cum)[0]
        families = names.FAMILY[language]
        stem = families[below(rng, len(families))]
        region = location.region or rng.choices(self._regions, cum_weights=self._region_cum)[0]
        for member in household.members:
            sex = sexes[member]
            ids[member] = self._row_ids.next()
            given_names = names.GIVEN[language][sex]
            given = given_names[below(rng, len(given_names))]
            family = names.family_name(stem, language=language, sex=sex)
            rows["persons"].append((
                ids[member], self._ids.issue(births[member], sex=sex, region=region), given,
                family, births[member].isoformat(), sex, location.municipality_code,
                location.abroad_country, language, self._accessibility(ages[member]),
                household_id, self.stamps.seeded_at, self.stamps.seeded_at,
            ))  # fmt: skip
            self._person_records(rows, ids[member], births[member], ages[member], given, family,
                                 location)  # fmt: skip
        self._guardian_links(rows["guardian_links"], household, ids)

    def _guardian_links(
        self, rows: list[tuple[object, ...]], household: Household, ids: list[str]
    ) -> None:
        for guardian in household.guardians:
            for ward in household.wards:
                link = (self._row_ids.next(), ids[guardian], ids[ward], "parent")
                rows.append((*link, self.stamps.seeded_at))

    def _person_records(
        self, rows: Rows, person_id: str, born: date, age: int, given: str, family: str,
        location: Location,
    ) -> None:  # fmt: skip
        self._documents.issue(rows["documents"], person_id=person_id, born=born, age=age)
        channels = self._endpoints.add(
            rows["contact_endpoints"], person_id=person_id, age=age, given=given, family=family,
            abroad_country=location.abroad_country,
        )  # fmt: skip
        if age >= CONSENT_FROM_AGE:
            self._consents.record(rows["consent_events"], person_id=person_id, channels=channels)
        self._life_events(rows["life_events"], person_id, born, age, location)

    def _accessibility(self, age: int) -> str:
        rng = self.rng
        if rng.random() >= accessibility_share(age):
            return "[]"
        needs = set(rng.choices(_NEEDS, cum_weights=_NEEDS_CUM, k=1 + (rng.random() < 0.2)))
        return json_text(sorted(needs))

    def _life_events(
        self, rows: list[tuple[object, ...]], person_id: str, born: date, age: int,
        location: Location,
    ) -> None:  # fmt: skip
        where = (
            {"municipality_code": location.municipality_code}
            if location.municipality_code
            else {"abroad_country": location.abroad_country}
        )
        days_old = self._as_of_ordinal - born.toordinal()
        if days_old < 365:
            self._event(rows, person_id, "birth", born, where)
        if age == ADULT_AGE:
            came_of_age = birthday(born, ADULT_AGE)
            if self._as_of_ordinal - came_of_age.toordinal() < TURNED_18_WITHIN_DAYS:
                self._event(rows, person_id, "turned_18", came_of_age, {})
        if age >= ADULT_AGE and self.rng.random() < MOVED_RECENTLY:
            moved = date.fromordinal(self._as_of_ordinal - 1 - self.rng.randrange(730))
            self._event(
                rows, person_id, "move", moved, {"from": self._origin(location), "to": where}
            )

    def _origin(self, location: Location) -> str:
        """A municipality someone moved from: any but the one they live in now."""
        codes = self._municipality_codes
        index = below(self.rng, len(codes))
        return (
            codes[(index + 1) % len(codes)]
            if codes[index] == location.municipality_code
            else codes[index]
        )

    def _event(
        self, rows: list[tuple[object, ...]], person_id: str, kind: str, occurred: date,
        details: dict[str, object],
    ) -> None:  # fmt: skip
        recorded = min(self.stamps.at_hour(occurred.toordinal(), 8), self.stamps.seeded_at)
        rows.append((self._row_ids.next(), person_id, kind, occurred.isoformat(),
                     json_text(details), recorded))  # fmt: skip
