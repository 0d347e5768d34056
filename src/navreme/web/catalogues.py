"""Keeping the pages' translations complete: extract every text, find what mk or sq lacks.

`navreme translations check` (and tests/web/test_translations.py) lists every text in a
template or marked in Python that has no translation, or whose translation drops or invents a
`%(placeholder)s`. `navreme translations update` appends the missing texts, untranslated, to
`locale/<lang>/LC_MESSAGES/new.po` for a translator, and names texts no page uses any more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from navreme.web.i18n import LANGUAGES, LOCALE_DIR, SOURCE_LANGUAGE, catalogue_files

PACKAGE_DIR = LOCALE_DIR.parent
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
METHOD_MAP = [
    ("templates/messages/**", "ignore"),  # the messages' own per-language files
    ("**.py", "python"),
    ("templates/**.html", "jinja2"),
]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@dataclass(frozen=True)
class Text:
    msgid: str
    plural: str | None
    where: str  # "templates/me_citizen.html:12"


@dataclass(frozen=True)
class Problem:
    language: str
    text: Text
    problem: str

    def __str__(self) -> str:
        return f"{self.language}: {self.problem}: {self.text.msgid!r} ({self.text.where})"


def extract() -> dict[str, Text]:
    """Every translatable text of the pages, by msgid (first place it is used)."""
    found: dict[str, Text] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        PACKAGE_DIR, METHOD_MAP, keywords=KEYWORDS,
        options_map={"templates/**.html": {"extensions": "jinja2.ext.do"}},
    ):  # fmt: skip
        singular, plural = (message, None) if isinstance(message, str) else message[:2]
        if singular and singular not in found:
            found[singular] = Text(singular, plural, f"{filename}:{lineno}")
    return found


def load(language: str) -> Catalog:
    merged = Catalog(locale=language)
    for path in catalogue_files(language):
        with path.open("rb") as source:
            for message in read_po(source, locale=language):
                if message.id:
                    merged[message.id] = message
    return merged


def problems(language: str, texts: dict[str, Text] | None = None) -> Iterator[Problem]:
    texts = extract() if texts is None else texts
    catalogue = load(language)
    for msgid, text in sorted(texts.items()):
        message = catalogue.get(msgid)
        strings = (
            [] if message is None
            else list(message.string) if isinstance(message.string, tuple | list)
            else [message.string]
        )  # fmt: skip
        if message is None or not all(strings) or not strings:
            yield Problem(language, text, "no translation")
            continue
        if message.fuzzy:
            yield Problem(language, text, "translation marked fuzzy")
        wanted = set(PLACEHOLDER.findall(msgid))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) - wanted - {"num"}:
                yield Problem(language, text, f"placeholders differ in {string!r}")
            elif wanted - set(PLACEHOLDER.findall(string)) - {"num"}:
                yield Problem(language, text, f"a placeholder is missing in {string!r}")


def all_problems() -> list[Problem]:
    texts = extract()
    return [p for language in LANGUAGES if language != SOURCE_LANGUAGE
            for p in problems(language, texts)]  # fmt: skip


def unused(language: str) -> list[str]:
    texts = extract()
    singulars = (m.id[0] if isinstance(m.id, tuple | list) else m.id for m in load(language))
    return sorted(msgid for msgid in singulars if msgid and msgid not in texts)


def update() -> dict[str, int]:
    """Append the missing texts, untranslated, to each language's new.po; returns counts."""
    added: dict[str, int] = {}
    texts = extract()
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        known = load(language)
        path = LOCALE_DIR / language / "LC_MESSAGES" / "new.po"
        pending = Catalog(locale=language)
        if path.exists():
            with path.open("rb") as source:
                pending = read_po(source, locale=language)
        count = 0
        for msgid, text in texts.items():
            if msgid not in known and msgid not in pending:
                pending.add(
                    (msgid, text.plural) if text.plural else msgid,
                    ("", "") if text.plural else "",
                    locations=[(text.where.rsplit(":", 1)[0], int(text.where.rsplit(":", 1)[1]))],
                )
                count += 1
        if count:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                write_po(out, pending, width=100, omit_header=False)
        added[language] = count
    return added


def po_path(language: str, area: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{area}.po"
