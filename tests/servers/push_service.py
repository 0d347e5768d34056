"""A loopback Web Push service (RFC 8030) that checks what a real one checks, and decrypts.

It plays both ends a browser's push service would: `subscribe()` makes a browser's key pair and
auth secret (as `PushManager.subscribe` does, bound to our application server key), and each
POST to a subscription's endpoint is checked like a push service does it:

- `Authorization: vapid t=<JWT>,k=<key>` (RFC 8292): k must be the application server key the
  subscription was made with (else 403), the JWT's ES256 signature must verify with k, its aud
  must be this service's origin, exp in the future and at most 24 hours ahead, sub a mailto: or
  https: URI (else 401);
- a TTL header (else 400) and `Content-Encoding: aes128gcm` (else 415);
- the body is decrypted (RFC 8291) with the subscription's private key; what fails to decrypt
  is refused (400).

A delivered message is kept in `received` and answered 201 with a Location. Tests can make it
answer 410/429/500 next (`answer_next`), or stall past a client's timeout (`stall_next`).
It is real HTTP on 127.0.0.1 with a free port, served by a thread; `GET /` answers 200 once it
is up, and `stop()` ends it.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_EXP_AHEAD_S = 24 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def new_vapid_key() -> tuple[str, str]:
    """An application server key pair: (private as base64url raw 32 bytes, public base64url)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return b64url(private), b64url(raw_public(key))


@dataclass
class Subscriber:
    """One browser's subscription: what the browser keeps secret and what it hands the portal."""

    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    server_key: str  # the applicationServerKey it was subscribed with (base64url)


@dataclass(frozen=True)
class Delivered:
    subscription_id: str
    headers: dict[str, str]
    plaintext: bytes
    claims: dict[str, Any]

    def json(self) -> Any:
        return json.loads(self.plaintext)


@dataclass
class PushService:
    """The service; start with `start()`, stop with `stop()` (the fixture does both)."""

    host: str = "127.0.0.1"
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    received: list[Delivered] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, why)
    _scripted: queue.Queue[tuple[int, dict[str, str]]] = field(default_factory=queue.Queue)
    _stall: queue.Queue[float] = field(default_factory=queue.Queue)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("push service not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> PushService:
        self._server = ThreadingHTTPServer((self.host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def subscribe(self, server_key: str) -> dict[str, Any]:
        """A new browser subscription bound to `server_key`, as the browser's JSON gives it."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        subscriber = Subscriber(b64url(os.urandom(12)), private_key, os.urandom(16), server_key)
        self.subscribers[subscriber.id] = subscriber
        return {
            "endpoint": f"{self.origin}/push/{subscriber.id}",
            "expirationTime": None,
            "keys": {"p256dh": b64url(raw_public(private_key)), "auth": b64url(subscriber.auth)},
        }

    def answer_next(self, status: int, headers: dict[str, str] | None = None) -> None:
        """The next push request is answered `status` (after its checks pass)."""
        self._scripted.put((status, headers or {}))

    def stall_next(self, seconds: float) -> None:
        """The next push request waits this long before being answered."""
        self._stall.put(seconds)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        """Check one push request; (status, response headers)."""
        self._wait_if_told()
        subscriber = self.subscribers.get(path.removeprefix("/push/"))
        if not path.startswith("/push/") or subscriber is None:
            return self._refuse(404, "no such subscription")
        try:
            claims = self._check_vapid(headers.get("authorization", ""), subscriber)
        except _Refused as refused:
            return self._refuse(refused.status, refused.why)
        if "ttl" not in headers:
            return self._refuse(400, "no TTL header")
        if headers.get("content-encoding") != "aes128gcm":
            return self._refuse(415, "content encoding is not aes128gcm")
        try:
            plaintext = http_ece.decrypt(
                body,
                private_key=subscriber.private_key,
                auth_secret=subscriber.auth,
                version="aes128gcm",
            )
        except Exception as cannot:  # http_ece raises several kinds on a bad body
            return self._refuse(400, f"cannot decrypt: {type(cannot).__name__}")
        return self._deliver(Delivered(subscriber.id, headers, plaintext, claims))

    def _deliver(self, delivered: Delivered) -> tuple[int, dict[str, str]]:
        try:
            status, extra = self._scripted.get_nowait()
        except queue.Empty:
            status, extra = 201, {}
        if status != 201:
            return status, extra
        with self._lock:
            self.received.append(delivered)
            number = next(self._ids)
        return 201, {"Location": f"{self.origin}/message/{number}", **extra}

    def _check_vapid(self, authorization: str, subscriber: Subscriber) -> dict[str, Any]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise _Refused(401, "no vapid authorization")
        fields = dict(part.strip().split("=", 1) for part in params.split(",") if "=" in part)
        if fields.get("k") != subscriber.server_key:
            raise _Refused(403, "key is not the subscription's application server key")
        return _verified_claims(fields.get("t", ""), fields["k"], self.origin)

    def _wait_if_told(self) -> None:
        try:
            time.sleep(self._stall.get_nowait())
        except queue.Empty:
            return

    def _refuse(self, status: int, why: str) -> tuple[int, dict[str, str]]:
        with self._lock:
            self.refused.append((status, why))
        return status, {}


class _Refused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status, self.why = status, why


def _verified_claims(token: str, key: str, origin: str) -> dict[str, Any]:
    """The JWT's claims, once its ES256 signature and aud/exp/sub have been checked."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(unb64url(header_b64))
        claims = json.loads(unb64url(claims_b64))
        signature = unb64url(signature_b64)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    except ValueError as malformed:
        raise _Refused(401, f"malformed token: {malformed}") from None
    if header.get("alg") != "ES256" or len(signature) != 64:
        raise _Refused(401, "token is not ES256")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public.verify(
            encode_dss_signature(r, s),
            f"{header_b64}.{claims_b64}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        raise _Refused(401, "bad signature") from None
    _check_claims(claims, origin)
    return dict(claims)


def _check_claims(claims: dict[str, Any], origin: str) -> None:
    now = time.time()
    if claims.get("aud") != origin:
        raise _Refused(401, "aud is not this push service")
    if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + MAX_EXP_AHEAD_S:
        raise _Refused(401, "exp missing, past, or more than 24 hours ahead")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise _Refused(401, "sub is not a mailto: or https: URI")


def _handler_for(service: PushService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200 if self.path == "/" else 404)  # "/": the readiness probe
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra = service.handle(self.path, headers, body)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None  # quiet: pytest shows the service's refusals instead

    return Handler
