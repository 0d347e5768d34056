"""Contact endpoints: Macedonian mobiles for residents, foreign ones for the diaspora, e-mail
for about half, messengers for some; most verified, ranked by the person's preference."""

from __future__ import annotations

import random
from itertools import accumulate

from navreme.demo.alphabet import ascii_fold
from navreme.demo.rows import Identifiers, Numbering, Stamps, below

VERIFIED = 0.85
VERIFIED_WITHIN_DAYS = 3 * 365
# Mobile prefixes after +389 7: 070–072 and 075–079 (the operators' ranges).
MK_MOBILE_DIGITS = "01256789"
# Country: (mobile prefix, digits after it).
FOREIGN_MOBILE = {
    "DE": ("+49151", 8), "CH": ("+4179", 7), "IT": ("+39347", 7), "AT": ("+43664", 7),
    "US": ("+1312", 7), "AU": ("+614", 8), "CA": ("+1416", 7), "SE": ("+4670", 7),
    "TR": ("+90532", 7), "SI": ("+38641", 6), "HR": ("+38591", 7), "GB": ("+447", 9),
    "FR": ("+336", 8), "BE": ("+32470", 6), "NL": ("+316", 8),
}  # fmt: skip
EMAIL_DOMAINS = (
    ("gmail.com", 52), ("yahoo.com", 11), ("hotmail.com", 11), ("outlook.com", 8),
    ("t-home.mk", 6), ("live.com", 5), ("icloud.com", 3), ("protonmail.com", 2),
    ("gmx.de", 1), ("bluewin.ch", 1),
)  # fmt: skip
_DOMAINS = tuple(domain for domain, _ in EMAIL_DOMAINS)
_DOMAIN_CUM = tuple(accumulate(weight for _, weight in EMAIL_DOMAINS))
# Base rank per channel (lower is preferred) and the spread that reorders them per person.
BASE_RANK = {"viber": 10, "sms": 15, "whatsapp": 20, "email": 25, "telegram": 30, "matrix": 35}
RANK_SPREAD = 30


def phone_share(age: int, *, abroad: bool) -> float:
    if age < 12:
        return 0.0  # children are reached through their parents
    if age < 18:
        return 0.6
    if abroad:
        return 0.85
    return 0.93 if age < 80 else 0.6


def email_share(age: int) -> float:
    if age < 14:
        return 0.0
    return 0.3 if age < 18 else 0.68 if age < 60 else 0.35 if age < 80 else 0.12


def messenger_shares(*, abroad: bool) -> tuple[float, float, float]:
    """Viber, WhatsApp, Telegram among people with a phone (Viber leads at home)."""
    return (0.35, 0.45, 0.08) if abroad else (0.5, 0.18, 0.06)


class Addresses:
    """Unique phone numbers, e-mail and Matrix addresses, the same for the same seed."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._mk = Numbering(8 * 10**6, offset=rng.getrandbits(32))
        self._foreign = {
            country: Numbering(10**digits, offset=rng.getrandbits(32))
            for country, (_, digits) in FOREIGN_MOBILE.items()
        }
        self._telegram = Numbering(9 * 10**8, offset=rng.getrandbits(32))
        self._used: dict[str, int] = {}

    def phone(self, abroad_country: str | None) -> str:
        if abroad_country is None:
            number = self._mk.next()
            return f"+3897{MK_MOBILE_DIGITS[number // 10**6]}{number % 10**6:06d}"
        prefix, digits = FOREIGN_MOBILE[abroad_country]
        return f"{prefix}{self._foreign[abroad_country].next():0{digits}d}"

    def email(self, given: str, family: str) -> str:
        rng = self._rng
        first, last = ascii_fold(given), ascii_fold(family)
        local = (f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}", f"{first}_{last}")[
            below(rng, 4)
        ]  # fmt: skip
        domain = rng.choices(_DOMAINS, cum_weights=_DOMAIN_CUM)[0]
        return f"{self._unique(local + '@' + domain, local)}@{domain}"

    def matrix(self, given: str, family: str) -> str:
        local = f"{ascii_fold(given)}.{ascii_fold(family)}"
        return f"@{self._unique(local + ':matrix.org', local)}:matrix.org"

    def telegram(self) -> str:
        return str(10**8 + self._telegram.next())  # a Telegram chat id

    def _unique(self, key: str, local: str) -> str:
        seen = self._used.get(key, 0)
        self._used[key] = seen + 1
        return local if seen == 0 else f"{local}{seen + 1}"


class EndpointMaker:
    """Appends a person's endpoints (`rows.COLUMNS['contact_endpoints']` order) and returns
    their channels, most preferred first."""

    def __init__(
        self, rng: random.Random, *, ids: Identifiers, stamps: Stamps, as_of_ordinal: int
    ) -> None:
        self._rng = rng
        self._ids = ids
        self._stamps = stamps
        self._as_of_ordinal = as_of_ordinal
        self.addresses = Addresses(rng)

    def add(
        self, rows: list[tuple[object, ...]], *, person_id: str, age: int, given: str,
        family: str, abroad_country: str | None,
    ) -> list[str]:  # fmt: skip
        wanted = self._wanted(age=age, given=given, family=family, abroad_country=abroad_country)
        ranked = sorted(wanted, key=lambda item: item[0])
        for rank, (_, channel, address) in enumerate(ranked, start=1):
            rows.append((self._ids.next(), person_id, channel, address, rank * 10,
                         self._verified_at(), self._stamps.seeded_at))  # fmt: skip
        return [channel for _, channel, _ in ranked]

    def _wanted(
        self, *, age: int, given: str, family: str, abroad_country: str | None
    ) -> list[tuple[int, str, str]]:
        rng = self._rng
        abroad = abroad_country is not None
        found: list[tuple[int, str, str]] = []
        if rng.random() < phone_share(age, abroad=abroad):
            phone = self.addresses.phone(abroad_country)
            found.append(self._ranked("sms", phone))
            viber, whatsapp, telegram = messenger_shares(abroad=abroad)
            if rng.random() < viber:
                found.append(self._ranked("viber", phone))
            if rng.random() < whatsapp:
                found.append(self._ranked("whatsapp", phone))
            if rng.random() < telegram:
                found.append(self._ranked("telegram", self.addresses.telegram()))
        if rng.random() < email_share(age):
            found.append(self._ranked("email", self.addresses.email(given, family)))
        if age >= 18 and rng.random() < 0.015:
            found.append(self._ranked("matrix", self.addresses.matrix(given, family)))
        return found

    def _ranked(self, channel: str, address: str) -> tuple[int, str, str]:
        return (BASE_RANK[channel] + below(self._rng, RANK_SPREAD), channel, address)

    def _verified_at(self) -> str | None:
        rng = self._rng
        if rng.random() >= VERIFIED:
            return None
        day = self._as_of_ordinal - 1 - below(rng, VERIFIED_WITHIN_DAYS)
        return self._stamps.at_hour(day, 6 + below(rng, 14))
