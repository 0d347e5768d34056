"""The world both security suites act in: two citizens, two departments' officers, each role.

T13 (the authorization matrix) and T14 (the API fuzz) build it the same way, so a principal
means the same thing in both: "A side" objects belong to citizen A and department A (MVR).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
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


@dataclass
class World:
    subjects: dict[str, tuple[str, uuid.UUID]]  # principal name → (kind, subject id)
    ids: dict[str, str]  # path parameter → the "A side" object


def build_world(session: Session) -> World:
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


def headers_for(session: Session, world: World, principal: str) -> dict[str, str]:
    """A fresh session per request, so routes that end sessions don't disturb the next."""
    if principal == "anonymous":
        return {}
    kind, subject_id = world.subjects[principal]
    new = start_session(session, subject_kind=kind, subject_id=subject_id, replaces=None)
    session.commit()
    return {"Authorization": f"Bearer {new.token}"}
