"""Telegram: messages through the Bot API's sendMessage, replies through its webhook.

Settings (keyword arguments): `token` (the bot token, required), `secret_token` (the value set
with setWebhook; every webhook must carry it in X-Telegram-Bot-Api-Secret-Token, and with none
configured every webhook is refused), `base_url` (https://api.telegram.org; a local Bot API
server's address works too), `timeout` (seconds, 10), `parse_mode` ("HTML", the default, sends
chat.md's bold, italic, code and links as Telegram markup; "" sends the text as it is).

Address: the chat id (for a private chat, the user's id). Telegram's message ids are unique only
within a chat, so every id this adapter returns or parses is "<chat id>:<message id>".
Texts longer than 4,096 UTF-16 units are sent as several messages (see `_text`); the last one's
id names the message. The Bot API has no idempotency key and no delivery receipts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from navreme.messaging.channels import _http, _text
from navreme.messaging.channels.base import Accepted, DeliveryError, Event, Inbound, Outgoing

TEXT_LIMIT = 4096  # UTF-16 code units, after entity parsing


class TelegramChannel:
    name: ClassVar[str] = "telegram"

    def __init__(
        self,
        token: str,
        secret_token: str | None = None,
        base_url: str = "https://api.telegram.org",
        timeout: float = 10.0,
        parse_mode: str = "HTML",
    ) -> None:
        if not token:
            raise ValueError("telegram: token is required")
        self._send_url = f"{base_url.rstrip('/')}/bot{token}/sendMessage"
        self.secret_token = secret_token or ""
        self.parse_mode = parse_mode
        self._client = httpx.Client(timeout=timeout)
        self._ledger = _http.PartLedger()

    def send(self, message: Outgoing) -> Accepted:
        parts = _text.split(message.text, TEXT_LIMIT, _text.utf16_length)
        reply_to = _message_id_in(message.reply_to, message.address)
        return self._ledger.send(
            str(message.attempt_id),
            parts,
            lambda part: self._send_part(message.address, part, reply_to),
        )

    def _send_part(self, chat_id: str, text: str, reply_to: int | None) -> str:
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "text": _text.telegram_html(text) if self.parse_mode == "HTML" else text,
            "link_preview_options": {"is_disabled": True},
        }
        if self.parse_mode:
            body["parse_mode"] = self.parse_mode
        if reply_to is not None:
            body["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        response = _http.post(self._client, self._send_url, json=body)
        answer = _http.json_object(response)
        if response.status_code == 200 and answer.get("ok") is True:
            result = answer["result"]
            return f"{result['chat']['id']}:{result['message_id']}"
        raise _error(response, answer)

    def close(self) -> None:
        self._client.close()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        given = _http.header(headers, "X-Telegram-Bot-Api-Secret-Token")
        _http.require_same(self.secret_token, given, "X-Telegram-Bot-Api-Secret-Token")

    def parse(self, body: bytes) -> list[Event]:
        update = _http.parse_json_object(body)
        message = update.get("message")
        if not isinstance(message, dict):
            return []  # edited messages, callbacks, member updates: nothing a person sent us
        inbound = _inbound(message)
        return [inbound] if inbound is not None else []


def _message_id_in(reply_to: str | None, chat_id: str) -> int | None:
    """Our "<chat>:<id>" back to Telegram's message id, when it belongs to this chat."""
    if not reply_to:
        return None
    chat, _, message_id = reply_to.rpartition(":")
    return int(message_id) if chat == chat_id and message_id.isdigit() else None


def _error(response: httpx.Response, answer: dict[str, Any]) -> DeliveryError:
    """Telegram's {"ok": false, "error_code", "description", "parameters"} classified."""
    code = answer.get("error_code", response.status_code)
    description = str(answer.get("description", f"HTTP {response.status_code}"))[:200]
    parameters = answer.get("parameters") or {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if code == 429 or response.status_code == 429:
        return DeliveryError(
            f"telegram: {description}",
            retryable=True,
            retry_after=float(retry_after)
            if retry_after is not None
            else _http.retry_after_header(response),
            code="429",
        )
    return _http.status_error(response, f"telegram: {description}", code=str(code))


def _inbound(message: dict[str, Any]) -> Inbound | None:
    text = message.get("text", message.get("caption"))
    chat = message.get("chat") or {}
    if not isinstance(text, str) or "id" not in chat or "message_id" not in message:
        return None  # stickers, photos without a caption, service messages
    chat_id = str(chat["id"])
    sender = message.get("from") or {}
    replied = message.get("reply_to_message") or {}
    return Inbound(
        channel="telegram",
        provider_message_id=f"{chat_id}:{message['message_id']}",
        sender=chat_id,
        text=text,
        received_at=datetime.fromtimestamp(message["date"], UTC) if "date" in message else None,
        sender_name=" ".join(filter(None, (sender.get("first_name"), sender.get("last_name")))),
        in_reply_to=f"{chat_id}:{replied['message_id']}" if "message_id" in replied else None,
    )
