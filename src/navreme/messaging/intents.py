"""What a short answer means, in Macedonian, Albanian and English.

People answer invitations from phones in whatever script and case they like: "Да", "da.",
"PO!", " 1 ". The text is trimmed, case-folded and stripped of punctuation before it is looked
up; only a whole answer counts ("yes, but…" is a question for an officer, not a booking).
The words are data, so adding a language is adding lines here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# word → (intent, language it tells us the sender speaks; None for digits and shared words)
WORDS: dict[str, tuple[str, str | None]] = {
    "1": ("confirm", None), "yes": ("confirm", "en"), "ok": ("confirm", None),
    "да": ("confirm", "mk"), "da": ("confirm", "mk"), "po": ("confirm", "sq"),
    "2": ("other_times", None), "other": ("other_times", "en"),
    "other times": ("other_times", "en"), "another time": ("other_times", "en"),
    "друг": ("other_times", "mk"), "друг термин": ("other_times", "mk"),
    "други термини": ("other_times", "mk"), "друго време": ("other_times", "mk"),
    "tjeter": ("other_times", "sq"), "tjetër": ("other_times", "sq"),
    "kohe tjeter": ("other_times", "sq"), "kohë tjetër": ("other_times", "sq"),
    "termin tjeter": ("other_times", "sq"), "termin tjetër": ("other_times", "sq"),
    "3": ("cancel", None), "no": ("cancel", "en"), "не": ("cancel", "mk"),
    "ne": ("cancel", "mk"), "jo": ("cancel", "sq"),
    "stop": ("stop", "en"), "стоп": ("stop", "mk"), "ndalo": ("stop", "sq"),
    "start": ("start", "en"), "старт": ("start", "mk"), "fillo": ("start", "sq"),
}  # fmt: skip
CODE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class Intent:
    kind: str  # confirm | other_times | cancel | stop | start | code | free_text
    code: str = ""
    language: str | None = None  # a guess, for senders whose language we do not know


def normalise(text: str) -> str:
    """Case-folded words without punctuation or symbols, single-spaced."""
    kept = "".join(
        " " if unicodedata.category(char)[0] in "PSZC" else char for char in text.casefold()
    )
    return " ".join(kept.split())


def guess_language(text: str) -> str | None:
    """Cyrillic is Macedonian here; anything else stays unknown (the default language)."""
    if any("CYRILLIC" in unicodedata.name(char, "") for char in text):
        return "mk"
    return None


def interpret(text: str) -> Intent:
    words = normalise(text)
    if words in WORDS:
        kind, language = WORDS[words]
        return Intent(kind, language=language or guess_language(text))
    digits = words.replace(" ", "")
    if CODE.fullmatch(digits):
        return Intent("code", code=digits)
    return Intent("free_text", language=guess_language(text))
