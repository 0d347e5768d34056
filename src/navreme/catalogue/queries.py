"""Reading the catalogue in domain words: published services, their detail and dependencies."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from navreme.catalogue.models import Service, ServiceEvidence, ServicePrerequisite, ServiceStep
from navreme.catalogue.schemas import (
    CategoryOut,
    DepartmentOut,
    EvidenceOut,
    FeeOut,
    Language,
    PrerequisiteOut,
    ServiceDetail,
    ServiceSummary,
    StepOut,
    Texts,
)
from navreme.identity.models import Department

DATA_DIR = Path(__file__).parent / "data"
DATA_FILES = ("departments.json", "services.json")
PUBLIC_STATUSES = ("published", "retired")  # retired versions stay readable as history


class PrerequisiteCycle(ValueError):
    """Services that require each other in a circle; `codes` walks the circle."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__("prerequisite cycle: " + " → ".join(codes))
        self.codes = codes


class ServiceNotFound(LookupError):
    pass


# --- the demo data files -----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _demo_files() -> dict[str, Any]:
    read = [json.loads((DATA_DIR / name).read_text("utf-8")) for name in DATA_FILES]
    return {key: value for data in read for key, value in data.items() if key != "_note"}


def demo_catalogue() -> dict[str, Any]:
    """The demo country's departments, categories, registries and services, as in the files."""
    return copy.deepcopy(_demo_files())


def category_names() -> dict[str, Texts]:
    return {row["code"]: Texts(**row["name"]) for row in demo_catalogue()["categories"]}


# --- services ----------------------------------------------------------------------------------


def _published() -> Select[tuple[Service]]:
    """The latest published version of each service."""
    latest = (
        select(Service.code, func.max(Service.version).label("version"))
        .where(Service.status == "published")
        .group_by(Service.code)
        .subquery()
    )
    return select(Service).join(
        latest, and_(Service.code == latest.c.code, Service.version == latest.c.version)
    )


def _published_with_department() -> Select[tuple[Service, str]]:
    return (
        _published()
        .add_columns(Department.code)
        .join(Department, Department.id == Service.department_id)
    )


def _mentions(service: Service, terms: Iterable[str]) -> bool:
    texts = [service.code, *service.name.values(), *service.description.values()]
    haystack = "\n".join(texts).casefold()
    return all(term in haystack for term in terms)


def _summary(service: Service, department: str, language: Language) -> ServiceSummary:
    names, descriptions = Texts(**service.name), Texts(**service.description)
    return ServiceSummary(
        code=service.code,
        version=service.version,
        name=names.in_(language),
        description=descriptions.in_(language),
        names=names,
        descriptions=descriptions,
        category=service.category,
        department=department,
        audience=service.audience,
        channels=service.channels,
        delivery_allowed=service.delivery_allowed,
    )


def published_services(
    session: Session,
    *,
    category: str | None = None,
    department: str | None = None,
    audience: str | None = None,
    q: str | None = None,
    language: Language = "mk",
) -> list[ServiceSummary]:
    """The latest published version of every service that matches, by name in `language`."""
    statement = _published_with_department()
    if category:
        statement = statement.where(Service.category == category)
    if department:
        statement = statement.where(Department.code == department)
    # Audience (a JSON list) and free text are matched here rather than in SQL: a catalogue
    # holds hundreds of services, not millions, and SQLite's lower() does not fold Cyrillic.
    terms = (q or "").casefold().split()
    found = [
        _summary(service, code, language)
        for service, code in session.execute(statement).all()
        if (not audience or audience in service.audience) and _mentions(service, terms)
    ]
    return sorted(found, key=lambda summary: (summary.name.casefold(), summary.code))


def unknown_services(session: Session, codes: Iterable[str]) -> list[str]:
    """Those of `codes` that name no service in the catalogue, sorted."""
    wanted = set(codes)
    known = set(session.scalars(select(Service.code).where(Service.code.in_(wanted))))
    return sorted(wanted - known)


def service_by_code(session: Session, code: str, *, version: int | None = None) -> Service | None:
    """That version of the service, or its latest published version when none is given."""
    if version is not None:
        return session.scalar(select(Service).filter_by(code=code, version=version))
    return session.scalar(_published().where(Service.code == code))


def _department_codes(session: Session) -> dict[uuid.UUID, str]:
    return {row.id: row.code for row in session.execute(select(Department.id, Department.code))}


def _published_names(session: Session, codes: Sequence[str], language: Language) -> dict[str, str]:
    rows = session.scalars(_published().where(Service.code.in_(codes)))
    return {service.code: Texts(**service.name).in_(language) for service in rows}


def _steps(session: Session, service: Service, language: Language) -> list[StepOut]:
    departments = _department_codes(session)
    rows = session.scalars(
        select(ServiceStep).filter_by(service_id=service.id).order_by(ServiceStep.position)
    )
    return [
        StepOut(
            position=step.position,
            kind=step.kind,
            name=Texts(**step.name).in_(language),
            names=Texts(**step.name),
            department=departments[step.department_id],
            lead_time_days=step.lead_time_days,
            needs_visit=step.needs_visit,
        )
        for step in rows
    ]


def _evidence(session: Session, service: Service, language: Language) -> list[EvidenceOut]:
    rows = session.scalars(
        select(ServiceEvidence).filter_by(service_id=service.id).order_by(ServiceEvidence.code)
    )
    return [
        EvidenceOut(
            code=row.code,
            name=Texts(**row.name).in_(language),
            names=Texts(**row.name),
            supplied_by=row.supplied_by,
        )
        for row in rows
    ]


def _prerequisites(session: Session, service: Service, language: Language) -> list[PrerequisiteOut]:
    rows = session.scalars(
        select(ServicePrerequisite)
        .filter_by(service_id=service.id)
        .order_by(ServicePrerequisite.requires_code)
    ).all()
    names = _published_names(session, [row.requires_code for row in rows], language)
    return [
        PrerequisiteOut(
            code=row.requires_code, condition=row.condition, name=names.get(row.requires_code)
        )
        for row in rows
    ]


def _fees(service: Service, language: Language) -> list[FeeOut]:
    return [
        FeeOut(
            amount=fee["amount"],
            currency=fee["currency"],
            label=Texts(**fee["label"]).in_(language),
            labels=Texts(**fee["label"]),
        )
        for fee in service.fees
    ]


def _visits(steps: Sequence[StepOut], *, delivered: bool) -> int:
    return sum(1 for s in steps if s.needs_visit and not (delivered and s.kind == "collect"))


def service_detail(
    session: Session, code: str, *, version: int | None = None, language: Language = "mk"
) -> ServiceDetail | None:
    """Everything a person needs to know about a public service, or None if there is none."""
    service = service_by_code(session, code, version=version)
    if service is None or service.status not in PUBLIC_STATUSES:
        return None
    department = _department_codes(session)[service.department_id]
    steps = _steps(session, service, language)
    prerequisites = _prerequisites(session, service, language)
    graph = {**prerequisite_graph(session), code: [p.code for p in prerequisites]}
    return ServiceDetail(
        **_summary(service, department, language).model_dump(),
        status=service.status,
        legal_basis=service.legal_basis,
        lgsl_code=service.lgsl_code,
        published_at=service.published_at,
        steps=steps,
        evidence=_evidence(session, service, language),
        fees=_fees(service, language),
        prerequisites=prerequisites,
        prerequisite_chain=order_prerequisites(graph, code),
        total_lead_time_days=sum(step.lead_time_days for step in steps),
        visits_needed=_visits(steps, delivered=False),
        visits_needed_with_delivery=_visits(steps, delivered=service.delivery_allowed),
    )


# --- prerequisites -----------------------------------------------------------------------------


def order_prerequisites(graph: Mapping[str, Sequence[str]], code: str) -> list[str]:
    """Every code that `code` requires, transitively, each listed after its own requirements."""
    ordered: list[str] = []

    def visit(node: str, path: tuple[str, ...]) -> None:
        if node in path:
            raise PrerequisiteCycle([*path[path.index(node) :], node])
        if node in ordered:
            return
        for required in graph.get(node, ()):
            visit(required, (*path, node))
        ordered.append(node)

    visit(code, ())
    return ordered[:-1]


def prerequisite_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each distinct cycle in the graph once, as the walk around it."""
    cycles: dict[frozenset[str], list[str]] = {}
    for code in sorted(graph):
        try:
            order_prerequisites(graph, code)
        except PrerequisiteCycle as cycle:
            cycles.setdefault(frozenset(cycle.codes), cycle.codes)
    return list(cycles.values())


def prerequisite_graph(session: Session) -> dict[str, list[str]]:
    """What each published service requires (latest versions), by code."""
    latest = _published().subquery()
    rows = session.execute(
        select(latest.c.code, ServicePrerequisite.requires_code)
        .outerjoin(ServicePrerequisite, ServicePrerequisite.service_id == latest.c.id)
        .order_by(latest.c.code, ServicePrerequisite.requires_code)
    )
    graph: dict[str, list[str]] = {}
    for code, required in rows:
        graph.setdefault(code, [])
        if required is not None:
            graph[code].append(required)
    return graph


def prerequisite_chain(session: Session, code: str) -> list[str]:
    """The services `code` depends on, transitively, in the order they must be done.

    Raises ServiceNotFound for an unknown code and PrerequisiteCycle if services require
    each other in a circle.
    """
    graph = prerequisite_graph(session)
    if code not in graph:
        raise ServiceNotFound(code)
    return order_prerequisites(graph, code)


# --- categories and departments ----------------------------------------------------------------


def categories(session: Session, *, language: Language = "mk") -> list[CategoryOut]:
    """Categories that have published services, with how many each has."""
    latest = _published().subquery()
    rows = session.execute(
        select(latest.c.category, func.count()).group_by(latest.c.category)
    ).all()
    known = category_names()
    labelled = [(code, known.get(code) or Texts(mk=code, sq=code, en=code), n) for code, n in rows]
    return sorted(
        (
            CategoryOut(code=code, name=names.in_(language), names=names, services=n)
            for code, names, n in labelled
        ),
        key=lambda category: category.code,
    )


def departments(session: Session, *, language: Language = "mk") -> list[DepartmentOut]:
    """Every department, by code."""
    rows = session.scalars(select(Department).order_by(Department.code))
    return [_department(row, language) for row in rows]


def _department(row: Department, language: Language) -> DepartmentOut:
    names = Texts(mk=row.name_mk, sq=row.name_sq, en=row.name_en)
    return DepartmentOut(code=row.code, name=names.in_(language), names=names)
