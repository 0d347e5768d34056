"""The rules API: editors write versions, supervisors run them, people see their offers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.catalogue.actions import load_demo_catalogue
from navreme.rules import loader
from navreme.rules.models import Offer, Rule, RuleRun
from tests import factories
from tests.rules import factories as rf

Headers = dict[str, str]
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 22)


@pytest.fixture(autouse=True)
def frozen_clock() -> Any:
    with clock.frozen(NOW):
        yield


@pytest.fixture
def catalogue(db_session: Session) -> Session:
    load_demo_catalogue(db_session)
    db_session.commit()
    return db_session


def _officer(client: TestClient, session: Session, *roles: str) -> Headers:
    login = factories.officer(session, roles=roles)
    session.commit()
    return factories.officer_token(client, login)


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- writing rules -------------------------------------------------------------------------


def test_create_rule__many_problems__422_lists_every_one(
    client: TestClient, catalogue: Session
) -> None:
    editor = _officer(client, catalogue, "catalogue_editor")
    body = rf.definition("document_expiry", trigger={"horizons_days": [0]},
                         service="no-such-service", colour="red")  # fmt: skip

    response = client.post("/api/v1/rules", json=body, headers=editor)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    problems = " | ".join(error["details"])
    assert "colour" in problems
    assert "horizons_days" in problems
    assert "no-such-service" in problems
    assert _count(catalogue, Rule) == 0


def test_create_rule__plain_officer__forbidden(client: TestClient, catalogue: Session) -> None:
    officer = _officer(client, catalogue, "officer")

    response = client.post("/api/v1/rules", json=rf.definition(), headers=officer)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_create_rule__same_code_again__a_new_draft_version_never_an_edit(
    client: TestClient, catalogue: Session
) -> None:
    editor = _officer(client, catalogue, "catalogue_editor")
    body = rf.definition()
    first = client.post("/api/v1/rules", json=body, headers=editor).json()
    client.post(f"/api/v1/rules/{first['id']}/publish", headers=editor)

    second = client.post("/api/v1/rules", json={**body, "level": "inform"}, headers=editor)
    edit = client.post("/api/v1/rules", json={**body, "version": 1}, headers=editor)

    assert second.status_code == 201
    assert (second.json()["version"], second.json()["status"]) == (2, "draft")
    assert edit.status_code == 422
    assert "new version" in edit.json()["error"]["details"][0]
    published = client.post(f"/api/v1/rules/{second.json()['id']}/publish", headers=editor)
    assert published.json()["status"] == "published"
    listing = client.get("/api/v1/rules", headers=editor).json()
    [summary] = [item for item in listing if item["code"] == body["code"]]
    assert summary["published_version"] == 2
    assert [(v["version"], v["status"]) for v in summary["versions"]] == [
        (2, "published"), (1, "retired"),
    ]  # fmt: skip


def test_publish__already_published__409(client: TestClient, catalogue: Session) -> None:
    rule = rf.published_rule(catalogue)
    catalogue.commit()
    editor = _officer(client, catalogue, "catalogue_editor")

    response = client.post(f"/api/v1/rules/{rule.id}/publish", headers=editor)

    assert response.status_code == 409


def test_rule__unknown_id__404(client: TestClient, catalogue: Session) -> None:
    officer = _officer(client, catalogue, "officer")

    response = client.get(f"/api/v1/rules/{rf.uuid.uuid4()}", headers=officer)

    assert response.status_code == 404


# --- running -------------------------------------------------------------------------------


def test_run__unpublished_rule__409_not_published(client: TestClient, catalogue: Session) -> None:
    draft = rf.actions.create_rule_version(catalogue, rf.definition(), actor=None)
    catalogue.commit()
    supervisor = _officer(client, catalogue, "officer", "supervisor")

    response = client.post(f"/api/v1/rules/{draft.id}/run", json={}, headers=supervisor)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_published"
    assert _count(catalogue, RuleRun) == 0


def test_run__published_rule__offers_made_and_run_listed(
    client: TestClient, catalogue: Session
) -> None:
    rule = rf.published_rule(catalogue, "eligibility")
    factories.person(catalogue)
    catalogue.commit()
    supervisor = _officer(client, catalogue, "officer", "supervisor")

    run = client.post(f"/api/v1/rules/{rule.id}/run", json={"as_of": None}, headers=supervisor)
    runs = client.get(f"/api/v1/rules/{rule.id}/runs", headers=supervisor)

    assert run.status_code == 200, run.text
    assert (run.json()["as_of"], run.json()["matched"], run.json()["created"]) == (
        TODAY.isoformat(), 1, 1,
    )  # fmt: skip
    assert len(rf.offers(catalogue, rule)) == 1
    assert [item["id"] for item in runs.json()] == [run.json()["id"]]


def test_run__plain_officer__forbidden(client: TestClient, catalogue: Session) -> None:
    rule = rf.published_rule(catalogue)
    catalogue.commit()
    officer = _officer(client, catalogue, "officer")

    response = client.post(f"/api/v1/rules/{rule.id}/run", json={}, headers=officer)

    assert response.status_code == 403


# --- dry runs ------------------------------------------------------------------------------


def test_dry_run__breaks_down_matches__and_writes_nothing(
    client: TestClient, catalogue: Session
) -> None:
    rule = rf.published_rule(catalogue, "eligibility")
    factories.person(catalogue, born=date(1996, 1, 1))  # 30, Veles, mk
    factories.person(catalogue, born=date(2000, 1, 1), language="sq")  # 26, Veles
    rf.move_abroad(catalogue, factories.person(catalogue, born=date(1950, 3, 3), language="en"))
    factories.person(catalogue, born=date(2016, 6, 1))  # 10
    catalogue.commit()
    officer = _officer(client, catalogue, "officer")
    offers, runs = _count(catalogue, Offer), _count(catalogue, RuleRun)

    response = client.post(
        f"/api/v1/rules/{rule.id}/dry-run", json={"as_of": "2026-11-22"}, headers=officer
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["matched"] == 4
    assert {c["key"]: c["count"] for c in result["by_municipality"]} == {"MK-101": 3, "abroad": 1}
    assert {c["key"]: c["count"] for c in result["by_age_band"]} == {
        "0-17": 1, "18-29": 1, "30-44": 1, "65+": 1,
    }  # fmt: skip
    assert {c["key"]: c["count"] for c in result["by_language"]} == {"mk": 2, "sq": 1, "en": 1}
    assert len(result["sample"]) == 4
    assert set(result["sample"][0]) == {"person_id", "municipality", "age_band", "language"}
    assert (_count(catalogue, Offer), _count(catalogue, RuleRun)) == (offers, runs)


# --- a person's offers ---------------------------------------------------------------------


def test_dry_run__a_day_in_year_one__is_refused_not_a_crash(
    client: TestClient, catalogue: Session
) -> None:
    """T14 found a dry run as of 0050-01-01 crashing the age bands (no year -15)."""
    rule = rf.published_rule(catalogue, "eligibility")
    factories.person(catalogue, born=date(1996, 1, 1))
    catalogue.commit()
    officer = _officer(client, catalogue, "officer")
    for far in ("0050-01-01", "9999-12-31"):
        response = client.post(
            f"/api/v1/rules/{rule.id}/dry-run", json={"as_of": far}, headers=officer
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"][0]["field"] == "body.as_of"


def _family(session: Session) -> tuple[Any, Any, Any]:
    """A parent with a verified phone, their 8-year-old whose passport expires in 30 days."""
    parent = factories.person(session, phone="+38970111222")
    child = factories.person(session, born=date(2018, 5, 5))
    rf.guardian(session, parent, child)
    passport = rf.document(session, child, expires_on=TODAY + timedelta(days=30))
    return parent, child, passport


def _minor_passport_offer(session: Session) -> tuple[Any, Any, Any]:
    parent, child, passport = _family(session)
    paths = [p for p in loader.definition_files() if p.stem == "passport-minor-expiry"]
    loader.sync_definitions(session, paths=paths)
    rule = session.scalar(select(Rule).where(Rule.code == "passport-minor-expiry"))
    assert rule is not None
    rf.actions.run_rule(session, rule, as_of=TODAY)
    session.commit()
    return parent, child, passport


def test_offers__guardian__sees_the_wards_offer_with_reason_facts_and_basis(
    client: TestClient, catalogue: Session
) -> None:
    parent, child, passport = _minor_passport_offer(catalogue)
    headers = factories.citizen_token(client, catalogue, parent)

    own = client.get(f"/api/v1/persons/{parent.id}/offers?lang=en", headers=headers)
    wards = client.get(f"/api/v1/persons/{child.id}/offers?lang=en", headers=headers)

    assert own.status_code == wards.status_code == 200
    assert own.json() == wards.json()
    [offer] = wards.json()
    masked = f"{passport.number[:2]}…{passport.number[-2:]}"
    expires = (TODAY + timedelta(days=30)).strftime("%d.%m.%Y")
    assert offer["reason"] == (
        f"Your child's passport {masked} expires on {expires} (in 30 days). "
        "A parent or guardian applies together with the child."
    )
    assert passport.number not in str(offer)
    assert offer["service"] == {"code": "passport-minor", "name": "Passport for a minor"}
    assert (offer["person_id"], offer["recipient_id"]) == (str(child.id), str(parent.id))
    assert offer["facts"] == {
        "kind": "document", "id": str(passport.id), "date": passport.expires_on.isoformat(),
        "horizon_days": 30, "as_of": TODAY.isoformat(),
    }  # fmt: skip
    assert offer["legal_basis"].startswith("Law on Travel Documents")
    assert (offer["rule"], offer["level"], offer["status"]) == (
        {"code": "passport-minor-expiry", "version": 1}, "offer", "pending",
    )  # fmt: skip


def test_offers__in_macedonian__reason_and_service_name_in_macedonian(
    client: TestClient, catalogue: Session
) -> None:
    parent, child, _ = _minor_passport_offer(catalogue)
    headers = factories.citizen_token(client, catalogue, parent)

    [offer] = client.get(f"/api/v1/persons/{child.id}/offers?lang=mk", headers=headers).json()

    assert offer["reason"].startswith("Пасошот ")
    assert offer["service"]["name"] == "Пасош за малолетно лице"


def test_offers__foreign_citizen__404_and_audited(client: TestClient, catalogue: Session) -> None:
    _, child, _ = _minor_passport_offer(catalogue)
    stranger = factories.person(catalogue, phone="+38970333444")
    catalogue.commit()
    headers = factories.citizen_token(client, catalogue, stranger)

    response = client.get(f"/api/v1/persons/{child.id}/offers", headers=headers)

    assert response.status_code == 404
    denied = catalogue.scalar(
        select(func.count()).where(
            AuditEntry.outcome == "denied", AuditEntry.action == "person.view"
        )
    )
    assert denied == 1


def test_offers__officer__reads_and_the_view_is_audited(
    client: TestClient, catalogue: Session
) -> None:
    _, child, _ = _minor_passport_offer(catalogue)
    officer = _officer(client, catalogue, "officer")

    response = client.get(f"/api/v1/persons/{child.id}/offers", headers=officer)

    assert response.status_code == 200
    assert len(response.json()) == 1
    catalogue.expire_all()
    view = catalogue.scalar(select(AuditEntry).where(AuditEntry.action == "person.view"))
    assert view is not None
    assert view.details.get("section") == "offers"


# --- opting out ----------------------------------------------------------------------------


def test_opt_out__declines_open_offers__and_the_next_run_makes_none(
    client: TestClient, catalogue: Session
) -> None:
    rule = rf.published_rule(catalogue, "eligibility", trigger={"period": "monthly"})
    person = factories.person(catalogue, phone="+38970555666")
    catalogue.commit()
    supervisor = _officer(client, catalogue, "officer", "supervisor")
    client.post(f"/api/v1/rules/{rule.id}/run", json={"as_of": "2026-11-22"}, headers=supervisor)
    headers = factories.citizen_token(client, catalogue, person)

    response = client.post(
        f"/api/v1/persons/{person.id}/proactive-opt-outs", json={"service": "child-benefit"},
        headers=headers,
    )  # fmt: skip
    next_month = client.post(
        f"/api/v1/rules/{rule.id}/run", json={"as_of": "2026-12-22"}, headers=supervisor
    )

    assert response.status_code == 201, response.text
    assert response.json()["declined_offers"] == 1
    assert [o.status for o in rf.offers(catalogue, rule)] == ["declined"]
    assert (next_month.json()["matched"], next_month.json()["created"]) == (0, 0)
    assert len(rf.offers(catalogue, rule)) == 1


def test_opt_out__unknown_service__422(client: TestClient, catalogue: Session) -> None:
    person = factories.person(catalogue, phone="+38970555777")
    catalogue.commit()
    headers = factories.citizen_token(client, catalogue, person)

    response = client.post(
        f"/api/v1/persons/{person.id}/proactive-opt-outs", json={"service": "no-such-service"},
        headers=headers,
    )  # fmt: skip

    assert response.status_code == 422
    assert "no-such-service" in response.json()["error"]["details"][0]["problem"]


def test_opt_out__plain_officer__forbidden(client: TestClient, catalogue: Session) -> None:
    person = factories.person(catalogue)
    catalogue.commit()
    officer = _officer(client, catalogue, "officer")

    response = client.post(
        f"/api/v1/persons/{person.id}/proactive-opt-outs", json={"service": "passport"},
        headers=officer,
    )  # fmt: skip

    assert response.status_code == 403


def test_openapi__rule_routes_declare_their_response_models(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    offers = paths["/api/v1/persons/{person_id}/offers"]["get"]["responses"]["200"]
    dry_run = paths["/api/v1/rules/{rule_id}/dry-run"]["post"]["responses"]["200"]

    assert offers["content"]["application/json"]["schema"]["items"]["$ref"].endswith("/OfferOut")
    assert dry_run["content"]["application/json"]["schema"]["$ref"].endswith("/DryRun")
