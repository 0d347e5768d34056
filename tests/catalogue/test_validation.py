"""Bad catalogue data is refused with every problem listed, before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme.audit.models import AuditEntry
from navreme.catalogue.actions import CatalogueInvalid, load_catalogue, validate_catalogue
from navreme.catalogue.models import Service
from navreme.catalogue.queries import demo_catalogue
from navreme.identity.models import Department


def broken_catalogue() -> dict[str, Any]:
    data = demo_catalogue()
    services = {service["code"]: service for service in data["services"]}
    del services["id-card"]["name"]["sq"]
    services["passport"]["steps"][1]["lead_time_days"] = -1
    services["driving-licence"]["department"] = "NOPE"
    services["child-benefit"]["prerequisites"].append({"code": "moon-landing"})
    services["birth-certificate"]["prerequisites"] = [{"code": "death-certificate"}]
    services["death-certificate"]["prerequisites"] = [{"code": "birth-certificate"}]
    services["property-sheet"]["evidence"][0]["supplied_by"] = "registry.nowhere"
    services["student-grant"]["category"] = "leisure"
    return data


EXPECTED_PROBLEMS = [
    "'id-card': name.sq is missing",
    "'passport': steps[1].lead_time_days: Input should be greater than or equal to 0",
    "'driving-licence': department 'NOPE' is unknown",
    "'child-benefit': prerequisite service 'moon-landing' is unknown",
    "'property-sheet': evidence[0].supplied_by 'registry.nowhere' is unknown",
    "'student-grant': category 'leisure' is unknown",
]


def test_validate_catalogue__lists_every_problem() -> None:
    problems = validate_catalogue(broken_catalogue())
    for expected in EXPECTED_PROBLEMS:
        assert any(problem.endswith(expected) for problem in problems), expected
    assert any(p.startswith("prerequisite cycle: ") and "birth-certificate" in p for p in problems)
    assert len(problems) == len(EXPECTED_PROBLEMS) + 1


def test_validate_catalogue__reports_missing_sections_and_duplicates() -> None:
    data = demo_catalogue()
    del data["registries"]
    data["services"].append(data["services"][0])
    problems = validate_catalogue(data)
    assert "registries: a list is required" in problems
    assert "services: 'id-card v1' appears 2 times" in problems


def test_load_catalogue__invalid_data__raises_and_writes_nothing(db_session: Session) -> None:
    def counts() -> tuple[int | None, ...]:
        return tuple(
            db_session.scalar(select(func.count()).select_from(table))
            for table in (Department, Service, AuditEntry)
        )

    before = counts()
    with pytest.raises(CatalogueInvalid) as refused:
        load_catalogue(db_session, broken_catalogue())
    assert len(refused.value.problems) == len(EXPECTED_PROBLEMS) + 1
    assert "name.sq is missing" in str(refused.value)
    assert counts() == before
