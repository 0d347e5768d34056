"""The web push channel: a notification to a browser that subscribed on the portal (RFC 8030).

The address is the browser's PushSubscription as JSON (`endpoint`, `keys.p256dh`, `keys.auth`).
pywebpush encrypts the payload `{"title", "body"}` for that browser (RFC 8291, aes128gcm) and
py_vapid signs the VAPID token that identifies us to the push service (RFC 8292); the request
itself goes out through httpx, with timeouts, like every other HTTP channel.

The attempt id travels as the `Topic` header: a retry replaces a copy of the same message that
the push service still holds instead of queueing a second one.
"""

from __future__ import annotations

import json
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from navreme import clock
from navreme.messaging.channels.base import Accepted, DeliveryError, Outgoing

# Push services must accept 4096 bytes of encrypted payload (RFC 8030 §7.2); the aes128gcm
# header (86 bytes) and tag (17) leave a little more than this for the JSON.
MAX_PAYLOAD_BYTES = 3900
VAPID_LIFETIME_S = 12 * 3600  # RFC 8292 allows at most 24 hours
LOOPBACK = {"127.0.0.1", "localhost"}
GONE = {404, 410}


class WebPushChannel:
    """Sends encrypted web push notifications to browser subscriptions.

    Settings (keys of this channel in NAVREME_CHANNELS):
      vapid_private_key: the application server's P-256 private key, base64url of the raw
        32 bytes (what `vapid --gen` or `web-push generate-vapid-keys` print) or of its DER.
        Its public key is the `applicationServerKey` the portal subscribes browsers with.
      vapid_subject: how the push service reaches us: "mailto:…" or "https://…".
      ttl: seconds the push service keeps a message for an offline browser (default a day).
      timeout: seconds for connecting to and hearing back from the push service.
    Endpoints must be https (plain http only on loopback, for a local push service).
    """

    name: ClassVar[str] = "webpush"

    def __init__(
        self, vapid_private_key: str, vapid_subject: str, ttl: int = 86400, timeout: float = 10.0
    ) -> None:
        if not vapid_subject.startswith(("mailto:", "https://")):
            raise ValueError("vapid_subject must be a mailto: or https:// URI")
        if ttl < 0:
            raise ValueError("ttl must not be negative")
        self.vapid = Vapid.from_string(private_key=vapid_private_key)
        self.vapid_subject = vapid_subject
        self.ttl = ttl
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, message: Outgoing) -> Accepted:
        subscription = _subscription(message.address)
        endpoint = subscription["endpoint"]
        body = _encrypt(subscription, _payload(message.subject, message.text))
        headers = {
            "TTL": str(self.ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Topic": message.attempt_id.hex,  # 32 characters, the most RFC 8030 allows
            "Urgency": "normal",
            **self._authorization(endpoint),
        }
        try:
            answer = self._http.post(endpoint, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError("push service timed out", retryable=True, code="timeout") from None
        except httpx.TransportError as failed:
            raise DeliveryError(
                f"push service unreachable: {type(failed).__name__}", retryable=True, code="network"
            ) from None
        return _accepted(answer, message)

    def close(self) -> None:
        self._http.close()

    def _authorization(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(clock.now().timestamp()) + VAPID_LIFETIME_S,
            "sub": self.vapid_subject,
        }
        return dict(self.vapid.sign(claims))


def _subscription(address: str) -> dict[str, Any]:
    """The browser's PushSubscription, refused when it cannot be a real one."""
    try:
        subscription = json.loads(address)
        endpoint = urlsplit(subscription["endpoint"])
        keys = subscription["keys"]
        usable = bool(keys["p256dh"]) and bool(keys["auth"])
    except (ValueError, TypeError, KeyError, AttributeError):
        usable, endpoint = False, urlsplit("")
    secure = endpoint.scheme == "https" or (
        endpoint.scheme == "http" and endpoint.hostname in LOOPBACK
    )
    if not (usable and secure and endpoint.hostname):
        raise DeliveryError("not a usable push subscription", retryable=False, code="bad-address")
    return dict(subscription)


def _payload(title: str, body: str) -> bytes:
    """`{"title", "body"}` as UTF-8 JSON, the body shortened to fit one push message."""
    payload = _json(title, body)
    budget = len(body.encode())
    while len(payload) > MAX_PAYLOAD_BYTES and budget > 0:
        budget -= len(payload) - MAX_PAYLOAD_BYTES  # bytes, as JSON escapes may add some
        shortened = body.encode()[: max(budget, 0)].decode(errors="ignore")
        payload = _json(title, shortened + "…")
    return payload


def _json(title: str, body: str) -> bytes:
    return json.dumps({"title": title, "body": body}, ensure_ascii=False).encode()


def _encrypt(subscription: dict[str, Any], payload: bytes) -> bytes:
    try:
        encoded = WebPusher(subscription).encode(payload, content_encoding="aes128gcm")
    except (WebPushException, ValueError, TypeError, IndexError):  # binascii.Error is a ValueError
        raise DeliveryError(
            "the subscription's keys are not valid", retryable=False, code="bad-address"
        ) from None
    return bytes(encoded["body"])


def _accepted(answer: httpx.Response, message: Outgoing) -> Accepted:
    status = answer.status_code
    if status < 300:
        location = answer.headers.get("Location")
        return Accepted(provider_message_id=location or f"webpush:{message.attempt_id}")
    if status in GONE:
        raise DeliveryError("subscription expired or unsubscribed", retryable=False, code="gone")
    if status == 429:
        raise DeliveryError(
            "push service rate limit",
            retryable=True,
            retry_after=_retry_after(answer.headers.get("Retry-After")),
            code="429",
        )
    retryable = status >= 500
    raise DeliveryError(f"push service answered {status}", retryable=retryable, code=str(status))


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from either of its forms (delay-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" in the date: UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())
