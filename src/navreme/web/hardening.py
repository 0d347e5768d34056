"""Security headers on every response, a cap on request size (T16), and admission control."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from navreme.config import Settings
from navreme.web.errors import envelope

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_CSP = (  # the interactive API docs page loads Swagger UI from a CDN
    "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline' https:; "
    "script-src 'self' 'unsafe-inline' https:; frame-ancestors 'none'"
)


class BodyLimit:
    """Refuse bodies over the limit: by Content-Length at once, and while streaming
    (chunked uploads have no length), before the application reads them whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Requests are limited to {self.limit} bytes."
        response = JSONResponse(envelope("payload_too_large", message), 413)
        await response(scope, receive, send)


class AdmissionLimit:
    """At most `limit` requests inside the application at once; the rest wait their turn in the
    event loop, in arrival order, holding no thread and no database connection.

    Without it a burst (everyone reacting to one announcement) fills the worker threads with
    requests that wait for a database connection or SQLite's single write lock, while the
    request that holds the lock waits for a free thread to finish in: a stall until timeouts.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)


def admission_limit(settings: Settings) -> int:
    """Fewer than the 40 worker threads, and no more than the database can serve at once."""
    if settings.max_active_requests:
        return settings.max_active_requests
    return 8 if settings.is_sqlite else 24


class _TooLarge(HTTPException):
    """An HTTPException, so that body parsing passes it on instead of turning it into 400."""

    def __init__(self) -> None:
        super().__init__(413, "Request body too large.")


def install(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)

    @app.middleware("http")
    async def harden(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        headers = response.headers
        headers["Content-Security-Policy"] = DOCS_CSP if request.url.path == "/api/docs" else CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if settings.cookie_secure:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if request.url.path.startswith("/api/"):
            headers.setdefault("Cache-Control", "no-store")
        return response

    app.add_middleware(AdmissionLimit, limit=admission_limit(settings))
