"""What the HTTP messenger adapters (Telegram, WhatsApp, Viber, Messenger) share.

One POST that turns transport failures into retryable `DeliveryError`s without leaking the URL
(Telegram's token is in the path, Messenger's in the query); Graph API error objects classified
once for WhatsApp and Messenger; webhook signatures compared in constant time; Meta's GET
handshake; `PartLedger`, which lets a retry resume a message split into parts instead of
sending the parts already accepted a second time; and a filter on httpx's request log, which
would otherwise write the bot token and access tokens into the logs at INFO.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from navreme.messaging.channels.base import Accepted, BadSignature, DeliveryError

# Graph API codes that say "later": throttling (4, 17, 32, 613, 80007, 130429, 131048, 131056),
# temporary service failures (1, 2, 1200, 131000, 131016, 133004). Other codes are about this
# message or this recipient and are permanent, unless unlisted and answered with a 5xx.
GRAPH_RETRYABLE = frozenset(
    {1, 2, 4, 17, 32, 341, 613, 1200, 80007, 130429, 131000, 131016, 131048, 131056, 133004}
)


_SECRETS_IN_URL = re.compile(r"(/bot)[^/\s]+|((?:access_token|appsecret_proof)=)[^&\s\"]+")


class RedactSecrets(logging.Filter):
    """Blanks tokens in logged URLs: /bot<token>/, access_token=…, appsecret_proof=…."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = _SECRETS_IN_URL.sub(lambda m: (m[1] or m[2]) + "[redacted]", str(record.msg))
        return True


_httpx_log = logging.getLogger("httpx")
if not any(isinstance(f, RedactSecrets) for f in _httpx_log.filters):
    _httpx_log.addFilter(RedactSecrets())


def post(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """POST, with timeouts and connection failures raised as retryable `DeliveryError`s."""
    try:
        return client.post(url, **kwargs)
    except httpx.TimeoutException as slow:
        # the exception's text can carry the URL, and with it a token: name the type only
        raise DeliveryError(
            f"provider timed out ({type(slow).__name__})", retryable=True, code="timeout"
        ) from None
    except httpx.TransportError as broken:
        raise DeliveryError(
            f"provider unreachable ({type(broken).__name__})", retryable=True, code="connection"
        ) from None


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} when a proxy answered with HTML or nothing."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A webhook body's JSON object; {} for anything else (already signed, so just ignored)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def retry_after_header(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.strip().isdigit() else None


def status_error(
    response: httpx.Response, message: str, *, code: str | None = None
) -> DeliveryError:
    """Classify by HTTP status alone: 429 and 5xx may work later, the rest will not."""
    status = response.status_code
    return DeliveryError(
        message,
        retryable=status == 429 or status >= 500,
        retry_after=retry_after_header(response),
        code=code or str(status),
    )


def graph_error(response: httpx.Response) -> DeliveryError:
    """A Graph API error object ({"error": {"code", "error_subcode", "message"}}) classified."""
    error = json_object(response).get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        return status_error(response, f"provider answered HTTP {response.status_code}")
    code: int = error["code"]
    subcode = error.get("error_subcode")
    named = f"{code}/{subcode}" if subcode else str(code)
    message = f"graph error {named}: {str(error.get('message', ''))[:200]}"
    status = response.status_code
    retryable = code in GRAPH_RETRYABLE or (code not in _GRAPH_PERMANENT and status >= 500)
    return DeliveryError(
        message, retryable=retryable, retry_after=retry_after_header(response), code=named
    )


# codes that stay permanent even when a proxy in front of Graph answers 5xx with them
_GRAPH_PERMANENT = frozenset({10, 100, 190, 200, 368, 551, 131026, 131047, 131051, 133010})


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever the case of the mapping's keys."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def hmac_sha256_hex(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def require_same(expected: str, given: str | None, what: str) -> None:
    """Raise `BadSignature` unless `given` equals `expected` (constant time; empty never passes)."""
    if not expected:
        raise BadSignature(f"no secret configured to check {what}")
    if given is None or not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise BadSignature(f"{what} missing or wrong")


def verify_meta_signature(app_secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Meta's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, app secret>`."""
    expected = "sha256=" + hmac_sha256_hex(app_secret, body) if app_secret else ""
    require_same(expected, header(headers, "X-Hub-Signature-256"), "X-Hub-Signature-256")


def meta_handshake(verify_token: str, query: Mapping[str, str]) -> str | None:
    """Meta's GET check of a webhook URL: echo hub.challenge when hub.verify_token is ours."""
    if not verify_token or query.get("hub.mode") != "subscribe":
        return None
    given = query.get("hub.verify_token", "")
    if not hmac.compare_digest(verify_token.encode(), given.encode()):
        return None
    return query.get("hub.challenge")


class PartLedger:
    """The provider ids of the parts of each message already accepted, by attempt id.

    None of these four providers takes an idempotency key, so a text split into parts whose
    third part fails would, retried, send the first two again. The ledger lets the retry (same
    attempt id, same process) start at the part that failed. It is bounded: the oldest
    unfinished entries are forgotten first, and a process restart forgets all of them.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._sent: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def send(self, key: str, parts: Sequence[str], send_part: Callable[[str], str]) -> Accepted:
        """Send the parts not yet accepted, in order; the last part's id names the message."""
        done = self._done(key)
        for part in parts[len(done) :]:
            self._record(key, send_part(part))
        with self._lock:
            ids = self._sent.pop(key, [])
        detail = f"{len(ids)} parts: {' '.join(ids)}" if len(ids) > 1 else ""
        return Accepted(provider_message_id=ids[-1] if ids else None, detail=detail)

    def _done(self, key: str) -> list[str]:
        with self._lock:
            return list(self._sent.get(key, []))

    def _record(self, key: str, provider_id: str) -> None:
        with self._lock:
            self._sent.setdefault(key, []).append(provider_id)
            self._sent.move_to_end(key)
            while len(self._sent) > self._capacity:
                self._sent.popitem(last=False)
