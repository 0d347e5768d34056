"""Loading the demo catalogue: idempotent, audited, and readable through the domain queries."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme.audit.models import AuditEntry
from navreme.catalogue.actions import load_catalogue, load_demo_catalogue
from navreme.catalogue.models import Service, ServiceEvidence, ServicePrerequisite, ServiceStep
from navreme.catalogue.queries import (
    ServiceNotFound,
    demo_catalogue,
    prerequisite_chain,
    published_services,
    service_by_code,
)
from navreme.identity.models import Department
from tests import factories

TABLES = (Department, Service, ServiceStep, ServiceEvidence, ServicePrerequisite)


def row_counts(session: Session) -> dict[str, int | None]:
    return {
        table.__tablename__: session.scalar(select(func.count()).select_from(table))
        for table in TABLES
    }


def test_load_demo_catalogue__twice__adds_nothing_the_second_time(db_session: Session) -> None:
    first = load_demo_catalogue(db_session)
    counts = row_counts(db_session)
    second = load_demo_catalogue(db_session)
    data = demo_catalogue()
    assert first.services_created == len(data["services"]) >= 24
    assert first.departments_created == len(data["departments"])
    assert second.services_created == second.departments_created == 0
    assert second.services_existing == first.services_created
    assert row_counts(db_session) == counts


def test_load_demo_catalogue__writes_an_audit_entry_with_the_counts(db_session: Session) -> None:
    report = load_demo_catalogue(db_session)
    entry = db_session.scalars(select(AuditEntry).filter_by(action="catalogue.load")).one()
    assert entry.actor_kind == "system"
    assert entry.details == report.model_dump()


def test_load_demo_catalogue__keeps_a_department_that_already_exists(db_session: Session) -> None:
    existing = factories.department(db_session, "MVR")
    report = load_demo_catalogue(db_session)
    assert report.departments_existing == 1
    assert db_session.scalar(select(func.count()).where(Department.code == "MVR")) == 1
    assert service_by_code(db_session, "id-card").department_id == existing.id  # type: ignore[union-attr]


def test_load_catalogue__new_version__becomes_the_one_people_see(db_session: Session) -> None:
    load_demo_catalogue(db_session)
    data = demo_catalogue()
    passport = next(s for s in data["services"] if s["code"] == "passport")
    data["services"] = [{**passport, "version": 2, "fees": []}]
    assert load_catalogue(db_session, data).services_created == 1
    assert service_by_code(db_session, "passport").version == 2  # type: ignore[union-attr]
    assert service_by_code(db_session, "passport", version=1).fees != []  # type: ignore[union-attr]
    listed = published_services(db_session, category="identity-documents", language="en")
    assert [s.version for s in listed if s.code == "passport"] == [2]


def test_prerequisite_chain__lists_transitive_dependencies_first(db_session: Session) -> None:
    load_demo_catalogue(db_session)
    assert prerequisite_chain(db_session, "unemployment-benefit") == [
        "id-card",
        "unemployment-registration",
    ]
    assert prerequisite_chain(db_session, "passport") == ["id-card"]
    assert prerequisite_chain(db_session, "id-card") == []
    with pytest.raises(ServiceNotFound):
        prerequisite_chain(db_session, "time-machine")


def test_published_services__match_words_in_any_language_and_audience(db_session: Session) -> None:
    load_demo_catalogue(db_session)

    def codes(**filters: str) -> set[str]:
        return {s.code for s in published_services(db_session, language="mk", **filters)}

    assert codes(q="ПАСОШ") == {"passport", "passport-minor"}
    assert codes(q="pasaporta") == {"passport", "passport-minor"}
    assert "passport" in codes(q="passport", audience="diaspora")
    assert "passport-minor" not in codes(audience="adults")
    assert codes(category="civil-status", department="UMEV") >= {"birth-certificate"}
