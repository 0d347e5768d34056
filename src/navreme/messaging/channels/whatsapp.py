"""WhatsApp Business (Cloud API): text messages out, replies and status receipts in.

Settings (keyword arguments): `access_token` (a system-user token, sent as a Bearer token;
required), `phone_number_id` (the business number's id in the Cloud API; required),
`app_secret` (checks X-Hub-Signature-256 on webhooks; with none configured every webhook is
refused), `verify_token` (what the webhook GET handshake must present), `base_url`
(https://graph.facebook.com), `api_version` ("v21.0"), `timeout` (seconds, 10).

Address: the person's WhatsApp id, their number in E.164 digits without "+" ("38970123456");
a leading "+" is dropped. Free-form text reaches only people who wrote to us in the last 24
hours; otherwise Meta refuses with 131047, a permanent error here (the fallback ladder picks
another channel). Texts over 4,096 characters are sent as several messages (see `_text`).
The attempt id rides along as `biz_opaque_callback_data`, which Meta echoes in status
webhooks; the Cloud API has no idempotency key. Webhooks for other phone numbers of the same
app are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from navreme.messaging.channels import _http, _text
from navreme.messaging.channels.base import (
    Accepted,
    Event,
    Inbound,
    Outgoing,
    Receipt,
    ReceiptStatus,
)

TEXT_LIMIT = 4096
_STATUSES: dict[str, ReceiptStatus] = {"sent": "sent", "delivered": "delivered", "read": "read"}


class WhatsAppChannel:
    name: ClassVar[str] = "whatsapp"

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        app_secret: str | None = None,
        verify_token: str | None = None,
        base_url: str = "https://graph.facebook.com",
        api_version: str = "v21.0",
        timeout: float = 10.0,
    ) -> None:
        if not access_token or not phone_number_id:
            raise ValueError("whatsapp: access_token and phone_number_id are required")
        self.phone_number_id = str(phone_number_id)
        self._url = f"{base_url.rstrip('/')}/{api_version}/{self.phone_number_id}/messages"
        self.app_secret = app_secret or ""
        self.verify_token = verify_token or ""
        self._client = httpx.Client(
            timeout=timeout, headers={"Authorization": f"Bearer {access_token}"}
        )
        self._ledger = _http.PartLedger()

    def send(self, message: Outgoing) -> Accepted:
        parts = _text.split(_text.whatsapp(message.text), TEXT_LIMIT)
        return self._ledger.send(
            str(message.attempt_id), parts, lambda part: self._send_part(message, part)
        )

    def _send_part(self, message: Outgoing, text: str) -> str:
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.address.removeprefix("+"),
            "type": "text",
            "text": {"preview_url": False, "body": text},
            "biz_opaque_callback_data": str(message.attempt_id),
        }
        if message.reply_to:
            body["context"] = {"message_id": message.reply_to}
        response = _http.post(self._client, self._url, json=body)
        if response.status_code == 200:
            messages = _http.json_object(response).get("messages") or [{}]
            if isinstance(messages[0], dict) and messages[0].get("id"):
                return str(messages[0]["id"])
        raise _http.graph_error(response)

    def close(self) -> None:
        self._client.close()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        _http.verify_meta_signature(self.app_secret, headers, body)

    def handshake(self, query: Mapping[str, str]) -> str | None:
        return _http.meta_handshake(self.verify_token, query)

    def parse(self, body: bytes) -> list[Event]:
        payload = _http.parse_json_object(body)
        if payload.get("object") != "whatsapp_business_account":
            return []
        events: list[Event] = []
        for value in _values(payload, self.phone_number_id):
            names = _contact_names(value)
            events += [e for e in (_inbound(m, names) for m in value.get("messages") or []) if e]
            events += [r for r in (_receipt(s) for s in value.get("statuses") or []) if r]
        return events


def _values(payload: dict[str, Any], phone_number_id: str) -> list[dict[str, Any]]:
    """The `messages` change values addressed to our phone number."""
    values = []
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            if change.get("field") != "messages":
                continue
            if (
                str((value.get("metadata") or {}).get("phone_number_id", phone_number_id))
                == phone_number_id
            ):
                values.append(value)
    return values


def _contact_names(value: dict[str, Any]) -> dict[str, str]:
    return {
        str(contact.get("wa_id")): str((contact.get("profile") or {}).get("name", ""))
        for contact in value.get("contacts") or []
    }


def _at(timestamp: Any) -> datetime | None:
    return datetime.fromtimestamp(int(timestamp), UTC) if str(timestamp).isdigit() else None


def _inbound(message: dict[str, Any], names: dict[str, str]) -> Inbound | None:
    kind = message.get("type")
    if kind == "text":
        text = (message.get("text") or {}).get("body")
    elif kind == "button":
        text = (message.get("button") or {}).get("text")
    else:
        return None  # media, reactions, locations: not a text we can act on
    if not isinstance(text, str) or not message.get("id"):
        return None
    sender = str(message.get("from", ""))
    return Inbound(
        channel="whatsapp",
        provider_message_id=str(message["id"]),
        sender=sender,
        text=text,
        received_at=_at(message.get("timestamp")),
        sender_name=names.get(sender, ""),
        in_reply_to=(message.get("context") or {}).get("id"),
    )


def _receipt(status: dict[str, Any]) -> Receipt | None:
    state = status.get("status")
    if not status.get("id") or state not in (*_STATUSES, "failed"):
        return None
    errors = status.get("errors") or [{}]
    code = errors[0].get("code") if isinstance(errors[0], dict) else None
    if state == "failed":
        temporary = isinstance(code, int) and code in _http.GRAPH_RETRYABLE
        final: ReceiptStatus = "failed-temporary" if temporary else "permanent-failure"
    else:
        final = _STATUSES[state]
    return Receipt(
        channel="whatsapp",
        provider_message_id=str(status["id"]),
        status=final,
        at=_at(status.get("timestamp")),
        error_code=str(code) if code is not None else None,
    )
