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
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.cases.models import Case, CaseTask
from navreme.catalogue.actions import load_demo_catalogue
from navreme.config import get_settings
from navreme.identity.actions import create_api_token, start_session
from navreme.identity.principal import Principal
from navreme.messaging.models import Conversation, ConversationItem
from navreme.registry.models import ContactEndpoint, GuardianLink
from navreme.rules.actions import create_rule_version, publish_rule
from navreme.scheduling.actions import make_appointment
from navreme.scheduling.models import WaitlistEntry
from navreme.scheduling.queries import VisitItem
from tests import factories
from tests.scheduling.support import at, next_working_day

WORLD_RULE = {
    "code": "matrix-rule", "service": "id-card", "level": "inform",
    "legal_basis": "Law on Identity Card",
    "title": {"mk": "т", "sq": "t", "en": "t"}, "reason": {"mk": "р", "sq": "r", "en": "r"},
    "trigger": {"kind": "document_expiry", "document": "id_card", "horizons_days": [30]},
}  # fmt: skip

MATRIX_FILE = Path(__file__).with_name("authorization_matrix.json")
MATRIX = json.loads(MATRIX_FILE.read_text(encoding="utf-8"))
PRINCIPALS = MATRIX["principals"]
CHECKED_PREFIXES = ("/api/", "/open311/")


@dataclass
class World:
    subjects: dict[str, tuple[str, uuid.UUID]]  # principal name → (kind, subject id)
    ids: dict[str, str]  # path parameter → the "A side" object


def _build_world(session: Session) -> World:
    load_demo_catalogue(session)
    officers = {
        "officer_a": factories.officer(session, department_code="MVR", roles=("officer",)),
        "officer_b": factories.officer(session, department_code="UMEV", roles=("officer",)),
        "supervisor_a": factories.officer(session, roles=("officer", "supervisor")),
        "editor_a": factories.officer(session, roles=("catalogue_editor",)),
        "data_manager_a": factories.officer(session, roles=("data_manager",)),
        "admin": factories.officer(session, roles=("admin",)),
    }
    person_a = factories.person(session, phone="+38970000001")
    person_b = factories.person(session, phone="+38970000002", sex="M")
    child = factories.person(session, born=clock.today().replace(year=clock.today().year - 8))
    session.add(GuardianLink(guardian_id=person_a.id, ward_id=child.id, kind="parent"))
    rule = publish_rule(session, create_rule_version(session, WORLD_RULE, actor=None), actor=None)
    office = factories.office(session)
    starts_at = at(next_working_day(), 10)
    appointment = make_appointment(
        session, get_settings(), None, office=office, starts_at=starts_at,
        items=[VisitItem(person_a.id, "id-card")],
    )  # fmt: skip
    entry = WaitlistEntry(person_id=person_a.id, service_code="id-card", office_id=office.id)
    session.add(entry)
    admin = officers["admin"].officer
    token, _ = create_api_token(
        session, officer_id=officers["officer_a"].officer.id, name="matrix",
        actor=Principal(kind="officer", id=admin.id, roles=frozenset({"admin"})),
    )  # fmt: skip
    conversation = Conversation(person_id=person_a.id)
    session.add(conversation)
    session.flush()
    item = ConversationItem(conversation_id=conversation.id, direction="in", channel="sms",
                            text="?", needs_officer=True)  # fmt: skip
    session.add(item)
    now = clock.now()
    case = Case(reference="NV-MATRIX22", person_id=person_a.id, channel="web", text="t",
                department_id=officers["officer_a"].officer.department_id, status="new",
                accept_due_at=now + timedelta(hours=8), resolve_due_at=now + timedelta(days=10),
                created_at=now, updated_at=now)  # fmt: skip
    session.add(case)
    session.flush()
    task = CaseTask(case_id=case.id, department_id=case.department_id, title="t",
                    due_at=now + timedelta(days=2))  # fmt: skip
    session.add(task)
    session.commit()
    subjects = {name: ("officer", login.officer.id) for name, login in officers.items()}
    subjects |= {"citizen_a": ("citizen", person_a.id), "citizen_b": ("citizen", person_b.id)}
    ids = {
        "person_id": str(person_a.id), "ward_id": str(child.id),
        "department_id": str(officers["officer_a"].officer.department_id),
        "officer_id": str(officers["officer_a"].officer.id), "token_id": str(token.id),
        "code": "id-card", "national_id": person_a.national_id, "rule_id": str(rule.id),
        "office_code": office.code, "appointment_id": str(appointment.id),
        "entry_id": str(entry.id), "starts_at": (starts_at + timedelta(hours=1)).isoformat(),
        "channel": "telegram", "item_id": str(item.id), "case_id": str(case.id),
        "task_id": str(task.id),
        "endpoint_id": str(session.scalars(select(ContactEndpoint.id).where(
            ContactEndpoint.person_id == person_a.id)).one()),
    }  # fmt: skip
    return World(subjects, ids)


def _headers(session: Session, world: World, principal: str) -> dict[str, str]:
    """A fresh session per request, so routes that end sessions don't disturb the next."""
    if principal == "anonymous":
        return {}
    kind, subject_id = world.subjects[principal]
    new = start_session(session, subject_kind=kind, subject_id=subject_id, replaces=None)
    session.commit()
    return {"Authorization": f"Bearer {new.token}"}


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
    world = _build_world(db_session)
    surprises: list[str] = []
    for line in _routes(client):
        spec: dict[str, Any] = MATRIX["routes"][line]
        if "skip" in spec:
            continue
        method, path = line.split(" ", 1)
        allowed = set(PRINCIPALS) if spec["allow"] == ["*"] else set(spec["allow"])
        for principal in PRINCIPALS:
            headers = _headers(db_session, world, principal)
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
