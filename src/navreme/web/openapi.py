"""The published OpenAPI spec names every error a route can really answer (T14).

Some errors come from the shared plumbing, not from a route's own code: an unparseable body
(400), a token that is unknown or expired (401), a cookie session without its CSRF header or a
role check (403), an object that is not there (404), the request rate limit (429), a database
that is down (503). Rather than repeat them on every route,
they are read from what each route depends on and added with the error envelope.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from navreme.web.deps import current_principal
from navreme.web.ratelimit import LIMITED_PREFIXES

ENVELOPE_REF = "#/components/schemas/ErrorOut"
DESCRIPTIONS = {
    400: "The body could not be parsed",
    401: "The token is unknown, expired or revoked, or the route needs a signed-in caller",
    403: "Not allowed for this caller (or a cookie session without its CSRF header)",
    404: "The object named in the path is not there (or not visible to this caller)",
    429: "Too many requests from this client (see Retry-After)",
    503: "Briefly unavailable: the database, or for sign-in the shared rate counter (see Retry-After)",
}


def _depends_on(dependant: Dependant, call: object) -> bool:
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


def plumbing_errors(route: APIRoute) -> set[int]:
    """The statuses a route can answer because of what it depends on."""
    statuses = set()
    if route.body_field is not None:
        statuses.add(400)
    if _depends_on(route.dependant, current_principal):
        statuses |= {401, 403}
    if route.dependant.path_params:
        statuses.add(404)
    if route.path.startswith(LIMITED_PREFIXES):
        statuses.add(429)
    return statuses | {503}


def _envelope_schema(spec: dict[str, Any]) -> None:
    from navreme.registry.schemas import ErrorOut

    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorOut" not in schemas:
        found = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(found.pop("$defs", {}))
        schemas["ErrorOut"] = found


def _declare(operation: dict[str, Any], statuses: set[int]) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        responses.setdefault(str(status), {
            "description": DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": ENVELOPE_REF}}},
        })  # fmt: skip


def declare_plumbing_errors(app: FastAPI, spec: dict[str, Any]) -> None:
    _envelope_schema(spec)
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not (isinstance(route, APIRoute) and route.include_in_schema):
            continue
        operations = spec["paths"].get(context.path, {})
        for method in route.methods:
            if method.lower() in operations:
                _declare(operations[method.lower()], plumbing_errors(route))


def install(app: FastAPI) -> None:
    """Serve the spec with the plumbing's errors declared; built once, on first request."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            declare_plumbing_errors(app, generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
