"""Service offices: a Ministry of Interior (MVR) counter in every municipality for ID cards,
passports and driving licences, and civil registry (UMEV) offices in the larger towns."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.demo.reference import MunicipalityFacts
from navreme.identity.models import Department
from navreme.scheduling.actions import equip_office
from navreme.scheduling.models import Counter, Office

MVR, UMEV = "MVR", "UMEV"
UMEV_FROM_POPULATION = 40_000  # towns this large keep their own registry office
UMEV_IN_SKOPJE = "MK-814"  # the City of Skopje's registry office is in Centar
PEOPLE_PER_COUNTER = 25_000
MAX_COUNTERS = 8
# Streets that most Macedonian towns have; each office gets one, by its municipality code.
STREETS = (
    "ул. Маршал Тито", "ул. Илинденска", "ул. Македонија", "ул. Гоце Делчев",
    "ул. Партизанска", "бул. Кочо Рацин", "ул. Јане Сандански", "ул. 11 Октомври",
    "ул. Никола Карев", "ул. Христо Татарчев", "ул. Димитар Влахов", "ул. Св. Кирил и Методиј",
)  # fmt: skip
OFFICE_NAMES = {MVR: "МВР", UMEV: "УМЕВ"}
# Minutes one applicant takes at a counter, per service each department's counters do.
COUNTER_SERVICES = {
    MVR: {
        "id-card": 15, "first-adult-id-card": 20, "passport": 15, "passport-minor": 20,
        "driving-licence": 20, "vehicle-registration": 20, "address-change": 10,
    },
    UMEV: {
        "birth-certificate": 10, "marriage-certificate": 10, "death-certificate": 10,
        "citizenship-certificate": 10,
    },
}  # fmt: skip
OPENING_HOURS = tuple((weekday, time(8), time(16)) for weekday in range(5))  # Mon–Fri 08–16


class MissingDepartments(RuntimeError):
    """The catalogue did not create the departments offices belong to."""


def address(municipality: MunicipalityFacts, *, department_code: str) -> str:
    number = int(municipality.code.removeprefix("MK-"))
    street = STREETS[(number + len(department_code)) % len(STREETS)]
    town = (
        f"{municipality.name_mk}, Скопје"
        if municipality.in_city_of_skopje
        else municipality.name_mk
    )
    return f"{street} бр. {number % 97 + 1}, {town}"


def counters(population: int) -> int:
    return max(1, min(MAX_COUNTERS, round(population / PEOPLE_PER_COUNTER)))


def office_plan(municipalities: list[MunicipalityFacts]) -> list[tuple[str, MunicipalityFacts]]:
    """(department code, municipality) for every office the demo country has."""
    plan = [(MVR, m) for m in municipalities]
    plan += [
        (UMEV, m)
        for m in municipalities
        if m.code == UMEV_IN_SKOPJE
        or (not m.in_city_of_skopje and m.population >= UMEV_FROM_POPULATION)
    ]
    return plan


def create_offices(session: Session, municipalities: list[MunicipalityFacts]) -> int:
    """Create the offices that are missing (by code); returns how many were created."""
    found = session.execute(
        select(Department.code, Department.id).where(Department.code.in_(OFFICE_NAMES))
    )
    departments = {code: department_id for code, department_id in found}
    missing = sorted(set(OFFICE_NAMES) - set(departments))
    if missing:
        raise MissingDepartments(
            f"departments {', '.join(missing)} are missing: load the catalogue first"
        )
    existing = set(session.scalars(select(Office.code)))
    created = 0
    for department_code, municipality in office_plan(municipalities):
        code = f"{department_code}-{municipality.code}"
        if code in existing:
            continue
        session.add(
            Office(
                code=code,
                name=f"{OFFICE_NAMES[department_code]} {municipality.name_mk}",
                department_id=departments[department_code],
                municipality_code=municipality.code,
                address=address(municipality, department_code=department_code),
                latitude=municipality.latitude,
                longitude=municipality.longitude,
                counters=counters(municipality.population),
            )
        )
        created += 1
    session.flush()
    equip_offices(session)
    return created


def equip_offices(session: Session) -> int:
    """Counters, their services and opening hours for every office that has no counters yet."""
    equipped = select(Counter.office_id)
    bare = session.execute(
        select(Office, Department.code)
        .join(Department, Department.id == Office.department_id)
        .where(Office.id.not_in(equipped))
    ).all()
    for office, department_code in bare:
        equip_office(
            session, office, counters=office.counters,
            services=COUNTER_SERVICES.get(department_code, {}), hours=OPENING_HOURS,
        )  # fmt: skip
    return len(bare)
