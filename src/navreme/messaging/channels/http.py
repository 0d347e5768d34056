"""A generic HTTP channel: a JSON POST per message to a gateway of the operator's choosing.

Many administrations already run a notification gateway (an SMS aggregator, a national
messaging service, a print house's intake). This adapter speaks a small documented format to
it, so no code is needed to plug one in:

    POST <url>                                  Idempotency-Key: <delivery id>
    X-Navreme-Signature: sha256=<hex HMAC-SHA256 of the body with `secret`>
    {"id": "<delivery id>", "to": "<address>", "subject": "…", "text": "…", "html": null,
     "language": "mk", "format": "standard"}

2xx (or 409 for a key it has seen) accepts; its JSON "id", if any, is the provider id. 429 and
5xx are retryable (Retry-After honoured), other 4xx permanent.

A worker's batch for this channel is handed over concurrently, one request per message over a
pool of `max_connections` keep-alive connections (aiohttp: a third of a synchronous client's
CPU per request, which is what bounds a worker on a busy machine). With `batch_url`, a worker's batch for this channel goes in one request (gateways with a bulk
API): `{"messages": [<the object above>, …]}`, answered `{"results": [{"id": "…"} or
{"error": "…", "retryable": true|false}, …]}` in the same order; the gateway deduplicates by
each message's "id". Receipts and replies come back
to `POST /api/v1/channels/<channel>/webhook` signed the same way:
{"receipts": [{"id": "…", "status": "delivered"}], "inbound": [{"id": "…", "from": "…",
"text": "…"}]}.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp
import httpx

from navreme.messaging.channels.base import (
    Accepted,
    BadSignature,
    DeliveryError,
    Event,
    Inbound,
    Outgoing,
    Receipt,
)

SIGNATURE = "X-Navreme-Signature"
RECEIPT_STATUSES = frozenset({"sent", "delivered", "read", "failed-temporary", "permanent-failure"})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


class HttpChannel:
    """Settings: url (required), secret (HMAC key both ways), timeout seconds, max_connections."""

    name: ClassVar[str] = "http"

    def __init__(  # nosec B107 - an empty secret means unsigned (and webhooks refused)
        self,
        url: str,
        secret: str = "",
        timeout: float = 10.0,
        max_connections: int = 32,
        batch_url: str = "",
    ) -> None:
        self.url = url
        self.secret = secret
        self.batch_url = batch_url
        self.timeout = timeout
        self.max_connections = max_connections
        # A BatchChannel either way: one bulk request where the gateway has a bulk API, else
        # the batch's requests in flight together.
        self.send_many = self._send_many if batch_url else self._send_each
        self.sends_each = not batch_url  # dispatch probes with one request before the rest
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.Client(timeout=timeout, limits=limits)

    def send(self, message: Outgoing) -> Accepted:
        body = json.dumps(_wire(message), ensure_ascii=False).encode()
        response = self._post(self.url, body, str(message.attempt_id))
        if response.status_code < 300 or response.status_code == 409:
            return Accepted(provider_message_id=_id_in(response) or str(message.attempt_id))
        raise _refusal(response.status_code, response.headers)

    def _headers(self, body: bytes, key: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self.secret:
            headers[SIGNATURE] = sign(self.secret, body)
        return headers

    def _send_each(self, messages: list[Outgoing]) -> list[Accepted | DeliveryError]:
        """Every message as its own request (what `send` does), all in flight at once; one
        answer per message, in order. Runs its own event loop: workers are threads."""
        return asyncio.run(self._post_each(messages))

    async def _post_each(self, messages: list[Outgoing]) -> list[Accepted | DeliveryError]:
        connector = aiohttp.TCPConnector(limit=self.max_connections)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            return list(await asyncio.gather(*(self._post_one(client, m) for m in messages)))

    async def _post_one(
        self, client: aiohttp.ClientSession, message: Outgoing
    ) -> Accepted | DeliveryError:
        body = json.dumps(_wire(message), ensure_ascii=False).encode()
        headers = self._headers(body, str(message.attempt_id))
        try:
            async with client.post(self.url, data=body, headers=headers) as response:
                if response.status < 300 or response.status == 409:
                    try:
                        payload: Any = await response.json(content_type=None)
                    except ValueError:
                        payload = None
                    given = payload.get("id") if isinstance(payload, dict) else None
                    return Accepted(provider_message_id=str(given or message.attempt_id))
                return _refusal(response.status, response.headers)
        except TimeoutError:
            return DeliveryError("gateway timed out: TimeoutError", retryable=True)
        except aiohttp.ClientError as down:
            return DeliveryError(f"gateway unreachable: {type(down).__name__}", retryable=True)

    def _post(self, url: str, body: bytes, key: str) -> httpx.Response:
        try:
            return self._client.post(url, content=body, headers=self._headers(body, key))
        except httpx.TimeoutException as slow:
            raise DeliveryError(
                f"gateway timed out: {type(slow).__name__}", retryable=True
            ) from None
        except httpx.TransportError as down:
            raise DeliveryError(
                f"gateway unreachable: {type(down).__name__}", retryable=True
            ) from None

    def _send_many(self, messages: list[Outgoing]) -> list[Accepted | DeliveryError]:
        body = json.dumps({"messages": [_wire(m) for m in messages]}, ensure_ascii=False).encode()
        response = self._post(self.batch_url, body, str(messages[0].attempt_id))
        if response.status_code >= 300:
            raise _refusal(response.status_code, response.headers)
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            raise DeliveryError("gateway answered no results", retryable=True) from None
        if not isinstance(results, list) or len(results) != len(messages):
            raise DeliveryError("gateway answered a different number of results", retryable=True)
        return [_result(m, r) for m, r in zip(messages, results, strict=True)]

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE.lower(), "")
        if not self.secret or not hmac.compare_digest(given, sign(self.secret, body)):
            raise BadSignature("missing or wrong X-Navreme-Signature")

    def parse(self, body: bytes) -> list[Event]:
        try:
            payload = json.loads(body)
        except ValueError:
            return []
        if not isinstance(payload, dict):
            return []
        events: list[Event] = []
        for item in payload.get("receipts") or []:
            if isinstance(item, dict) and item.get("status") in RECEIPT_STATUSES and item.get("id"):
                events.append(Receipt("http", str(item["id"]), item["status"]))
        for item in payload.get("inbound") or []:
            if isinstance(item, dict) and item.get("id") and item.get("from"):
                events.append(
                    Inbound("http", str(item["id"]), str(item["from"]), str(item.get("text", "")))
                )
        return events

    def close(self) -> None:
        self._client.close()


def _refusal(status: int, headers: Mapping[str, str]) -> DeliveryError:
    """429 and 5xx may pass (with the gateway's Retry-After); any other refusal will not."""
    if status == 429 or status >= 500:
        return DeliveryError(f"gateway answered {status}", retryable=True,
                             retry_after=retry_after(headers), code=str(status))  # fmt: skip
    return DeliveryError(f"gateway refused: {status}", retryable=False, code=str(status))


def _wire(message: Outgoing) -> dict[str, Any]:
    return {
        "id": str(message.attempt_id), "to": message.address, "subject": message.subject,
        "text": message.text, "html": message.html, "language": message.language,
        "format": message.format,
    }  # fmt: skip


def _result(message: Outgoing, result: Any) -> Accepted | DeliveryError:
    if isinstance(result, dict) and result.get("id"):
        return Accepted(provider_message_id=str(result["id"]))
    if isinstance(result, dict) and result.get("error"):
        return DeliveryError(str(result["error"])[:200], retryable=bool(result.get("retryable")),
                             code=str(result.get("code") or "gateway"))  # fmt: skip
    return Accepted(provider_message_id=str(message.attempt_id))


def _id_in(response: httpx.Response) -> str | None:
    try:
        payload: Any = response.json()
    except ValueError:
        return None
    value = payload.get("id") if isinstance(payload, dict) else None
    return str(value) if value else None
