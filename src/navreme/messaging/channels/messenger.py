"""Facebook Messenger: texts through the Send API (/me/messages), replies and receipts by webhook.

Settings (keyword arguments): `page_access_token` (the Page's token, sent as access_token;
required), `app_secret` (checks X-Hub-Signature-256 on webhooks and, when set, signs each call
with appsecret_proof; with none configured every webhook is refused), `verify_token` (what the
webhook GET handshake must present), `base_url` (https://graph.facebook.com), `api_version`
("v21.0"), `messaging_type` ("UPDATE"; "RESPONSE" inside the 24-hour window, "MESSAGE_TAG"
outside it), `tag` (with MESSAGE_TAG, e.g. "ACCOUNT_UPDATE" or "CONFIRMED_EVENT_UPDATE"),
`timeout` (seconds, 10).

Address: the person's page-scoped id (PSID). Texts over 2,000 characters are sent as several
messages. The attempt id rides along as the message's `metadata`; the Send API has no
idempotency key. Webhooks: a text message → `Inbound` (echoes of our own messages ignored);
a delivery → a "delivered" `Receipt` for each mid in `delivery.mids` (older clients send only a
watermark, which names no message, and give none); a read → ONE "read" `Receipt` whose
provider_message_id is "watermark:<psid>:<watermark ms>", meaning "every message to this PSID
sent at or before that instant was read": the dispatcher, which knows when it sent what,
applies it to those messages.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from navreme.messaging.channels import _http, _text
from navreme.messaging.channels.base import Accepted, Event, Inbound, Outgoing, Receipt

TEXT_LIMIT = 2000
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")


class MessengerChannel:
    name: ClassVar[str] = "messenger"

    def __init__(
        self,
        page_access_token: str,
        app_secret: str | None = None,
        verify_token: str | None = None,
        base_url: str = "https://graph.facebook.com",
        api_version: str = "v21.0",
        messaging_type: str = "UPDATE",
        tag: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not page_access_token:
            raise ValueError("messenger: page_access_token is required")
        if messaging_type not in MESSAGING_TYPES or (messaging_type == "MESSAGE_TAG") != bool(tag):
            raise ValueError(
                "messenger: messaging_type is RESPONSE, UPDATE, or MESSAGE_TAG with a tag"
            )
        self.app_secret = app_secret or ""
        self.verify_token = verify_token or ""
        self.messaging_type = messaging_type
        self.tag = tag
        self._url = f"{base_url.rstrip('/')}/{api_version}/me/messages"
        self._auth = {"access_token": page_access_token}
        if app_secret:
            proof = hmac.new(
                app_secret.encode(), page_access_token.encode(), hashlib.sha256
            ).hexdigest()
            self._auth["appsecret_proof"] = proof
        self._client = httpx.Client(timeout=timeout)
        self._ledger = _http.PartLedger()

    def send(self, message: Outgoing) -> Accepted:
        parts = _text.split(_text.plain(message.text), TEXT_LIMIT)
        return self._ledger.send(
            str(message.attempt_id), parts, lambda part: self._send_part(message, part)
        )

    def _send_part(self, message: Outgoing, text: str) -> str:
        body: dict[str, Any] = {
            "recipient": {"id": message.address},
            "messaging_type": self.messaging_type,
            "message": {"text": text, "metadata": str(message.attempt_id)},
        }
        if self.tag:
            body["tag"] = self.tag
        response = _http.post(self._client, self._url, params=self._auth, json=body)
        if response.status_code == 200:
            message_id = _http.json_object(response).get("message_id")
            if message_id:
                return str(message_id)
        raise _http.graph_error(response)

    def close(self) -> None:
        self._client.close()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        _http.verify_meta_signature(self.app_secret, headers, body)

    def handshake(self, query: Mapping[str, str]) -> str | None:
        return _http.meta_handshake(self.verify_token, query)

    def parse(self, body: bytes) -> list[Event]:
        payload = _http.parse_json_object(body)
        if payload.get("object") != "page":
            return []
        events: list[Event] = []
        for entry in payload.get("entry") or []:
            for messaging in entry.get("messaging") or []:
                events += _events(messaging)
        return events


def _at(milliseconds: Any) -> datetime | None:
    return (
        datetime.fromtimestamp(milliseconds / 1000, UTC) if isinstance(milliseconds, int) else None
    )


def _events(messaging: dict[str, Any]) -> list[Event]:
    psid = str((messaging.get("sender") or {}).get("id", ""))
    if "message" in messaging:
        inbound = _inbound(messaging, psid)
        return [inbound] if inbound is not None else []
    if "delivery" in messaging:
        delivery = messaging["delivery"] or {}
        at = _at(delivery.get("watermark"))
        mids = delivery.get("mids") or []
        return [
            Receipt(channel="messenger", provider_message_id=str(m), status="delivered", at=at)
            for m in mids
        ]
    if "read" in messaging:
        watermark = (messaging["read"] or {}).get("watermark")
        if isinstance(watermark, int):
            return [
                Receipt(
                    channel="messenger",
                    provider_message_id=f"watermark:{psid}:{watermark}",
                    status="read",
                    at=_at(watermark),
                )
            ]
    return []


def _inbound(messaging: dict[str, Any], psid: str) -> Inbound | None:
    message = messaging["message"] or {}
    text = message.get("text")
    if message.get("is_echo") or not isinstance(text, str) or not message.get("mid"):
        return None  # our own messages echoed back, attachments, reactions
    return Inbound(
        channel="messenger",
        provider_message_id=str(message["mid"]),
        sender=psid,
        text=text,
        received_at=_at(messaging.get("timestamp")),
        in_reply_to=(message.get("reply_to") or {}).get("mid"),
    )
