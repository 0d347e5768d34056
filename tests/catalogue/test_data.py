"""The demo catalogue's data files: complete, consistent and true to the services they describe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from navreme.catalogue.actions import validate_catalogue
from navreme.catalogue.models import LIFECYCLE, STEP_KINDS
from navreme.catalogue.queries import (
    PrerequisiteCycle,
    demo_catalogue,
    order_prerequisites,
    prerequisite_cycles,
)
from navreme.catalogue.schemas import Status, StepKind

FIXED_DEPARTMENTS = {"MVR", "UMEV", "MTSP", "UJP", "FZO", "PIOM", "AVRM", "AKN", "CRRSM", "MON"}
PROMISED_CODES = {
    "id-card", "first-adult-id-card", "passport", "passport-minor", "driving-licence",
    "birth-certificate", "child-benefit", "parental-allowance", "address-change",
    "vehicle-registration", "marriage-certificate", "death-certificate", "citizenship-certificate",
    "criminal-record-certificate", "pension-application", "unemployment-registration",
    "property-sheet", "business-registration", "tax-residence-certificate", "school-enrolment",
    "student-grant", "social-assistance", "disability-allowance",
}  # fmt: skip
CYRILLIC = re.compile(r"[\u0400-\u04FF]")


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return demo_catalogue()


def by_code(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(service for service in data["services"] if service["code"] == code)


def texts_in(service: dict[str, Any]) -> Iterator[tuple[str, dict[str, str]]]:
    yield "name", service["name"]
    yield "description", service["description"]
    for step in service["steps"]:
        yield f"step {step['kind']}", step["name"]
    for evidence in service["evidence"]:
        yield f"evidence {evidence['code']}", evidence["name"]
    for fee in service["fees"]:
        yield "fee", fee["label"]


def test_demo_catalogue__has_no_problems(data: dict[str, Any]) -> None:
    assert validate_catalogue(data) == []


def test_demo_catalogue__has_at_least_24_services_with_the_promised_codes(
    data: dict[str, Any],
) -> None:
    codes = [service["code"] for service in data["services"]]
    assert len(codes) >= 24
    assert len(set(codes)) == len(codes)
    assert set(codes) >= PROMISED_CODES


def test_every_text__is_complete_in_macedonian_albanian_and_english(data: dict[str, Any]) -> None:
    incomplete = [
        f"{service['code']}: {where}"
        for service in data["services"]
        for where, text in texts_in(service)
        if set(text) != {"mk", "sq", "en"} or not all(v.strip() for v in text.values())
        or not CYRILLIC.search(text["mk"]) or CYRILLIC.search(text["sq"] + text["en"])
    ]  # fmt: skip
    assert incomplete == []


def test_descriptions__are_plain_language_of_one_to_three_sentences(data: dict[str, Any]) -> None:
    for service in data["services"]:
        for language, text in service["description"].items():
            sentences = len(re.findall(r"[.!?](\s|$)", text))
            assert 1 <= sentences <= 3, (service["code"], language, sentences)


def test_departments__have_the_fixed_codes_named_in_three_languages(data: dict[str, Any]) -> None:
    departments = {row["code"]: row["name"] for row in data["departments"]}
    assert set(departments) >= FIXED_DEPARTMENTS
    assert all(CYRILLIC.search(name["mk"]) and name["sq"] and name["en"]
               for name in departments.values())  # fmt: skip


def test_every_department_code_used__is_a_known_department(data: dict[str, Any]) -> None:
    known = {row["code"] for row in data["departments"]}
    used = {service["department"] for service in data["services"]}
    used |= {step["department"] for service in data["services"] for step in service["steps"]}
    assert used <= known


def test_prerequisites__name_known_services_and_never_form_a_cycle(data: dict[str, Any]) -> None:
    graph = {s["code"]: [p["code"] for p in s["prerequisites"]] for s in data["services"]}
    assert {code for required in graph.values() for code in required} <= set(graph)
    assert prerequisite_cycles(graph) == []


def test_id_card__apply_in_person_then_produced_in_10_days_then_collected_in_person(
    data: dict[str, Any],
) -> None:
    steps = [
        (s["kind"], s["lead_time_days"], s["needs_visit"])
        for s in by_code(data, "id-card")["steps"]
    ]
    assert steps == [("apply", 0, True), ("produce", 10, False), ("collect", 0, True)]


@pytest.mark.parametrize("code", ["passport", "driving-licence"])
def test_passport_and_driving_licence__need_a_valid_id_card_and_take_10_days(
    data: dict[str, Any], code: str
) -> None:
    service = by_code(data, code)
    assert {"code": "id-card", "condition": "valid"} in service["prerequisites"]
    kinds = [(s["kind"], s["needs_visit"]) for s in service["steps"]]
    assert kinds == [("apply", True), ("produce", False), ("collect", True)]
    assert sum(step["lead_time_days"] for step in service["steps"]) == 10


def test_passport__may_be_delivered_instead_of_collected(data: dict[str, Any]) -> None:
    assert by_code(data, "passport")["delivery_allowed"] is True
    assert by_code(data, "id-card")["delivery_allowed"] is False


def test_child_benefit__requires_the_birth_to_be_registered(data: dict[str, Any]) -> None:
    required = by_code(data, "child-benefit")["prerequisites"]
    assert required == [{"code": "birth-certificate", "condition": "completed"}]


def test_evidence__says_which_registry_supplies_it_or_that_the_person_brings_it(
    data: dict[str, Any],
) -> None:
    licence = {e["code"]: e["supplied_by"] for e in by_code(data, "driving-licence")["evidence"]}
    assert licence["medical-certificate"] is None
    assert licence["valid-id-card"] == "registry.documents"
    passport = {e["code"]: e["supplied_by"] for e in by_code(data, "passport")["evidence"]}
    assert passport["birth-record"] == "umev.births"


def test_fees__are_in_denars_with_indicative_amounts(data: dict[str, Any]) -> None:
    fees = {s["code"]: s["fees"] for s in data["services"]}
    assert [fee["amount"] for fee in fees["id-card"]] == [500]
    assert [fee["amount"] for fee in fees["passport"]] == [1500]
    assert {fee["currency"] for rows in fees.values() for fee in rows} == {"MKD"}


def test_schema_vocabularies__match_the_tables() -> None:
    assert set(get_args(StepKind)) == set(STEP_KINDS)
    assert set(get_args(Status)) == set(LIFECYCLE)


def test_order_prerequisites__lists_transitive_requirements_before_what_needs_them() -> None:
    graph = {"d": ["c", "b"], "c": ["a"], "b": ["a"], "a": []}
    assert order_prerequisites(graph, "d") == ["a", "c", "b"]
    assert order_prerequisites(graph, "a") == []


def test_order_prerequisites__refuses_a_cycle_and_names_it() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["b"]}
    with pytest.raises(PrerequisiteCycle) as refused:
        order_prerequisites(graph, "a")
    assert refused.value.codes == ["b", "c", "b"]
    assert prerequisite_cycles(graph) == [["b", "c", "b"]]
