"""Security headers on every response and a cap on request size (T16)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

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


def install(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def harden(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        declared = request.headers.get("content-length")
        if declared and (not declared.isdigit() or int(declared) > settings.max_request_bytes):
            limit = settings.max_request_bytes
            return JSONResponse(
                envelope("payload_too_large", f"Requests are limited to {limit} bytes."), 413
            )
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
