"""Identity documents: an ID card for adults (and some 15–17-year-olds), passports and
driving licences for a realistic share, issued at realistic times so that some have expired."""

from __future__ import annotations

import random
from datetime import date

from navreme.demo.rows import Identifiers, add_years

ID_CARD_YEARS = 10
LICENCE_YEARS = 10
PASSPORT_YEARS = 10
MINOR_PASSPORT_YEARS = 5  # a passport issued before the 18th birthday
# Documents are renewed late or never: issue dates reach back this much past the validity,
# so about 7 % of the cards, passports and licences in the register have expired.
OVERDUE = 1.08
PREFIX = {"id_card": "A", "passport": "M", "driving_licence": "D"}
ID_CARD_AT_15 = 0.3
PASSPORT_ADULT, PASSPORT_MINOR = 0.6, 0.4


def licence_share(age: int) -> float:
    return 0.0 if age < 18 else 0.62 if age < 75 else 0.3


class DocumentNumbers:
    """'A1234567'-style numbers: each kind counts up from a seed-chosen start, as a register
    issues them; unique per kind and the same for the same seed."""

    def __init__(self, rng: random.Random) -> None:
        self._next = {kind: 10**6 + rng.randrange(10**6) for kind in PREFIX}

    def next(self, kind: str) -> str:
        number = self._next[kind]
        if number >= 10**7:
            raise OverflowError(f"the {kind} number series is used up")
        self._next[kind] = number + 1
        return f"{PREFIX[kind]}{number:07d}"


class DocumentIssuer:
    """Appends a person's document rows to `rows` in `rows.COLUMNS['documents']` order."""

    def __init__(
        self, rng: random.Random, *, ids: Identifiers, as_of: date, created_at: str
    ) -> None:
        self._rng = rng
        self._ids = ids
        self._as_of = as_of
        self._as_of_ordinal = as_of.toordinal()
        self._created_at = created_at
        self._numbers = DocumentNumbers(rng)

    def issue(
        self, rows: list[tuple[object, ...]], *, person_id: str, born: date, age: int
    ) -> None:
        rng = self._rng
        adult = age >= 18
        of_age = add_years(born, 18)
        if adult or (age >= 15 and rng.random() < ID_CARD_AT_15):
            eligible = of_age if adult else add_years(born, 15)
            self._add(rows, person_id, "id_card", self._issue_date(eligible, ID_CARD_YEARS),
                      ID_CARD_YEARS)  # fmt: skip
        if rng.random() < (PASSPORT_ADULT if adult else PASSPORT_MINOR):
            issued = self._issue_date(born, PASSPORT_YEARS if adult else MINOR_PASSPORT_YEARS)
            years = PASSPORT_YEARS if issued >= of_age else MINOR_PASSPORT_YEARS
            self._add(rows, person_id, "passport", issued, years)
        if rng.random() < licence_share(age):
            self._add(rows, person_id, "driving_licence", self._issue_date(of_age, LICENCE_YEARS),
                      LICENCE_YEARS)  # fmt: skip

    def _add(
        self, rows: list[tuple[object, ...]], person_id: str, kind: str, issued: date, years: int
    ) -> None:
        expires = add_years(issued, years)
        status = "expired" if expires < self._as_of else "valid"
        rows.append((self._ids.next(), person_id, kind, self._numbers.next(kind),
                     issued.isoformat(), expires.isoformat(), status, self._created_at))  # fmt: skip

    def _issue_date(self, eligible: date, validity_years: int) -> date:
        """Uniformly since the later of eligibility and one (overdue) validity period ago."""
        longest = int(validity_years * 365.25 * OVERDUE)
        span = max(min(self._as_of_ordinal - eligible.toordinal(), longest), 0)
        return date.fromordinal(self._as_of_ordinal - int(self._rng.random() * span))
