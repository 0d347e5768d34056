"""Factories per domain: build real rows through the same actions the product uses."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import date, time

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.identity.actions import create_officer
from navreme.identity.models import Department, Officer
from navreme.messaging.models import Delivery
from navreme.registry import embg
from navreme.registry.models import ContactEndpoint, Document, Municipality, Person
from navreme.scheduling.models import Office

PASSWORD = "correct horse battery staple"
_serials = itertools.count(1)


def department(session: Session, code: str = "MVR") -> Department:
    found = session.scalar(select(Department).where(Department.code == code))
    if found:
        return found
    row = Department(code=code, name_mk=f"{code} мк", name_sq=f"{code} sq", name_en=f"{code} en")
    session.add(row)
    session.flush()
    return row


@dataclass
class OfficerLogin:
    officer: Officer
    totp_secret: str

    @property
    def totp_now(self) -> str:
        return pyotp.TOTP(self.totp_secret).at(clock.now().timestamp())


def officer(
    session: Session, *, username: str | None = None, department_code: str = "MVR",
    roles: tuple[str, ...] = ("officer",),
) -> OfficerLogin:  # fmt: skip
    secret = pyotp.random_base32()
    row = create_officer(
        session, username=username or f"officer-{uuid.uuid4().hex[:8]}",
        display_name="Test Officer", department_id=department(session, department_code).id,
        roles=list(roles), password=PASSWORD, totp_secret=secret,
    )  # fmt: skip
    return OfficerLogin(row, secret)


def municipality(session: Session, code: str = "MK-101") -> Municipality:
    found = session.get(Municipality, code)
    if found:
        return found
    row = Municipality(
        code=code, name="Veles", name_mk="Велес", region="Vardar", in_city_of_skopje=False,
        latitude=41.7, longitude=21.8, population=48463,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def national_id(born: date = date(1990, 5, 17), sex: str = "F") -> str:
    """A valid EMBG, unique within a test run for the same birth date and sex up to 4,500 people
    (9 regions × 500 serials; serials alone wrapped at 500 and two random setups collided)."""
    while True:
        n = next(_serials)
        value = embg.make(born, sex=sex, region=41 + (n // 500) % 9, serial=n % 500)
        if value:
            return value


def person(
    session: Session, *, born: date = date(1990, 5, 17), sex: str = "F", language: str = "mk",
    phone: str | None = None,
) -> Person:  # fmt: skip
    row = Person(
        national_id=national_id(born, sex), given_name="Марија", family_name="Петровска",
        birth_date=born, sex=sex, municipality_code=municipality(session).code, language=language,
    )  # fmt: skip
    session.add(row)
    session.flush()
    if phone:
        session.add(
            ContactEndpoint(
                person_id=row.id,
                channel="sms",
                address=phone,
                preference=1,
                verified_at=clock.now(),
            )
        )
        session.flush()
    return row


def officer_token(client: TestClient, login: OfficerLogin) -> dict[str, str]:
    """Sign an officer in through the API; returns the Authorization header."""
    response = client.post(
        "/api/v1/auth/officer/login",
        json={"username": login.officer.username, "password": PASSWORD, "totp": login.totp_now},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def last_code(session: Session, address: str) -> str:
    session.expire_all()
    message = session.scalars(
        select(Delivery).where(Delivery.address == address).order_by(Delivery.created_at.desc())
    ).first()
    assert message is not None, f"no code was sent to {address}"
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found is not None
    return found.group(1)


def citizen_token(client: TestClient, session: Session, person_row: Person) -> dict[str, str]:
    """Sign a citizen in with a one-time code through the API (needs a verified phone)."""
    address = session.scalar(
        select(ContactEndpoint.address).where(ContactEndpoint.person_id == person_row.id)
    )
    assert address, "give the person a verified phone first"
    challenge = client.post(
        "/api/v1/auth/citizen/code", json={"national_id": person_row.national_id}
    ).json()
    code = last_code(session, address)
    response = client.post(
        "/api/v1/auth/citizen/verify",
        json={"challenge_id": challenge["challenge_id"], "code": code},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def office(
    session: Session, municipality_code: str = "MK-101", *, counters: int = 2,
    department_code: str = "MVR", services: dict[str, int] | None = None,
    slot_minutes: int = 15,
    hours: tuple[tuple[int, time, time], ...] = tuple((d, time(8), time(16)) for d in range(5)),
) -> Office:  # fmt: skip
    """An office in the municipality (Veles unless created first with `place`), with counters
    doing the MVR document services, open Mon–Fri 08–16."""
    from navreme.scheduling.actions import equip_office

    place_of = municipality(session, municipality_code)
    row = Office(
        code=f"{department_code}-{municipality_code}", name=f"{department_code} {place_of.name}",
        department_id=department(session, department_code).id, municipality_code=place_of.code,
        address="ул. Македонија 1", latitude=place_of.latitude, longitude=place_of.longitude,
        counters=counters, slot_minutes=slot_minutes,
    )  # fmt: skip
    session.add(row)
    session.flush()
    equip_office(
        session, row, counters=counters, hours=hours,
        services=services or {"id-card": 15, "passport": 15, "driving-licence": 20},
    )  # fmt: skip
    return row


def session_token(session: Session, person_row: Person) -> dict[str, str]:
    """A citizen's bearer session token without the one-time-code dance (for load tests)."""
    from navreme.identity.actions import start_session

    started = start_session(
        session, subject_kind="citizen", subject_id=person_row.id, replaces=None
    )
    return {"Authorization": f"Bearer {started.token}"}


def place(
    session: Session, code: str, *, latitude: float, longitude: float, name: str = "Town"
) -> Municipality:
    """A municipality with its own coordinates (`municipality` is always Veles)."""
    row = Municipality(
        code=code, name=name, name_mk=name, region="Vardar", in_city_of_skopje=False,
        latitude=latitude, longitude=longitude, population=10_000,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def document(
    session: Session, owner: Person, *, kind: str = "id_card", issued: date, expires: date,
    status: str = "valid",
) -> Document:  # fmt: skip
    row = Document(person_id=owner.id, kind=kind, number=f"{kind[0].upper()}{next(_serials):07d}",
                   issued_on=issued, expires_on=expires, status=status)  # fmt: skip
    session.add(row)
    session.flush()
    return row
