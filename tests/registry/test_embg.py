"""EMBG: format, date, check digit; the values that are never issued."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from navreme.registry import embg


def _with_check_digit(first12: str) -> str:
    digit = embg.check_digit(first12)
    assert digit is not None
    return first12 + str(digit)


def test_parse__valid_embg__reads_birth_date_sex_and_region() -> None:
    value = embg.make(date(1990, 5, 17), sex="F", region=45, serial=1)
    assert value is not None
    parsed = embg.parse(value)
    assert (parsed.birth_date, parsed.sex, parsed.region) == (date(1990, 5, 17), "F", 45)


def test_parse__born_in_2000s__reads_the_century_from_the_year_digits() -> None:
    value = embg.make(date(2007, 1, 2), sex="M", region=41, serial=4)
    assert value is not None
    assert embg.parse(value).birth_date == date(2007, 1, 2)
    assert embg.parse(value).sex == "M"


def test_parse__wrong_check_digit__is_refused() -> None:
    value = embg.make(date(1990, 5, 17), sex="F", region=45, serial=1)
    assert value is not None
    wrong = value[:12] + str((int(value[12]) + 1) % 10)
    with pytest.raises(embg.InvalidEmbg, match="check digit does not match"):
        embg.parse(wrong)


def test_parse__31_february__is_an_impossible_birth_date() -> None:
    with pytest.raises(embg.InvalidEmbg, match="impossible birth date"):
        embg.parse(_with_check_digit("310299045001"))


@pytest.mark.parametrize(
    "value",
    ["170599045000", "17059904500012", "17O5990450001", "", "1705990 450001",
     "١٢٣٤٥٦٧٨٩٠١٢٣", "１７０５９９０４５０００１"],
    ids=["12 digits", "14 digits", "a letter", "empty", "a space", "arabic-indic digits",
         "full-width digits"],
)  # fmt: skip
def test_parse__not_13_ascii_digits__is_refused(value: str) -> None:
    with pytest.raises(embg.InvalidEmbg, match="exactly 13 digits"):
        embg.parse(value)


def test_parse__serial_whose_check_would_be_10__is_never_valid() -> None:
    serial = next(s for s in range(1000) if embg.check_digit(f"170599045{s:03d}") is None)
    first12 = f"170599045{serial:03d}"
    assert embg.make(date(1990, 5, 17), sex="M", region=45, serial=serial) is None
    for digit in "0123456789":
        with pytest.raises(embg.InvalidEmbg, match="check digit"):
            embg.parse(first12 + digit)


@given(
    born=st.dates(min_value=date(1800, 1, 1), max_value=date(2799, 12, 31)),
    sex=st.sampled_from(["F", "M"]),
    region=st.integers(41, 49),
    serial=st.integers(0, 499),
)
def test_make_then_parse__round_trips_every_issued_value(
    born: date, sex: str, region: int, serial: int
) -> None:
    value = embg.make(born, sex=sex, region=region, serial=serial)
    if value is not None:
        parsed = embg.parse(value)
        assert (parsed.birth_date, parsed.sex, parsed.region) == (born, sex, region)
