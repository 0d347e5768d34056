"""One error envelope for the API, a helpful page for people; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("navreme.web")

MACHINE_PREFIXES = ("/api/", "/open311/", "/healthz", "/openapi.json", "/metrics")


class ApiError(Exception):
    """A failure the caller can act on: status, stable code, plain message, optional details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


INVALID_FIELDS = "The request has invalid fields."


def invalid_fields(details: list[dict[str, Any]]) -> ApiError:
    """422 with one {"field", "problem"} per problem: the same shape as schema validation."""
    return ApiError(422, "invalid", INVALID_FIELDS, details)


def envelope(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(MACHINE_PREFIXES):
        return True
    return "text/html" not in request.headers.get("accept", "")


STATUS_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "invalid", 429: "rate_limited", 503: "unavailable",
}  # fmt: skip


def _respond(
    request: Request, status: int, code: str, message: str, details: Any = None
) -> Response:
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    if wants_json(request):
        return JSONResponse(envelope(code, message, details), status_code=status, headers=headers)
    from navreme.web.pages import render_error

    return render_error(request, status=status)  # a plain, translated message for people


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in error["loc"]), "problem": error["msg"]}
        for error in exc.errors()
    ]


def _unavailable(request: Request) -> Response:
    log.error("database unavailable")
    return _respond(request, 503, "unavailable", "The service is briefly unavailable.")


def _refused(request: Request) -> Response:
    """The database refused a value's form (NUL in text, an integer out of range): the
    caller's input, so a 422, never a 500."""
    log.warning("value refused by the database on %s %s", request.method, request.url.path)
    return _respond(request, 422, "invalid", "A value has a form that cannot be stored.")


def install(app: FastAPI) -> None:
    from navreme.web import openapi

    openapi.install(app)  # the spec names the errors below wherever a route can answer them

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _respond(request, exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        return _respond(request, 422, "invalid", INVALID_FIELDS, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return _respond(request, exc.status_code, code, message)

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> Response:
        """Handled here, not only below: Starlette re-raises what reaches the catch-all handler
        after answering, so every request while the database is down logged a traceback."""
        return _unavailable(request)

    @app.exception_handler(DataError)
    async def value_refused(request: Request, exc: DataError) -> Response:
        return _refused(request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, OperationalError):  # raised in a middleware, outside the handlers
            return _unavailable(request)
        if isinstance(exc, DataError):
            return _refused(request)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "internal", "Something went wrong on our side.")
