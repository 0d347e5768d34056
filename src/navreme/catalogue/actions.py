"""Writing the catalogue: loading departments and services from data, checked before any write."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.catalogue.models import Service, ServiceEvidence, ServicePrerequisite, ServiceStep
from navreme.catalogue.queries import demo_catalogue, prerequisite_cycles
from navreme.catalogue.schemas import (
    CategoryData,
    DepartmentData,
    LoadReport,
    RegistryData,
    ServiceData,
)
from navreme.identity.models import Department

Row = TypeVar("Row", bound=BaseModel)


class CatalogueInvalid(ValueError):
    """The catalogue data has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"catalogue data has {len(self.problems)} problem(s):\n{listed}")


@dataclass(frozen=True)
class _Parsed:
    departments: list[tuple[str, DepartmentData]]
    categories: list[tuple[str, CategoryData]]
    registries: list[tuple[str, RegistryData]]
    services: list[tuple[str, ServiceData]]


# --- validation --------------------------------------------------------------------------------


def _where(key: str, index: int, row: object) -> str:
    code = row.get("code") if isinstance(row, Mapping) else None
    return f"{key}[{index}] {code!r}" if isinstance(code, str) else f"{key}[{index}]"


def _path(loc: Sequence[int | str]) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return path.lstrip(".") or "the entry"


def _explain(where: str, error: Mapping[str, Any]) -> str:
    path = _path(error["loc"])
    if error["type"] == "missing":
        return f"{where}: {path} is missing"
    return f"{where}: {path}: {error['msg']}"


def _parse_each(
    data: Mapping[str, Any], key: str, model: type[Row], problems: list[str]
) -> list[tuple[str, Row]]:
    rows = data.get(key)
    if not isinstance(rows, list):
        problems.append(f"{key}: a list is required")
        return []
    parsed: list[tuple[str, Row]] = []
    for index, row in enumerate(rows):
        where = _where(key, index, row)
        try:
            parsed.append((where, model.model_validate(row)))
        except ValidationError as invalid:
            problems.extend(_explain(where, error) for error in invalid.errors())
    return parsed


def _duplicates(key: str, codes: Iterable[object]) -> list[str]:
    counts = Counter(codes)
    return [f"{key}: {code!r} appears {n} times" for code, n in counts.items() if n > 1]


def _unknown(where: str, what: str, code: str | None, known: set[str]) -> list[str]:
    return [] if code is None or code in known else [f"{where}: {what} {code!r} is unknown"]


def _service_problems(
    where: str,
    service: ServiceData,
    *,
    departments: set[str],
    categories: set[str],
    registries: set[str],
    services: set[str],
) -> list[str]:
    problems = _unknown(where, "department", service.department, departments)
    problems += _unknown(where, "category", service.category, categories)
    for index, step in enumerate(service.steps):
        problems += _unknown(where, f"steps[{index}].department", step.department, departments)
    for index, evidence in enumerate(service.evidence):
        problems += _unknown(
            where, f"evidence[{index}].supplied_by", evidence.supplied_by, registries
        )
    for prerequisite in service.prerequisites:
        problems += _unknown(where, "prerequisite service", prerequisite.code, services)
        if prerequisite.code == service.code:
            problems.append(f"{where}: requires itself")
    problems += _duplicates(f"{where}: evidence", (e.code for e in service.evidence))
    problems += _duplicates(f"{where}: prerequisites", (p.code for p in service.prerequisites))
    return problems


def _cycles(services: Sequence[ServiceData]) -> list[str]:
    latest: dict[str, ServiceData] = {}
    for service in sorted(services, key=lambda s: s.version):
        latest[service.code] = service
    graph = {
        code: [p.code for p in s.prerequisites if p.code != code] for code, s in latest.items()
    }
    return ["prerequisite cycle: " + " → ".join(cycle) for cycle in prerequisite_cycles(graph)]


def _check(
    data: Mapping[str, Any], *, known_departments: Iterable[str], known_services: Iterable[str]
) -> tuple[list[str], _Parsed]:
    problems: list[str] = []
    parsed = _Parsed(
        departments=_parse_each(data, "departments", DepartmentData, problems),
        categories=_parse_each(data, "categories", CategoryData, problems),
        registries=_parse_each(data, "registries", RegistryData, problems),
        services=_parse_each(data, "services", ServiceData, problems),
    )
    services = [service for _, service in parsed.services]
    problems += _duplicates("departments", (d.code for _, d in parsed.departments))
    problems += _duplicates("categories", (c.code for _, c in parsed.categories))
    problems += _duplicates("registries", (r.code for _, r in parsed.registries))
    problems += _duplicates("services", (f"{s.code} v{s.version}" for s in services))
    raw_services = data.get("services") if isinstance(data.get("services"), list) else []
    known = {
        "departments": {d.code for _, d in parsed.departments} | set(known_departments),
        "categories": {c.code for _, c in parsed.categories},
        "registries": {r.code for _, r in parsed.registries},
        # A prerequisite may name a service whose own entry is broken: that is reported there.
        "services": {row.get("code") for row in raw_services if isinstance(row, Mapping)}
        | set(known_services),
    }
    for where, service in parsed.services:
        problems += _service_problems(where, service, **known)
    return problems + _cycles(services), parsed


def validate_catalogue(
    data: Mapping[str, Any],
    *,
    known_departments: Iterable[str] = (),
    known_services: Iterable[str] = (),
) -> list[str]:
    """Every problem in the catalogue data, one readable line each; empty when it is sound.

    `data` has the keys `departments`, `categories`, `registries` and `services`, shaped as
    in `catalogue/data/*.json`; `known_departments` and `known_services` are codes that exist
    already (in the database) and may be referred to.
    """
    return _check(data, known_departments=known_departments, known_services=known_services)[0]


# --- loading -----------------------------------------------------------------------------------


def _ensure_departments(
    session: Session, departments: Sequence[DepartmentData], report: LoadReport
) -> dict[str, uuid.UUID]:
    ids = {code: id_ for code, id_ in session.execute(select(Department.code, Department.id))}
    for department in departments:
        if department.code in ids:
            report.departments_existing += 1
            continue
        row = Department(
            code=department.code,
            name_mk=department.name.mk,
            name_sq=department.name.sq,
            name_en=department.name.en,
        )
        session.add(row)
        session.flush()
        ids[department.code] = row.id
        report.departments_created += 1
    return ids


def _service_row(service: ServiceData, department_ids: Mapping[str, uuid.UUID]) -> Service:
    return Service(
        code=service.code,
        version=service.version,
        status=service.status,
        name=service.name.model_dump(),
        description=service.description.model_dump(),
        category=service.category,
        department_id=department_ids[service.department],
        fees=[fee.model_dump() for fee in service.fees],
        channels=list(service.channels),
        audience=list(service.audience),
        delivery_allowed=service.delivery_allowed,
        legal_basis=service.legal_basis,
        lgsl_code=service.lgsl_code,
        published_at=clock.now() if service.status == "published" else None,
    )


def _parts(
    service: ServiceData, service_id: uuid.UUID, department_ids: Mapping[str, uuid.UUID]
) -> list[ServiceStep | ServiceEvidence | ServicePrerequisite]:
    steps = [
        ServiceStep(
            service_id=service_id,
            position=position,
            kind=step.kind,
            name=step.name.model_dump(),
            department_id=department_ids[step.department],
            lead_time_days=step.lead_time_days,
            needs_visit=step.needs_visit,
        )
        for position, step in enumerate(service.steps, start=1)
    ]
    evidence = [
        ServiceEvidence(
            service_id=service_id, code=e.code, name=e.name.model_dump(), supplied_by=e.supplied_by
        )
        for e in service.evidence
    ]
    prerequisites = [
        ServicePrerequisite(service_id=service_id, requires_code=p.code, condition=p.condition)
        for p in service.prerequisites
    ]
    return [*steps, *evidence, *prerequisites]


def _ensure_services(
    session: Session,
    services: Sequence[ServiceData],
    department_ids: Mapping[str, uuid.UUID],
    report: LoadReport,
) -> None:
    rows = session.execute(select(Service.code, Service.version))
    existing = {(code, version) for code, version in rows}
    for service in services:
        if (service.code, service.version) in existing:
            report.services_existing += 1
            continue
        row = _service_row(service, department_ids)
        session.add(row)
        session.flush()
        session.add_all(_parts(service, row.id, department_ids))
        report.services_created += 1
    session.flush()


def load_catalogue(session: Session, data: Mapping[str, Any]) -> LoadReport:
    """Add the departments and service versions in `data` that are not there yet.

    Idempotent. Raises CatalogueInvalid, listing every problem, before writing anything.
    """
    problems, parsed = _check(
        data,
        known_departments=session.scalars(select(Department.code)),
        known_services=session.scalars(select(Service.code).distinct()),
    )
    if problems:
        raise CatalogueInvalid(problems)
    report = LoadReport()
    departments = [department for _, department in parsed.departments]
    ids = _ensure_departments(session, departments, report)
    _ensure_services(session, [service for _, service in parsed.services], ids, report)
    record(
        session,
        action="catalogue.load",
        actor_kind="system",
        object_kind="catalogue",
        details=report.model_dump(),
    )
    return report


def load_demo_catalogue(session: Session) -> LoadReport:
    """Load the demo country's (North Macedonia's) departments and services, if missing."""
    return load_catalogue(session, demo_catalogue())
