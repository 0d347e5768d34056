"""Group a block of people (ages and sexes already drawn) into households.

Minors come first: brothers and sisters get a mother and usually a father of plausible ages;
some families also take in a grandparent or a grown child. The adults left over live alone,
as couples, or with grown children and elderly parents, so that the block's mean household
size comes out at the census mean. Everyone in a household shares its residence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from navreme.demo.census import MAX_AGE, MEAN_HOUSEHOLD_SIZE

ADULT_AGE = 18
SIBLINGS_CUM = (0.45, 0.87, 0.98, 1.0)  # 1, 2, 3 or 4 children (cumulative)
TWO_PARENTS = 0.85
GRANDPARENT_IN_FAMILY = 0.22
GROWN_CHILD_IN_FAMILY = 0.35
PARTNER = 0.75
GROWN_CHILD_NOT_PARENT = 0.7  # a third member is a grown child, else an elderly parent


@dataclass
class Household:
    members: list[int] = field(default_factory=list)
    guardians: list[int] = field(default_factory=list)  # the minors' parents
    wards: list[int] = field(default_factory=list)  # the minors


class AdultPool:
    """Adults not yet placed, found by sex and nearest age."""

    def __init__(self, ages: list[int], sexes: list[str], order: list[int]) -> None:
        self._ages = ages
        self._placed = bytearray(len(ages))
        self._order = order  # random order for take_any
        self._cursor = 0
        self._buckets: dict[tuple[str, int], list[int]] = {}
        for person in order:
            self._buckets.setdefault((sexes[person], ages[person]), []).append(person)
        self.left = len(order)

    def take(self, sex: str, *, lo: int, hi: int, target: int) -> int | None:
        """The unplaced adult of `sex` whose age is nearest `target` within [lo, hi]."""
        target = min(max(target, lo), hi)
        for distance in range(max(target - lo, hi - target) + 1):
            for age in (target - distance, target + distance):
                if lo <= age <= hi:
                    found = self._pop((sex, age))
                    if found is not None:
                        return found
        return None

    def take_either(self, *, lo: int, hi: int, target: int) -> int | None:
        found = self.take("F", lo=lo, hi=hi, target=target)
        return found if found is not None else self.take("M", lo=lo, hi=hi, target=target)

    def take_any(self) -> int | None:
        while self._cursor < len(self._order):
            person = self._order[self._cursor]
            self._cursor += 1
            if not self._placed[person]:
                self._mark(person)
                return person
        return None

    def take_oldest(self) -> int | None:
        return self.take_either(lo=ADULT_AGE, hi=MAX_AGE, target=MAX_AGE)

    def _pop(self, key: tuple[str, int]) -> int | None:
        bucket = self._buckets.get(key)
        while bucket:
            person = bucket.pop()
            if not self._placed[person]:
                self._mark(person)
                return person
        return None

    def _mark(self, person: int) -> None:
        self._placed[person] = 1
        self.left -= 1


def form_households(ages: list[int], sexes: list[str], rng: random.Random) -> list[Household]:
    """Partition people 0…n-1 into households; needs at least one adult among them."""
    adults = [p for p, age in enumerate(ages) if age >= ADULT_AGE]
    minors = [p for p, age in enumerate(ages) if age < ADULT_AGE]
    rng.shuffle(adults)
    rng.shuffle(minors)
    pool = AdultPool(ages, sexes, adults)
    families = _families(minors, ages, pool, rng)
    for family in families:
        _extend_family(family, ages, pool, rng)
    target = max(1, round(len(ages) / MEAN_HOUSEHOLD_SIZE))
    return families + _adult_households(pool, ages, sexes, rng, wanted=target - len(families))


def _families(
    minors: list[int], ages: list[int], pool: AdultPool, rng: random.Random
) -> list[Household]:
    families: list[Household] = []
    start = 0
    while start < len(minors):
        size = 1 + sum(rng.random() >= edge for edge in SIBLINGS_CUM[:-1])
        children = minors[start : start + size]
        start += size
        parents = _parents(children, ages, pool, rng)
        if parents:
            families.append(Household(parents + children, parents, children))
        else:  # a small block ran out of adults: the children join the oldest adult's home
            _join_oldest_household(families, children, ages)
    return families


def _parents(
    children: list[int], ages: list[int], pool: AdultPool, rng: random.Random
) -> list[int]:
    eldest = max(ages[c] for c in children)
    youngest = min(ages[c] for c in children)
    lo = eldest + ADULT_AGE
    mother = pool.take("F", lo=lo, hi=youngest + 45, target=youngest + rng.randint(22, 36))
    if mother is None:
        father = pool.take("M", lo=lo, hi=youngest + 55, target=youngest + rng.randint(24, 40))
        found = (
            father
            if father is not None
            else pool.take_either(lo=eldest + 16, hi=MAX_AGE, target=eldest + 30)
        )
        if found is None:
            found = pool.take_oldest()
        return [] if found is None else [found]
    if rng.random() >= TWO_PARENTS:
        return [mother]
    father = pool.take("M", lo=lo, hi=youngest + 55, target=ages[mother] + rng.randint(0, 5))
    return [mother] if father is None else [mother, father]


def _join_oldest_household(families: list[Household], children: list[int], ages: list[int]) -> None:
    host = max(families, key=lambda family: max(ages[g] for g in family.guardians))
    host.members.extend(children)
    host.wards.extend(children)


def _extend_family(family: Household, ages: list[int], pool: AdultPool, rng: random.Random) -> None:
    parent_age = min(ages[g] for g in family.guardians)
    if rng.random() < GRANDPARENT_IN_FAMILY:
        _add(family, pool.take_either(lo=parent_age + 18, hi=MAX_AGE,
                                      target=parent_age + rng.randint(22, 32)))  # fmt: skip
    if rng.random() < GROWN_CHILD_IN_FAMILY and parent_age >= 2 * ADULT_AGE:
        _add(family, pool.take_either(lo=ADULT_AGE, hi=min(parent_age - 18, 35),
                                      target=rng.randint(ADULT_AGE, 30)))  # fmt: skip


def _add(household: Household, person: int | None) -> None:
    if person is not None:
        household.members.append(person)


def _adult_households(
    pool: AdultPool, ages: list[int], sexes: list[str], rng: random.Random, *, wanted: int
) -> list[Household]:
    if pool.left == 0:
        return []
    wanted = min(max(wanted, -(-pool.left // 6)), pool.left)
    extra_share = (pool.left / wanted - 1) / 5  # 1 + five coin flips: sizes 1–6, mean as wanted
    households = []
    while (head := pool.take_any()) is not None:
        size = 1 + sum(rng.random() < extra_share for _ in range(5))
        households.append(_adult_household(head, size, pool, ages, sexes, rng))
    return households


def _adult_household(
    head: int, size: int, pool: AdultPool, ages: list[int], sexes: list[str], rng: random.Random
) -> Household:
    household = Household([head])
    age = ages[head]
    if size > 1 and rng.random() < PARTNER:
        partner_sex, gap = ("F", -3) if sexes[head] == "M" else ("M", 3)
        _add(household, pool.take(partner_sex, lo=max(ADULT_AGE, age - 12), hi=age + 12,
                                  target=age + gap))  # fmt: skip
    while len(household.members) < size:
        relative = _relative(age, pool, rng)
        # No grown child or parent of a fitting age left: a sibling, in-law or lodger.
        found = relative if relative is not None else pool.take_any()
        if found is None:
            break
        household.members.append(found)
    return household


def _relative(age: int, pool: AdultPool, rng: random.Random) -> int | None:
    if rng.random() < GROWN_CHILD_NOT_PARENT and age >= 2 * ADULT_AGE:
        return pool.take_either(lo=ADULT_AGE, hi=age - 18, target=age - rng.randint(22, 32))
    return pool.take_either(lo=age + 16, hi=MAX_AGE, target=age + rng.randint(22, 32))
