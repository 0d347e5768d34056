"""Macedonian Latin ↔ Cyrillic transliteration and ASCII folding for addresses."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Digraphs first: the official Latin spelling writes ѓ, ќ, љ, њ, џ, ѕ with two letters.
_LATIN_DIGRAPHS = {"dž": "џ", "gj": "ѓ", "kj": "ќ", "lj": "љ", "nj": "њ", "dz": "ѕ"}
_LATIN_LETTERS = dict(zip("abvgdežzijklmnoprstufhcčš", "абвгдежзијклмнопрстуфхцчш", strict=True))
# The passport romanisation: plain ASCII, so it also works for e-mail local parts.
_CYRILLIC_TO_ASCII = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ѓ": "gj", "е": "e", "ж": "zh",
    "з": "z", "ѕ": "dz", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m",
    "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "ќ": "kj",
    "у": "u", "ф": "f", "х": "h", "ц": "c", "ч": "ch", "џ": "dzh", "ш": "sh",
}  # fmt: skip


def _cased(source: str, target: str) -> str:
    return target[:1].upper() + target[1:] if source[:1].isupper() else target


def to_cyrillic(latin: str) -> str:
    """Macedonian Latin (Kičevo, Gjorče Petrov) to Cyrillic (Кичево, Ѓорче Петров)."""
    out, i = [], 0
    while i < len(latin):
        pair = latin[i : i + 2]
        if pair.lower() in _LATIN_DIGRAPHS:
            out.append(_cased(pair, _LATIN_DIGRAPHS[pair.lower()]))
            i += 2
            continue
        letter = latin[i]
        out.append(_cased(letter, _LATIN_LETTERS.get(letter.lower(), letter)))
        i += 1
    return "".join(out)


def to_latin(cyrillic: str) -> str:
    """Macedonian Cyrillic to the ASCII passport romanisation (Ѓорѓи → Gjorgji)."""
    return "".join(
        _cased(letter, _CYRILLIC_TO_ASCII.get(letter.lower(), letter)) for letter in cyrillic
    )


@lru_cache(maxsize=4096)  # the seed folds the same few hundred names millions of times
def ascii_fold(text: str) -> str:
    """Lower-case ASCII for machine addresses: Gëzim → gezim, Петровска → petrovska."""
    decomposed = unicodedata.normalize("NFKD", to_latin(text))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()
