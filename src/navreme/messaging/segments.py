"""SMS encoding and segmentation: what a text costs and how it travels as concatenated parts.

An SMS carries 140 octets. Text in the GSM 03.38 default alphabet (7-bit septets) fits 160
characters, or 153 per part once a concatenation header (UDH, 6 octets) is needed; characters
of the extension table (€, [, ], {, }, |, ^, ~, \\ and form feed) take two septets, an escape and
the character. Anything else (Cyrillic, Albanian ë, emoji) is sent as UCS-2 (UTF-16 code
units): 70 units, or 67 per part; a character outside the Basic Multilingual Plane is a
surrogate pair and takes two units.

`split` never cuts an escape pair or a surrogate pair in half, so every part is a whole text the
handset can show; that is why `segments` counts the parts `split` makes rather than dividing.
The SMPP adapter uses `gsm7_encode`/`gsm7_decode` for data_coding 0 (unpacked, one septet per
octet, as SMPP carries it).
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["gsm7", "ucs2"]

# GSM 03.38 default alphabet, in code order 0x00-0x7F; 0x1B is the escape to the extension table.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: character -> code after the escape.
GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESCAPE = 0x1B

_BASIC_CODE = {char: code for code, char in enumerate(GSM7_BASIC) if code != ESCAPE}
_EXTENSION_CHAR = {code: char for char, code in GSM7_EXTENSION.items()}

SINGLE = {"gsm7": 160, "ucs2": 70}  # units in a message that needs no concatenation header
PART = {"gsm7": 153, "ucs2": 67}  # units per part of a concatenated message


def _gsm7_units(char: str) -> int | None:
    """Septets one character takes in GSM-7, or None when it has no GSM-7 form."""
    if char in _BASIC_CODE:
        return 1
    if char in GSM7_EXTENSION:
        return 2
    return None


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def encoding(text: str) -> Encoding:
    """ "gsm7" when every character is in the GSM 03.38 alphabet (with extension), else "ucs2"."""
    return "gsm7" if all(_gsm7_units(char) is not None for char in text) else "ucs2"


def units(text: str, coding: Encoding | None = None) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    chosen = coding or encoding(text)
    if chosen == "gsm7":
        return sum(_gsm7_units(char) or 0 for char in text)
    return sum(_ucs2_units(char) for char in text)


def split(text: str) -> list[str]:
    """The text as the parts it is sent in (one part when it fits a single SMS)."""
    coding = encoding(text)
    if units(text, coding) <= SINGLE[coding]:
        return [text]
    measure = _gsm7_units if coding == "gsm7" else _ucs2_units
    limit = PART[coding]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        size = measure(char) or 0
        if used + size > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += size
    parts.append("".join(current))
    return parts


def segments(text: str) -> int:
    """How many SMS the text is billed and sent as."""
    return len(split(text))


def gsm7_encode(text: str) -> bytes:
    """Unpacked GSM-7 (one septet per octet), as SMPP carries data_coding 0."""
    out = bytearray()
    for char in text:
        if char in _BASIC_CODE:
            out.append(_BASIC_CODE[char])
        elif char in GSM7_EXTENSION:
            out += bytes((ESCAPE, GSM7_EXTENSION[char]))
        else:
            raise ValueError(f"character U+{ord(char):04X} has no GSM-7 form")
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    """Unpacked GSM-7 to text; an unknown extension code reads as a space (GSM 03.38 advice)."""
    chars: list[str] = []
    escaped = False
    for octet in data:
        code = octet & 0x7F
        if escaped:
            chars.append(_EXTENSION_CHAR.get(code, " "))
            escaped = False
        elif code == ESCAPE:
            escaped = True
        else:
            chars.append(GSM7_BASIC[code])
    return "".join(chars)


def ucs2_encode(text: str) -> bytes:
    """UTF-16BE: what SMSCs and handsets accept as data_coding 8 (surrogates included)."""
    return text.encode("utf-16-be")


def ucs2_decode(data: bytes) -> str:
    """UTF-16BE to text; an odd trailing octet or a lone surrogate becomes U+FFFD."""
    return data.decode("utf-16-be", errors="replace")
