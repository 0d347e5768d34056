"""Viber: text messages through the REST Bot API's send_message, replies and receipts by webhook.

Settings (keyword arguments): `auth_token` (the bot's token, sent as X-Viber-Auth-Token and
the key of the webhooks' X-Viber-Content-Signature; required), `sender_name` (shown as the
sender, at most 28 characters; required by Viber), `sender_avatar` (an image URL, optional),
`base_url` (https://chatapi.viber.com), `timeout` (seconds, 10).

Address: the Viber user id the person's first message or subscription gave us. Viber answers
HTTP 200 with a "status" in the body: 0 is success, 12 (tooManyRequests) and any code Viber has
not documented are retryable, the documented rest (5 not registered, 6 not subscribed, 7
blocked, …) are permanent. Texts over 7,000 characters are sent as several messages. The
attempt id rides along as `tracking_data`; Viber has no idempotency key. Webhook events:
"message" → `Inbound`, "delivered"/"seen"/"failed" → `Receipt` (seen is read); subscribed,
unsubscribed, conversation_started and webhook are neither and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from navreme.messaging.channels import _http, _text
from navreme.messaging.channels.base import (
    Accepted,
    DeliveryError,
    Event,
    Inbound,
    Outgoing,
    Receipt,
    ReceiptStatus,
)

TEXT_LIMIT = 7000
SENDER_NAME_LIMIT = 28

# Viber's documented status codes, 1-24. Only 12 may pass with time; unlisted ones are
# "general error" and are tried again.
STATUS_NAMES = {
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    9: "publicAccountSuspended",
    10: "webhookNotSet",
    11: "receiverNoSuitableDevice",
    12: "tooManyRequests",
    13: "apiVersionNotSupported",
    14: "incompatibleWithVersion",
    15: "publicAccountNotAuthorized",
    16: "inchatReplyMessageNotAllowed",
    17: "publicAccountIsNotInline",
    18: "noPublicChat",
    19: "cannotSendBroadcast",
    20: "broadcastNotAllowed",
    21: "unsupportedCountry",
    22: "paymentUnsupported",
    23: "freeMessagesExceeded",
    24: "noBalance",
}
_RECEIPTS: dict[str, ReceiptStatus] = {
    "delivered": "delivered",
    "seen": "read",
    "failed": "permanent-failure",
}


class ViberChannel:
    name: ClassVar[str] = "viber"

    def __init__(
        self,
        auth_token: str,
        sender_name: str,
        sender_avatar: str | None = None,
        base_url: str = "https://chatapi.viber.com",
        timeout: float = 10.0,
    ) -> None:
        if not auth_token or not sender_name:
            raise ValueError("viber: auth_token and sender_name are required")
        self.auth_token = auth_token
        self._sender: dict[str, str] = {"name": sender_name[:SENDER_NAME_LIMIT]}
        if sender_avatar:
            self._sender["avatar"] = sender_avatar
        self._url = f"{base_url.rstrip('/')}/pa/send_message"
        self._client = httpx.Client(timeout=timeout, headers={"X-Viber-Auth-Token": auth_token})
        self._ledger = _http.PartLedger()

    def send(self, message: Outgoing) -> Accepted:
        parts = _text.split(_text.plain(message.text), TEXT_LIMIT)
        return self._ledger.send(
            str(message.attempt_id), parts, lambda part: self._send_part(message, part)
        )

    def _send_part(self, message: Outgoing, text: str) -> str:
        body = {
            "receiver": message.address,
            "min_api_version": 1,
            "sender": self._sender,
            "tracking_data": str(message.attempt_id),
            "type": "text",
            "text": text,
        }
        response = _http.post(self._client, self._url, json=body)
        answer = _http.json_object(response)
        if response.status_code != 200 or "status" not in answer:
            raise _http.status_error(response, f"viber: HTTP {response.status_code}")
        if answer["status"] == 0 and "message_token" in answer:
            return str(answer["message_token"])
        raise _status_error(answer)

    def close(self) -> None:
        self._client.close()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = _http.hmac_sha256_hex(self.auth_token, body)
        _http.require_same(
            expected,
            _http.header(headers, "X-Viber-Content-Signature"),
            "X-Viber-Content-Signature",
        )

    def parse(self, body: bytes) -> list[Event]:
        callback = _http.parse_json_object(body)
        event = callback.get("event")
        if event == "message":
            inbound = _inbound(callback)
            return [inbound] if inbound is not None else []
        if event in _RECEIPTS and "message_token" in callback:
            return [_receipt(callback)]
        return []


def _status_error(answer: dict[str, Any]) -> DeliveryError:
    status = answer["status"]
    name = STATUS_NAMES.get(status, str(answer.get("status_message", "generalError")))
    retryable = status == 12 or status not in STATUS_NAMES
    return DeliveryError(f"viber: status {status} {name}", retryable=retryable, code=str(status))


def _at(timestamp: Any) -> datetime | None:
    return datetime.fromtimestamp(timestamp / 1000, UTC) if isinstance(timestamp, int) else None


def _inbound(callback: dict[str, Any]) -> Inbound | None:
    message = callback.get("message") or {}
    sender = callback.get("sender") or {}
    text = message.get("text")
    if message.get("type") != "text" or not isinstance(text, str) or "id" not in sender:
        return None  # pictures, stickers, locations: nothing to read
    return Inbound(
        channel="viber",
        provider_message_id=str(callback["message_token"]),
        sender=str(sender["id"]),
        text=text,
        received_at=_at(callback.get("timestamp")),
        sender_name=str(sender.get("name", "")),
    )


def _receipt(callback: dict[str, Any]) -> Receipt:
    failed = callback["event"] == "failed"
    return Receipt(
        channel="viber",
        provider_message_id=str(callback["message_token"]),
        status=_RECEIPTS[callback["event"]],
        at=_at(callback.get("timestamp")),
        error_code=str(callback.get("desc", "failed"))[:100] if failed else None,
    )
