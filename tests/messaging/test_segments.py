"""SMS encoding and segmentation: GSM 03.38 tables, part sizes, and the split's invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from navreme.messaging import segments

GSM_CHARS = "".join(ch for ch in segments.GSM7_BASIC if ch != "\x1b") + "".join(
    segments.GSM7_EXTENSION
)
gsm_text = st.text(alphabet=GSM_CHARS, max_size=700)
any_text = st.text(max_size=400)


def test_the_basic_table_has_128_codes_in_gsm_order() -> None:
    assert len(segments.GSM7_BASIC) == 128
    assert segments.GSM7_BASIC[0x00] == "@"
    assert segments.GSM7_BASIC[0x24] == "¤"
    assert segments.GSM7_BASIC[0x5F] == "§"
    assert segments.GSM7_BASIC[0x7F] == "à"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your passport expires on 12 March.", "gsm7"),
        ("Price: 10€ [see {terms}]", "gsm7"),
        ("Ваш пасош истекува", "ucs2"),
        ("Pasaporta juaj skadon më 12 mars", "ucs2"),  # ë is not in GSM 03.38
        ("back`tick", "ucs2"),
        ("", "gsm7"),
    ],
)
def test_encoding(text: str, expected: str) -> None:
    assert segments.encoding(text) == expected


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets
        ("€" * 81, 2),
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("😀" * 35, 1),  # 70 UTF-16 units
        ("😀" * 36, 2),
    ],
)
def test_segment_boundaries(text: str, count: int) -> None:
    assert segments.segments(text) == count


def test_an_escape_pair_is_not_cut_between_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = segments.split(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")


def test_a_surrogate_pair_is_not_cut_between_parts() -> None:
    text = "ж" * 66 + "😀" + "ж" * 10
    parts = segments.split(text)
    assert parts[0] == "ж" * 66
    assert parts[1].startswith("😀")


def test_gsm7_round_trip_of_extension_characters() -> None:
    encoded = segments.gsm7_encode("{€}")
    assert encoded == b"\x1b\x28\x1b\x65\x1b\x29"
    assert segments.gsm7_decode(encoded) == "{€}"


def test_gsm7_encode_refuses_cyrillic() -> None:
    with pytest.raises(ValueError, match="U\\+0436"):
        segments.gsm7_encode("ж")


@given(gsm_text)
def test_gsm_text_round_trips_through_gsm7(text: str) -> None:
    assert segments.gsm7_decode(segments.gsm7_encode(text)) == text


@given(any_text)
def test_parts_join_back_to_the_text(text: str) -> None:
    assert "".join(segments.split(text)) == text


@given(any_text)
def test_every_part_fits_its_size(text: str) -> None:
    coding = segments.encoding(text)
    parts = segments.split(text)
    limit = segments.SINGLE[coding] if len(parts) == 1 else segments.PART[coding]
    assert all(segments.units(part, coding) <= limit for part in parts)


@given(any_text)
def test_segments_is_the_number_of_parts(text: str) -> None:
    assert segments.segments(text) == len(segments.split(text))


@given(any_text)
def test_split_is_tight(text: str) -> None:
    # no part could have taken the next part's first character
    coding = segments.encoding(text)
    parts = segments.split(text)
    assert all(
        segments.units(part + after[0], coding) > segments.PART[coding]
        for part, after in zip(parts, parts[1:], strict=False)
    )


@given(any_text)
def test_ucs2_units_count_surrogate_pairs_twice(text: str) -> None:
    assert segments.units(text, "ucs2") == len(segments.ucs2_encode(text)) // 2


@given(gsm_text)
def test_gsm7_units_are_the_encoded_length(text: str) -> None:
    assert segments.units(text, "gsm7") == len(segments.gsm7_encode(text))


@given(st.text(alphabet="жшчѓќџабвгд", min_size=1, max_size=400))
def test_cyrillic_is_ucs2_with_67_per_part(text: str) -> None:
    expected = 1 if len(text) <= 70 else -(-len(text) // 67)
    assert segments.segments(text) == expected
