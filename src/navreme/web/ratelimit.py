"""Request rate limits (T11): counted in memory (embedded) or in Redis, shared by every process.

Classes, set as data in `settings.rate_limits`: `api` for every /api/ and /open311/ request
per client; `login`, `otp_request` (+ `_address`) and `otp_verify` at the sign-in call sites. The
moving window of the `limits` library never admits more than the limit in any window, and
tells when the oldest hit leaves it: that is the Retry-After (ADR 0012).

When Redis cannot be reached, sign-in fails closed (503): a one-time code or a password try
that nobody counts is what an attacker waits for. The general API limit fails open, with a
warning at most once a minute: it protects capacity, and refusing every request because the
counter is down would turn a Redis outage into a full outage.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import RedisStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from navreme.config import Settings
from navreme.web.deps import SESSION_COOKIE
from navreme.web.errors import ApiError, envelope, wants_json

log = logging.getLogger("navreme.web.ratelimit")

FAILS_CLOSED = frozenset({"login", "otp_request", "otp_request_address", "otp_verify"})
LIMITED_PREFIXES = ("/api/", "/open311/")
UNREACHABLE_RETRY_SECONDS = 10
WARN_EVERY_SECONDS = 60.0
REDIS_TIMEOUT_SECONDS = 0.5  # a request waits this long at most for an unreachable Redis


class RateLimited(ApiError):
    """429 (over the limit) or 503 (the shared counter is unreachable), with Retry-After."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int) -> None:
        super().__init__(status, code, message, {"retry_after": retry_after})
        self.retry_after = retry_after


def close_storage(storage: Storage | None) -> None:
    """Hand back a Redis store's connections (memory has none)."""
    if isinstance(storage, RedisStorage):
        storage.get_connection().close()


def storage_for(settings: Settings) -> Storage:
    """Redis when the scaled mode has one (short timeouts: never hang a request); else memory."""
    url = settings.resolved_redis_url
    if not url:
        return storage_from_string("memory://")
    url = "redis+unix://" + url.removeprefix("unix://") if url.startswith("unix://") else url
    return storage_from_string(
        url, key_prefix="navreme-limits", wrap_exceptions=True,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS,
    )  # fmt: skip


class Limiter:
    """Counts hits per class and hashed identifier; raises RateLimited when one is over."""

    def __init__(self, settings: Settings) -> None:
        self._items: dict[str, RateLimitItem] = {
            name: parse(limit) for name, limit in settings.rate_limits.items() if limit
        }
        self.storage = storage_for(settings) if self._items else None  # all off: nothing to count
        self.shared = bool(settings.resolved_redis_url)
        self._window = MovingWindowRateLimiter(self.storage) if self.storage else None
        self._secret = settings.secret_key.encode()
        self._warned_at = -math.inf
        self._warn_lock = threading.Lock()

    def check(self, name: str, *identifiers: str) -> None:
        """One hit for each identifier (e.g. the personal number, then the address)."""
        item = self._items.get(name)
        if item is None or self._window is None:
            return
        for identifier in identifiers:
            key = self.key(name, identifier)
            try:
                if not self._window.hit(item, key):
                    raise self._over(item, key)
            except StorageError as unreachable:
                self._unreachable(name, unreachable)

    def key(self, name: str, identifier: str) -> str:
        """Keyed hash: Redis never holds a personal number, a token or an address."""
        message = f"{name}\0{identifier}".encode()
        return name + ":" + hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def close(self) -> None:
        close_storage(self.storage)

    def _over(self, item: RateLimitItem, key: str) -> RateLimited:
        if self._window is None:
            raise RuntimeError("no limits: nothing to be over")
        reset_at = self._window.get_window_stats(item, key).reset_time
        # limits stamps hits with time.time(); the wait is measured on the same clock
        wait = max(1, math.ceil(reset_at - time.time()))
        message = f"Too many requests; try again in {wait} seconds."
        return RateLimited(429, "rate_limited", message, retry_after=wait)

    def _unreachable(self, name: str, error: StorageError) -> None:
        if name in FAILS_CLOSED:
            log.error("rate limit store unreachable; refusing %s: %s", name, type(error).__name__)
            message = "Signing in is briefly unavailable. Please try again shortly."
            raise RateLimited(503, "unavailable", message, retry_after=UNREACHABLE_RETRY_SECONDS)
        with self._warn_lock:
            if time.monotonic() - self._warned_at < WARN_EVERY_SECONDS:
                return
            self._warned_at = time.monotonic()
        log.warning("rate limit store unreachable; %s requests pass unlimited", name)


def client_address(request: Request) -> str:
    """The peer as uvicorn reports it (behind a proxy: run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


def client_identity(request: Request) -> str:
    """Who is asking: the bearer token or session cookie when one is sent, else the address."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return "token:" + token
    if cookie := request.cookies.get(SESSION_COOKIE):
        return "session:" + cookie
    return "address:" + client_address(request)


def guard_officer_login(request: Request, username: str) -> None:
    """Password tries per username from one address (the account's own lockout stays too)."""
    _limiter(request).check("login", f"{username.casefold()}\0{client_address(request)}")


def guard_code_request(request: Request, national_id: str) -> None:
    """One-time codes asked for, per personal number and per address: nobody floods a
    person's phone, and nobody walks the registry from one address."""
    limiter = _limiter(request)
    limiter.check("otp_request_address", "address:" + client_address(request))
    limiter.check("otp_request", "person:" + national_id)


def guard_code_try(request: Request) -> None:
    """Codes tried per address; each code also allows only `otp_max_attempts` tries."""
    _limiter(request).check("otp_verify", "address:" + client_address(request))


def _limiter(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.rate_limiter
    return limiter


def _refusal(request: Request, refused: RateLimited) -> Response:
    headers = {"Retry-After": str(refused.retry_after)}
    if wants_json(request):
        body = envelope(refused.code, refused.message, refused.details)
        return JSONResponse(body, status_code=refused.status, headers=headers)
    from navreme.web.pages import render_error

    response = render_error(request, status=refused.status)
    response.headers.update(headers)
    return response


def install(app: FastAPI, settings: Settings) -> None:
    """One limiter per app; the `api` class checked before routing, sign-in classes at their
    call sites (`guard_*`)."""
    limiter = Limiter(settings)
    app.state.rate_limiter = limiter
    _close_at_shutdown(app, limiter)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, refused: RateLimited) -> Response:
        return _refusal(request, refused)

    app.add_middleware(ApiLimit, limiter=limiter)


class ApiLimit:
    """The `api` class, checked before routing. A pure ASGI middleware: it reads headers only
    and passes the request body through untouched (a streamed body's size limit, 413, must
    reach the route as it is)."""

    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app, self.limiter = app, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(LIMITED_PREFIXES):
            request = Request(scope)
            try:
                await _check_api(self.limiter, client_identity(request))
            except RateLimited as refused:
                await _refusal(request, refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _close_at_shutdown(app: FastAPI, limiter: Limiter) -> None:
    running = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        try:
            async with running(application) as state:
                yield state
        finally:
            limiter.close()

    app.router.lifespan_context = lifespan


async def _check_api(limiter: Limiter, identity: str) -> None:
    if limiter.shared:  # a network round trip: off the event loop
        await run_in_threadpool(limiter.check, "api", identity)
    else:
        limiter.check("api", identity)
