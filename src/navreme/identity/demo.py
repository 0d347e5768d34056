"""The demo's officer accounts (development only shows their passwords and live TOTP codes)."""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.identity.actions import create_officer
from navreme.identity.models import Department, Officer
from navreme.identity.queries import department_by_code
from navreme.registry.models import ContactEndpoint, Person

DEMO_PASSWORD = "navreme-demo"  # noqa: S105 - the demo's published password  # nosec B105

# (username, display name, department code, roles)
DEMO_ACCOUNTS = (
    ("officer.mvr", "Ана Стојановска", "MVR", ["officer"]),
    ("supervisor.mvr", "Марко Петровски", "MVR", ["officer", "supervisor"]),
    ("officer.umev", "Arben Xhaferi", "UMEV", ["officer"]),
    ("supervisor.umev", "Elena Nikolovska", "UMEV", ["officer", "supervisor"]),
    ("editor.mvr", "Јована Трајковска", "MVR", ["catalogue_editor"]),
    ("datamanager.umev", "Besa Ismaili", "UMEV", ["data_manager"]),
    ("admin", "Navreme Administrator", "MVR", ["admin"]),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    roles: list[str]
    department: str
    totp_now: str


def create_demo_accounts(session: Session) -> int:
    """Create missing demo officers; needs the catalogue's departments. Returns how many."""
    created = 0
    for username, name, department_code, roles in DEMO_ACCOUNTS:
        department = department_by_code(session, department_code)
        exists = session.scalar(select(Officer.id).where(Officer.username == username))
        if department is None or exists:
            continue
        create_officer(
            session, username=username, display_name=name, department_id=department.id,
            roles=roles, password=DEMO_PASSWORD,
        )  # fmt: skip
        created += 1
    return created


@dataclass(frozen=True)
class DemoCitizen:
    name: str
    national_id: str
    language: str


def demo_citizens(session: Session, *, limit: int = 4) -> list[DemoCitizen]:
    """Synthetic residents with a verified phone, one per language where possible."""
    found: dict[str, DemoCitizen] = {}
    for language in ("mk", "sq", "en", "mk"):
        query = (
            select(Person)
            .join(ContactEndpoint, ContactEndpoint.person_id == Person.id)
            .where(ContactEndpoint.verified_at.is_not(None), ContactEndpoint.channel == "sms")
            .where(Person.language == language, Person.national_id.not_in(list(found)))
            .where(Person.death_date.is_(None), Person.municipality_code.is_not(None))
            .order_by(Person.national_id)
            .limit(1)
        )
        for person in session.scalars(query):
            name = f"{person.given_name} {person.family_name}"
            found[person.national_id] = DemoCitizen(name, person.national_id, person.language)
    return list(found.values())[:limit]


def demo_logins(session: Session) -> list[DemoLogin]:
    usernames = [account[0] for account in DEMO_ACCOUNTS]
    rows = session.execute(
        select(Officer, Department.code)
        .join(Department, Department.id == Officer.department_id)
        .where(Officer.username.in_(usernames))
        .order_by(Officer.username)
    )
    at = clock.now().timestamp()
    return [
        DemoLogin(
            username=officer.username,
            password=DEMO_PASSWORD,
            roles=officer.roles,
            department=code,
            totp_now=pyotp.TOTP(officer.totp_secret or "").at(at),
        )  # fmt: skip
        for officer, code in rows
        if officer.totp_secret
    ]
