"""The public catalogue API: lists, filters, pages, languages, details and errors."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme.catalogue.actions import load_demo_catalogue

URL = "/api/v1/catalogue"


@pytest.fixture
def catalogue(db_session: Session) -> None:
    load_demo_catalogue(db_session)
    db_session.commit()


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(URL + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("catalogue")
def test_services__lists_every_published_service_by_name(client: TestClient) -> None:
    page = get(client, "/services", lang="en", limit=200)
    names = [item["name"] for item in page["items"]]
    assert page["total"] == len(names) >= 24
    assert names == sorted(names, key=str.casefold)
    passport = next(item for item in page["items"] if item["code"] == "passport")
    assert passport["name"] == "Passport"
    assert passport["names"] == {"mk": "Пасош", "sq": "Pasaporta", "en": "Passport"}
    assert passport["department"] == "MVR"


@pytest.mark.usefixtures("catalogue")
def test_services__lang_picks_the_language_of_name_and_description(client: TestClient) -> None:
    item = get(client, "/services", q="passport", lang="sq", audience="adults")["items"][0]
    assert (item["name"], item["description"]) == (item["names"]["sq"], item["descriptions"]["sq"])
    assert get(client, "/services", q="passport")["items"][0]["name"] == "Пасош"


@pytest.mark.usefixtures("catalogue")
def test_services__filters_combine(client: TestClient) -> None:
    page = get(client, "/services", category="family-benefits", department="MTSP", lang="en")
    assert {item["code"] for item in page["items"]} >= {"child-benefit", "parental-allowance"}
    assert {item["category"] for item in page["items"]} == {"family-benefits"}
    assert get(client, "/services", q="детски додаток")["items"][0]["code"] == "child-benefit"
    assert get(client, "/services", department="NOPE") == {
        "items": [], "total": 0, "limit": 50, "offset": 0,
    }  # fmt: skip


@pytest.mark.usefixtures("catalogue")
def test_services__pages_with_limit_and_offset(client: TestClient) -> None:
    everything = [item["code"] for item in get(client, "/services", limit=200)["items"]]
    page = get(client, "/services", limit=5, offset=5)
    assert [item["code"] for item in page["items"]] == everything[5:10]
    assert (page["total"], page["limit"], page["offset"]) == (len(everything), 5, 5)


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"lang": "de"}, {"audience": "cats"}]
)
def test_services__out_of_range_parameters__are_refused(
    client: TestClient, params: dict[str, Any]
) -> None:
    response = client.get(URL + "/services", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize(("path", "params"), [
    ("/services/id-card", {"version": 2**70}),  # T14: OverflowError on SQLite, 500
    ("/services", {"offset": 2**70}),
])  # fmt: skip
def test_huge_numbers__are_refused_not_a_crash(
    client: TestClient, path: str, params: dict[str, Any]
) -> None:
    response = client.get(URL + path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.usefixtures("catalogue")
def test_service__id_card_detail__steps_lead_time_and_visits(client: TestClient) -> None:
    card = get(client, "/services/id-card", lang="en")
    assert [(s["kind"], s["department"], s["lead_time_days"], s["needs_visit"])
            for s in card["steps"]] == [
        ("apply", "MVR", 0, True), ("produce", "MVR", 10, False), ("collect", "MVR", 0, True),
    ]  # fmt: skip
    assert (card["total_lead_time_days"], card["visits_needed"]) == (10, 2)
    assert card["visits_needed_with_delivery"] == 2
    assert card["fees"] == [
        {"amount": 500, "currency": "MKD", "label": "Identity card form",
         "labels": {"mk": "Образец на лична карта", "sq": "Formulari i letërnjoftimit",
                    "en": "Identity card form"}},
    ]  # fmt: skip
    supplied = {e["code"]: e["supplied_by"] for e in card["evidence"]}
    assert supplied["birth-record"] == "umev.births"
    assert card["legal_basis"] == "Law on Identity Card"
    assert (card["status"], card["version"]) == ("published", 1)
    assert card["published_at"] is not None


@pytest.mark.usefixtures("catalogue")
def test_service__passport_detail__needs_a_valid_id_card_and_may_be_delivered(
    client: TestClient,
) -> None:
    passport = get(client, "/services/passport", lang="en")
    assert passport["prerequisites"] == [
        {"code": "id-card", "condition": "valid", "name": "Identity card"}
    ]
    assert passport["prerequisite_chain"] == ["id-card"]
    assert (passport["visits_needed"], passport["visits_needed_with_delivery"]) == (2, 1)
    benefit = get(client, "/services/unemployment-benefit")
    assert benefit["prerequisite_chain"] == ["id-card", "unemployment-registration"]


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("path", ["/services/time-machine", "/services/id-card?version=9"])
def test_service__unknown__is_404_in_the_error_envelope(client: TestClient, path: str) -> None:
    response = client.get(URL + path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["message"]


@pytest.mark.usefixtures("catalogue")
def test_categories__have_names_and_counts(client: TestClient) -> None:
    categories = {c["code"]: c for c in get(client, "/categories", lang="sq")}
    assert categories["identity-documents"]["name"] == "Dokumentet personale"
    assert categories["identity-documents"]["services"] == 4
    assert sum(c["services"] for c in categories.values()) == get(client, "/services")["total"]


@pytest.mark.usefixtures("catalogue")
def test_departments__are_named_in_the_language_asked_for(client: TestClient) -> None:
    departments = {d["code"]: d for d in get(client, "/departments", lang="mk")}
    assert departments["MVR"]["name"] == "Министерство за внатрешни работи"
    assert departments["UMEV"]["names"]["en"] == "Directorate for Keeping the Civil Registry Books"


def test_catalogue__is_empty_but_working_before_anything_is_loaded(client: TestClient) -> None:
    assert get(client, "/services")["total"] == 0
    assert get(client, "/categories") == []


def test_openapi__describes_every_catalogue_route_with_its_response(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, schema in [
        ("/services", "ServicePage"), ("/services/{code}", "ServiceDetail"),
    ]:  # fmt: skip
        ok = paths[URL + path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["$ref"].endswith(schema)
    assert "404" in paths[URL + "/services/{code}"]["get"]["responses"]
    for path in ("/categories", "/departments"):
        ok = paths[URL + path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"]["type"] == "array"
