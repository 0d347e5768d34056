"""Provider webhooks: `POST /api/v1/channels/{channel}/webhook` (and the GET handshake).

The channel's configured adapter checks the signature first; a request that does not verify is
answered 401 and nothing is written. The adapter parses the body into inbound messages and
receipts, `inbound.receive` records them in this request's transaction, and the provider gets
its 200 at once (replays are no-ops, so the provider's own retries are safe).

Outside production the fake adapter takes webhooks too, in Navreme's own format, so the demo
and tests can answer messages without a provider (`FakeWebhooks`):

    POST /api/v1/channels/sms/webhook
    X-Navreme-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with NAVREME_SECRET_KEY>
    {"inbound":  [{"id": "m-1", "from": "+38970123456", "text": "ДА", "at": "…ISO 8601…"}],
     "receipts": [{"id": "fake-…", "status": "delivered", "at": "…", "error_code": null}]}
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from navreme.config import Settings, get_settings
from navreme.db import session_scope
from navreme.messaging.actions import channels
from navreme.messaging.channels.base import (
    BadSignature,
    Event,
    Handshake,
    Inbound,
    Receipt,
    Webhooks,
    as_channel,
)
from navreme.messaging.channels.fake import FakeChannel
from navreme.messaging.channels.registry import ChannelNotConfigured
from navreme.messaging.inbound import receive
from navreme.registry.models import CHANNELS
from navreme.registry.schemas import error_responses
from navreme.web.errors import ApiError

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])

MAX_WEBHOOK_BYTES = 256 * 1024  # providers send kilobytes; anything bigger is not a webhook
SIGNATURE_HEADER = "x-navreme-signature"
RECEIPT_STATUSES = frozenset({"sent", "delivered", "read", "failed-temporary", "permanent-failure"})


def fake_signature(secret: str, body: bytes) -> str:
    """The header value `FakeWebhooks` expects for `body` (tests and the demo sign with it)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else None


class FakeWebhooks:
    """Webhooks for the development channel: Navreme's JSON format, HMAC-signed (see above)."""

    def __init__(self, channel: str, secret: str) -> None:
        self.channel, self._secret = channel, secret

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        sent = headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(sent.encode(), fake_signature(self._secret, body).encode()):
            raise BadSignature("fake webhook signature does not match")

    def parse(self, body: bytes) -> list[Event]:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("a fake webhook body is a JSON object")
        events: list[Event] = [self._inbound(item) for item in document.get("inbound", [])]
        events += [self._receipt(item) for item in document.get("receipts", [])]
        return events

    def _inbound(self, item: dict[str, Any]) -> Inbound:
        return Inbound(
            channel=self.channel, provider_message_id=str(item["id"]), sender=str(item["from"]),
            text=str(item.get("text", "")), received_at=_instant(item.get("at")),
        )  # fmt: skip

    def _receipt(self, item: dict[str, Any]) -> Receipt:
        status = str(item["status"])
        if status not in RECEIPT_STATUSES:
            raise ValueError(f"unknown receipt status {status!r}")
        return Receipt(
            channel=self.channel, provider_message_id=str(item["id"]),
            status=status,  # type: ignore[arg-type]
            at=_instant(item.get("at")), error_code=item.get("error_code"),
        )  # fmt: skip


def _not_here(channel: str) -> ApiError:
    return ApiError(404, "not_found", f"No webhook for channel {channel!r} here.")


def _adapter(settings: Settings, channel: str) -> object:
    if channel not in CHANNELS and channel not in settings.channels:
        raise _not_here(channel)
    try:
        return channels().get(channel)
    except ChannelNotConfigured:
        raise _not_here(channel) from None


def webhooks_for(channel: str) -> Webhooks:
    settings = get_settings()
    adapter = _adapter(settings, channel)
    if isinstance(adapter, Webhooks):
        return adapter
    if isinstance(adapter, FakeChannel) and settings.env != "production":
        return FakeWebhooks(channel, settings.secret_key)
    raise _not_here(channel)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise _too_large()
    return bytes(body)


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"Webhooks are limited to {MAX_WEBHOOK_BYTES} bytes.")


@router.post("/{channel}/webhook", responses=error_responses(400, 401, 404, 413))
async def webhook(channel: str, request: Request) -> dict[str, int]:
    """A provider's webhook: verified, parsed, recorded once, answered at once."""
    hooks = webhooks_for(channel)
    body = await _body(request)
    try:
        hooks.verify(request.headers, body)
    except BadSignature:
        raise ApiError(401, "bad_signature", "The webhook signature does not verify.") from None
    try:
        events = as_channel(hooks.parse(body), channel)
    except (ValueError, KeyError, TypeError):
        raise ApiError(
            400, "bad_request", "The webhook body is not in the expected form."
        ) from None
    received = await run_in_threadpool(_record, events)
    return {"received": received, "events": len(events)}


def _record(events: list[Event]) -> int:
    """Record the events in one transaction (in a worker thread: the database blocks)."""
    with session_scope() as session:
        return sum(not r.duplicate for r in receive(session, events))


# The handshake answers text, its refusals the JSON error envelope.
ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


@router.get(
    "/{channel}/webhook",
    response_class=PlainTextResponse,
    responses={403: {"description": "Refused", "content": ENVELOPE},
               404: {"description": "No such channel", "content": ENVELOPE}},
)  # fmt: skip
def handshake(channel: str, request: Request) -> PlainTextResponse:
    """The provider's URL check (WhatsApp, Messenger): its challenge back, or 403."""
    adapter = _adapter(get_settings(), channel)
    if not isinstance(adapter, Handshake):
        raise _not_here(channel)
    answer = adapter.handshake(dict(request.query_params))
    if answer is None:
        raise ApiError(403, "forbidden", "The handshake was refused.")
    return PlainTextResponse(answer)
