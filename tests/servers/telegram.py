"""A fake Telegram Bot API: sendMessage as api.telegram.org answers it, and update webhooks.

Follows the Bot API reference: POST /bot<token>/<method> with a JSON body; answers
{"ok": true, "result": Message} or {"ok": false, "error_code", "description", "parameters"}.
It knows which chats have started the bot (`add_chat`) and which have blocked it (`block`):
an unknown chat is 400 "Bad Request: chat not found", a blocked one 403 "Forbidden: bot was
blocked by the user". Texts are checked as Telegram does: 1-4096 UTF-16 units after entity
parsing, and HTML that does not parse is 400 "can't parse entities".
"""

from __future__ import annotations

import itertools
import re
import time
from html.parser import HTMLParser
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers._base import FakeProvider

_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "span",
    "tg-spoiler",
    "blockquote",
    "tg-emoji",
}

_TAG = re.compile(r"</?[a-z-]+(?:\s[^<>]*)?>")

TOKEN = "123456:test-token"
SECRET_TOKEN = "hook-secret"


class FakeTelegram(FakeProvider):
    def __init__(self, token: str = TOKEN, secret_token: str = SECRET_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.secret_token = secret_token
        self.bot = {"id": int(token.split(":")[0]), "is_bot": True, "first_name": "Navreme"}
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(700_000_001)

    def routes(self) -> list[Route]:
        return [Route("/{bot_token}/{method}", self._method, methods=["GET", "POST"])]

    def add_chat(self, chat_id: int, first_name: str, last_name: str = "") -> None:
        """A person who pressed Start: the bot may now write to them."""
        self.chats[chat_id] = {
            "id": chat_id,
            "first_name": first_name,
            "last_name": last_name,
            "type": "private",
        }
        self._message_ids.setdefault(chat_id, itertools.count(1))

    def block(self, chat_id: int) -> None:
        self.blocked.add(chat_id)

    def signature_headers(self, body: bytes) -> dict[str, str]:
        return {"X-Telegram-Bot-Api-Secret-Token": self.secret_token}

    def user_message(
        self, chat_id: int, text: str, *, reply_to: int | None = None
    ) -> dict[str, Any]:
        """The update Telegram POSTs when the person writes to the bot."""
        chat = self.chats[chat_id]
        sender = {
            "id": chat_id,
            "is_bot": False,
            "first_name": chat["first_name"],
            "language_code": "mk",
        }
        if chat["last_name"]:
            sender["last_name"] = chat["last_name"]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat_id]),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "from": self.bot,
                "chat": chat,
                "date": int(time.time()),
                "text": "…",
            }
        return {"update_id": next(self._update_ids), "message": message}

    async def _method(self, request: Request) -> Response:
        received, failure = await self.record(request)
        if failure is not None:
            return _failure(failure.kind, failure.retry_after)
        if request.path_params["bot_token"] != f"bot{self.token}":
            return _error(401, "Unauthorized")
        if request.path_params["method"].lower() != "sendmessage":
            return _error(404, "Not Found")
        try:
            body = received.json()
        except ValueError:
            return _error(400, "Bad Request: invalid JSON")
        return self._send_message(body)

    def _send_message(self, body: dict[str, Any]) -> Response:
        chat_id = _as_int(body.get("chat_id"))
        if chat_id is None or chat_id not in self.chats:
            return _error(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        visible = _visible_text(text, body.get("parse_mode"))
        if visible is None:
            return _error(
                400, "Bad Request: can't parse entities: unsupported start tag or unclosed tag"
            )
        if len(visible.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        message = {
            "message_id": next(self._message_ids[chat_id]),
            "from": self.bot,
            "chat": self.chats[chat_id],
            "date": int(time.time()),
            "text": visible,
        }
        return JSONResponse({"ok": True, "result": message})


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


def _failure(kind: str, retry_after: int) -> JSONResponse:
    if kind == "rate_limit":
        return _error(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )
    if kind == "server_error":
        return _error(502, "Bad Gateway")
    return _error(403, "Forbidden: bot was blocked by the user")


class _EntityParser(HTMLParser):
    """Telegram's HTML mode: only its tags, every tag closed, the text with entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []
        self.bad = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.bad |= tag not in _ALLOWED_TAGS
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.bad |= not self.open or self.open.pop() != tag

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _visible_text(text: str, parse_mode: Any) -> str | None:
    if parse_mode is None:
        return text
    if parse_mode != "HTML":
        return None  # this fake speaks only the HTML parse mode
    parser = _EntityParser()
    parser.feed(text)
    parser.close()
    if parser.bad or parser.open or re.search(r"[<>]", _TAG.sub("", text)):
        return None  # a bare < or > must be written &lt; / &gt;
    return "".join(parser.text)
