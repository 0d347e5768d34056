"""Page texts in mk / sq / en (Babel gettext catalogues) and the choice of language per request.

English is the source language: templates say `{{ _("Skip to content") }}` and Python code
marks texts with `N_("…")` (or translates with `translator(language)`). The translations live
in `src/navreme/locale/<lang>/LC_MESSAGES/*.po`, one catalogue per area of the site, all merged
at start-up; `make messages` re-extracts and updates them, and
`tests/web/test_translations.py` fails when any text lacks an mk or sq translation.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

LANGUAGES = ("mk", "sq", "en")
SOURCE_LANGUAGE = "en"
LANGUAGE_NAMES = {"mk": "Македонски", "sq": "Shqip", "en": "English"}
LANG_COOKIE = "navreme_lang"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

Translate = Callable[..., str]


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark a text for extraction; the page translates it when it renders."""
    return message


def catalogue_files(language: str) -> list[Path]:
    return sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))


@functools.cache
def translations(language: str) -> Translations:
    """Every `.po` catalogue of the language merged, compiled in memory (no `.mo` build step).
    The first catalogue's Plural-Forms header decides plurals (all of a language's agree)."""
    merged: Translations | None = None
    for path in catalogue_files(language):
        with path.open("rb") as source:
            catalogue = read_po(source, locale=language)
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)  # fuzzy entries are left out, as gettext would
        compiled.seek(0)
        loaded = Translations(compiled)
        merged = loaded if merged is None else merged.merge(loaded)
    return merged if merged is not None else Translations()


def translator(language: str) -> Translate:
    """`_` for one language: `_("Hello %(name)s", name="Ана")`; English is the msgid itself."""
    gettext = translations(language).gettext

    def _(message: str, **values: object) -> str:
        text = message if language == SOURCE_LANGUAGE else gettext(message)
        return text % values if values else text

    return _


def plural_translator(language: str) -> Callable[..., str]:
    """`ngettext("%(num)d day", "%(num)d days", n)`, with `num` filled in."""
    ngettext = translations(language).ngettext

    def plural(singular: str, plural_: str, n: int, **values: object) -> str:
        if language == SOURCE_LANGUAGE:
            text = singular if n == 1 else plural_
        else:
            text = ngettext(singular, plural_, n)
        return text % {"num": n, **values}

    return plural


def from_accept_language(header: str) -> str | None:
    weighted = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.strip().lower()[:2]))
    for _quality, code in sorted(weighted, key=lambda pair: -pair[0]):
        if code in LANGUAGES:
            return code
    return None


def choose_language(request: Request, profile: str | None = None, default: str = "mk") -> str:
    """?lang= (the switch on every page) → the language cookie it sets → the person's profile →
    Accept-Language → default."""
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        profile,
        from_accept_language(request.headers.get("accept-language", "")),
    ):
        if candidate in LANGUAGES:
            return candidate
    return default
