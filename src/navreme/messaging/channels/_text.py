"""A message's chat.md shaped for each messenger: its length limit and its own markup.

Splitting rule (the same for every messenger): a text longer than the provider's limit is sent
as several messages, cut at the last paragraph break before the limit, else the last line
break, else the last space, and only inside a word when one word is longer than the limit
(never inside a character). Cuts in the first half of the window are not taken, so no part is
tiny. The whitespace at a cut is dropped; nothing else is lost or changed.

Markup: chat.md is a small Markdown (**bold**, *italic*, `code`, [text](url), # headings).
Telegram gets it as HTML (the simplest of its parse modes to escape correctly), WhatsApp as its
own *bold*/_italic_ markup, Viber and Messenger as plain text with links written out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

_PARAGRAPH, _LINE, _SPACE = "\n\n", "\n", " "
_LINK = re.compile(r"\[([^\]\n]+)\]\((\S+?)\)")
_BOLD = re.compile(r"\*\*(\S(?:.*?\S)?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*([^\s*](?:[^*\n]*?[^\s*])?)\*(?![*\w])")
_CODE = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*$", re.MULTILINE)


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def split(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """The text in parts of at most `limit` (by `measure`), cut as the module docstring says."""
    parts: list[str] = []
    rest = text
    while measure(rest) > limit:
        window = _fitting_prefix(rest, limit, measure)
        cut, gap = _cut_point(rest, window)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut + gap :].lstrip()
    parts.append(rest)
    return parts


def _fitting_prefix(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """How many characters of `text` fit in `limit`."""
    if measure is len:
        return limit
    used = 0
    for index, char in enumerate(text):
        used += measure(char)
        if used > limit:
            return index
    return len(text)


def _cut_point(text: str, window: int) -> tuple[int, int]:
    """Where to cut within the first `window` characters, and how many separator chars to drop."""
    for separator in (_PARAGRAPH, _LINE, _SPACE):
        at = text.rfind(separator, 0, window + len(separator))
        if at > window // 2:
            return at, len(separator)
    return window, 0


def _links_written_out(text: str) -> str:
    return _LINK.sub(lambda m: m[1] if m[1] == m[2] else f"{m[1]} ({m[2]})", text)


def plain(text: str) -> str:
    """chat.md without markup: for Viber and Messenger, which show text as it is."""
    text = _HEADING.sub(r"\1", _links_written_out(text))
    return _CODE.sub(r"\1", _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text)))


def whatsapp(text: str) -> str:
    """chat.md in WhatsApp's markup: *bold*, _italic_, ```monospace```."""
    text = _HEADING.sub(r"**\1**", _links_written_out(text))
    text = _ITALIC.sub(r"_\1_", text)
    return _CODE.sub(r"```\1```", _BOLD.sub(r"*\1*", text))


def telegram_html(text: str) -> str:
    """chat.md as Telegram's HTML parse mode: escaped first, then only matched pairs become tags."""
    text = html.escape(text, quote=False)
    text = _LINK.sub(lambda m: f'<a href="{m[2].replace(chr(34), "&quot;")}">{m[1]}</a>', text)
    text = _HEADING.sub(r"<b>\1</b>", text)
    text = _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<b>\1</b>", text))
    return _ITALIC.sub(r"<i>\1</i>", text)
