"""Message templates as files, rendered in a Jinja2 sandbox for one channel, language and format.

    templates/messages/<name>/<lang>/subject.txt   e-mail subject, letter heading
                                     body.txt      e-mail text part, letter, voice
                                     body.html     e-mail HTML part (autoescaped)
                                     sms.txt       SMS and web push
                                     chat.md       messengers (Matrix, Telegram, WhatsApp, …)
                                     easy.txt      easy-read version, for every channel

A template may leave a file out; the channel then falls back along `FALLBACK` (a messenger
without chat.md gets sms.txt, …). Proactive purposes get the shared `_why_stop` footer: every
proactive message says why the person is contacted and how to stop proactive contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

ROOT = Path(__file__).resolve().parent.parent / "templates" / "messages"
LANGUAGES = ("mk", "sq", "en")
PROACTIVE = frozenset({"proactive_offers", "reminders", "surveys"})
CHAT_CHANNELS = frozenset({"matrix", "telegram", "whatsapp", "viber", "messenger", "xmpp"})

# The file each channel reads first, then what it falls back to.
FALLBACK = {
    "chat.md": ("chat.md", "sms.txt", "body.txt"),
    "sms.txt": ("sms.txt", "chat.md", "body.txt"),
    "body.txt": ("body.txt", "chat.md", "sms.txt"),
}


class TemplateError(ValueError):
    """A template that does not exist or does not render with the given context."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def text_file(channel: str) -> str:
    if channel in CHAT_CHANNELS:
        return "chat.md"
    if channel in ("sms", "push"):
        return "sms.txt"
    return "body.txt"  # email, letter, voice, outreach


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(ROOT)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )


def names() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("_"))


def exists(name: str) -> bool:
    return (ROOT / name).is_dir() and not name.startswith("_")


def _render_file(path: str, context: dict[str, Any]) -> str | None:
    try:
        template = _environment().get_template(path)
    except TemplateNotFound:
        return None
    try:
        return template.render(**context).strip()
    except Exception as wrong:  # undefined variables, sandbox refusals, filter errors
        raise TemplateError(f"{path}: {wrong}") from None


def _first(name: str, language: str, files: tuple[str, ...], context: dict[str, Any]) -> str:
    for file in files:
        rendered = _render_file(f"{name}/{language}/{file}", context)
        if rendered is not None:
            return rendered
    raise TemplateError(f"template {name!r} has none of {', '.join(files)} in {language!r}")


def render(
    name: str,
    *,
    channel: str,
    language: str,
    context: dict[str, Any],
    format: str = "standard",
    purpose: str = "service",
) -> Rendered:
    """The subject, text and (e-mail only) HTML of one message on one channel."""
    if not exists(name):
        raise TemplateError(f"unknown template {name!r}")
    if language not in LANGUAGES:
        raise TemplateError(f"unknown language {language!r}")
    values = {**context, "channel": channel, "language": language, "format": format}
    main = text_file(channel)
    files = ("easy.txt", *FALLBACK[main]) if format == "easy_read" else FALLBACK[main]
    text = _first(name, language, files, values)
    subject = _render_file(f"{name}/{language}/subject.txt", values) or ""
    html = None
    if channel == "email" and format != "easy_read":
        html = _render_file(f"{name}/{language}/body.html", values)
    if purpose in PROACTIVE:
        text = f"{text}\n\n{_first('_why_stop', language, FALLBACK[main], values)}"
        if html is not None:
            footer = _render_file(f"_why_stop/{language}/body.html", values) or ""
            html = f"{html}\n{footer}"
    if html is not None and format == "large_print":
        html = f'<div style="font-size:150%;line-height:1.6">{html}</div>'
    return Rendered(subject=subject, text=text, html=html)
