"""EMBG, the 13-digit unique master citizen number of North Macedonia: DDMMYYYRRBBBK.

DD MM YYY: birth date (YYY = last three digits of the year; 9xx is the 1900s, 0xx the 2000s);
RR: registration region (41–49 within North Macedonia); BBB: serial, 000–499 male, 500–999
female; K: a mod-11 check digit (a serial whose check would be 10 is never issued).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WEIGHTS = (7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
MK_REGIONS = range(41, 50)


class InvalidEmbg(ValueError):
    """The value is not a valid EMBG; the message says why in plain words."""


@dataclass(frozen=True)
class Embg:
    value: str
    birth_date: date
    sex: str
    region: int


def check_digit(first12: str) -> int | None:
    """The check digit for 12 digits, or None when that combination is never issued."""
    remainder = 11 - sum(w * int(d) for w, d in zip(WEIGHTS, first12, strict=True)) % 11
    if remainder == 11:
        return 0
    return None if remainder == 10 else remainder


def _birth_date(value: str) -> date:
    day, month, yyy = int(value[0:2]), int(value[2:4]), int(value[4:7])
    year = 1000 + yyy if yyy >= 800 else 2000 + yyy
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidEmbg(f"EMBG begins with an impossible birth date ({value[:7]})") from None


def parse(value: str) -> Embg:
    """Validate an EMBG and read its birth date, sex and region; raise InvalidEmbg if bad."""
    if not isinstance(value, str) or len(value) != 13 or not value.isascii() or not value.isdigit():
        raise InvalidEmbg("EMBG must be exactly 13 digits")
    born = _birth_date(value)
    expected = check_digit(value[:12])
    if expected is None or expected != int(value[12]):
        raise InvalidEmbg("EMBG check digit does not match")
    serial = int(value[9:12])
    return Embg(value, born, "M" if serial < 500 else "F", int(value[7:9]))


def make(born: date, *, sex: str, region: int, serial: int) -> str | None:
    """Compose an EMBG (None when this serial's check digit would be 10: never issued)."""
    base = 0 if sex == "M" else 500
    first12 = f"{born.day:02d}{born.month:02d}{born.year % 1000:03d}{region:02d}{base + serial:03d}"
    digit = check_digit(first12)
    return None if digit is None else first12 + str(digit)
