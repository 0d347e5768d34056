"""T13: every API route × every role × own/foreign object matches the versioned matrix.

Routes are enumerated from the application itself, so a new route without a line in
`authorization_matrix.json` fails this test. For each route one request is made per principal
with the "A side" objects (citizen A's person, department A, officer A …): citizen B and
department B's officer are the "foreign" principals. 401/403/404 count as a denial; anything
else below 500 means the request got past authorization (422/409 included). Every denial of a
signed-in principal must leave an audit entry with outcome `denied`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme.audit.models import AuditEntry
from tests.security.world import World, build_world, headers_for

MATRIX_FILE = Path(__file__).with_name("authorization_matrix.json")
MATRIX = json.loads(MATRIX_FILE.read_text(encoding="utf-8"))
PRINCIPALS = MATRIX["principals"]
CHECKED_PREFIXES = ("/api/", "/open311/")


def _routes(client: TestClient) -> list[str]:
    found = set()
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if isinstance(route, APIRoute) and (context.path or "").startswith(CHECKED_PREFIXES):
            found |= {f"{method} {context.path}" for method in route.methods if method != "HEAD"}
    return sorted(found)


def test_matrix__lists_exactly_the_routes_of_the_app(client: TestClient) -> None:
    routes = set(_routes(client))
    assert sorted(routes - set(MATRIX["routes"])) == [], "routes missing from the matrix"
    assert sorted(set(MATRIX["routes"]) - routes) == [], "matrix lines for routes that are gone"


def _url(path: str, world: World) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: world.ids[m.group(1)], path)


def _body(template: Any, world: World) -> Any:
    """Bodies may name the world's objects as "{person_id}" etc."""
    if template is None:
        return None
    return json.loads(_url(json.dumps(template), world))


def _outcome(status: int) -> str:
    assert status < 500, f"server error {status}"
    return "deny" if status in (401, 403, 404) else "allow"


def _denials(session: Session) -> int:
    return session.scalar(select(func.count()).where(AuditEntry.outcome == "denied")) or 0


def test_matrix__every_route_every_role__as_declared(
    client: TestClient, db_session: Session
) -> None:
    world = build_world(db_session)
    surprises: list[str] = []
    for line in _routes(client):
        spec: dict[str, Any] = MATRIX["routes"][line]
        if "skip" in spec:
            continue
        method, path = line.split(" ", 1)
        allowed = set(PRINCIPALS) if spec["allow"] == ["*"] else set(spec["allow"])
        for principal in PRINCIPALS:
            headers = headers_for(db_session, world, principal)
            before = _denials(db_session)
            body = _body(spec.get("body"), world)
            response = client.request(method, _url(path, world), headers=headers, json=body)
            got, expected = (
                _outcome(response.status_code),
                "allow" if principal in allowed else "deny",
            )
            if got != expected:
                surprises.append(
                    f"{line} as {principal}: {expected} expected, got {response.status_code}"
                )
            if got == "deny" and principal != "anonymous" and _denials(db_session) == before:
                surprises.append(f"{line} as {principal}: denied without an audit entry")
    assert surprises == [], "\n".join(surprises)


def test_matrix__skips_say_why() -> None:
    for line, spec in MATRIX["routes"].items():
        assert "allow" in spec or len(spec.get("skip", "")) > 20, line
