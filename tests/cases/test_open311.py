"""Open311 GeoReport v2: the specification's shapes, keys, idempotency, and nothing private out."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own test responses

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme.audit.models import AuditEntry
from navreme.cases import actions, open311, open311_keys, open311_public
from navreme.cases.models import Case, CaseEvent
from navreme.catalogue.actions import load_demo_catalogue
from navreme.registry.models import Municipality
from tests import factories

BASE = "/open311/v2"


@pytest.fixture
def key(db_session: Session) -> str:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    factories.municipality(db_session)  # MK-101 Veles, 41.7 / 21.8
    db_session.add(Municipality(code="MK-77", name="Centar", name_mk="Центар", region="Skopje",
                                in_city_of_skopje=True, latitude=41.996, longitude=21.431))  # fmt: skip
    issued = open311_keys.issue_key(db_session, client="fixmystreet", actor=None)
    db_session.commit()
    return issued


def _post(client: TestClient, key: str, fmt: str = "json", **fields: str) -> object:
    form = {"api_key": key, "service_code": "waste", "lat": "41.9981", "long": "21.4254",
            "description": "Bins overflowing for a week."} | fields  # fmt: skip
    return client.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in form.items() if v})


def test_services__public_categories__json_and_xml(client: TestClient, key: str) -> None:
    services = client.get(f"{BASE}/services.json", params={"lang": "en"}).json()
    waste = next(row for row in services if row["service_code"] == "waste")
    assert waste == {
        "service_code": "waste", "service_name": "Waste and cleanliness",
        "description": waste["description"], "metadata": False, "type": "realtime",
        "keywords": "rubbish, garbage, bins, dumping", "group": "municipal",
    }  # fmt: skip
    assert len(services) == 20
    xml = client.get(f"{BASE}/services.xml", params={"lang": "mk", "jurisdiction_id": "mk"})
    assert xml.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(xml.content)  # noqa: S314 - our own response
    assert root.tag == "services"
    assert len(root.findall("service")) == 20
    assert root.find("service/metadata").text == "false"  # type: ignore[union-attr]
    assert "Отпад" in xml.text


def test_service_definition__known_unknown_and_bad_format(client: TestClient, key: str) -> None:
    assert client.get(f"{BASE}/services/roads.json").json() == {
        "service_code": "roads", "attributes": [],
    }  # fmt: skip
    missing = client.get(f"{BASE}/services/unicorns.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404
    xml = client.get(f"{BASE}/services/unicorns.xml")
    assert ET.fromstring(xml.content).find("error/code").text == "404"  # type: ignore[union-attr]  # noqa: S314
    assert client.get(f"{BASE}/services.csv").status_code == 404
    assert client.get(f"{BASE}/services.csv").json()[0]["code"] == 404


def test_post__creates_one_case__repeat_by_header_or_own_id__same_reference(
    client: TestClient, key: str, db_session: Session
) -> None:
    first = _post(client, key, service_request_id="B-1", email="ana@example.org",
                  first_name="Ana", phone="+389 70 123 456")  # fmt: skip
    assert first.status_code == 201  # type: ignore[attr-defined]
    body = first.json()  # type: ignore[attr-defined]
    reference = body[0]["service_request_id"]
    assert reference.startswith("NV-")
    assert body[0]["account_id"] is None
    assert body[0]["service_notice"]
    again = _post(client, key, service_request_id="B-1")
    assert again.status_code == 200  # type: ignore[attr-defined]
    assert again.json()[0]["service_request_id"] == reference  # type: ignore[attr-defined]
    headers = {"Idempotency-Key": "k-42"}
    form = {"api_key": key, "service_code": "roads", "address_string": "ул. Партизанска 12"}
    made = client.post(f"{BASE}/requests.json", data=form, headers=headers)
    repeat = client.post(f"{BASE}/requests.xml", data=form, headers=headers)
    assert made.status_code == 201
    assert repeat.status_code == 200
    assert made.json()[0]["service_request_id"] in repeat.text
    assert db_session.scalar(select(func.count()).select_from(Case)) == 2
    case = db_session.scalar(select(Case).where(Case.reference == reference))
    assert case is not None
    assert (case.channel, case.open311_client, case.idempotency_key) == (
        "open311", "fixmystreet", "fixmystreet:B-1",
    )  # fmt: skip
    assert (case.contact_channel, case.contact_address) == ("email", "ana@example.org")
    assert case.municipality_code == "MK-77"  # nearest centre to the point
    assert case.status == "new"
    note = db_session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                     CaseEvent.kind == "note"))  # fmt: skip
    assert note is not None
    assert note.public is False
    assert note.details["open311_sender"]["first_name"] == "Ana"


def test_post__far_from_every_municipality__none(
    client: TestClient, key: str, db_session: Session
) -> None:
    made = _post(client, key, lat="42.3308", long="-71.1118")  # Boston
    reference = made.json()[0]["service_request_id"]  # type: ignore[attr-defined]
    case = db_session.scalar(select(Case).where(Case.reference == reference))
    assert case is not None
    assert case.municipality_code is None


def test_post__municipality_gone_meanwhile__clean_400_with_its_message(
    client: TestClient, key: str, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The INSERT finds no such municipality (the foreign key is never broken): Open311's 400."""
    monkeypatch.setattr(open311, "nearest_municipality", lambda *_: "MK-999")
    for fmt in ("json", "xml"):
        refused = _post(client, key, fmt)
        assert refused.status_code == 400  # type: ignore[attr-defined]
        assert "Unknown municipality 'MK-999'." in refused.text  # type: ignore[attr-defined]
    assert refused.headers["content-type"].startswith("application/xml")  # type: ignore[attr-defined]
    assert db_session.scalar(select(func.count()).select_from(Case)) == 0


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"api_key": ""}, 403, "api_key is required"),
        ({"api_key": "o311_nope_nope"}, 403, "Invalid api_key"),
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "unicorns"}, 400, "service_code not found"),
        ({"lat": "", "long": ""}, 400, "location is required"),
        ({"lat": "north"}, 400, "decimal degrees"),
        ({"lat": "91"}, 400, "within"),
        ({"long": "nan"}, 400, "decimal degrees"),
        ({"email": "not-an-address"}, 400, "e-mail"),
        ({"media_url": "javascript:alert(1)"}, 400, "http"),
        ({"description": "x" * 4001}, 400, "longer than 4000"),
    ],
)
def test_post__bad_input__spec_errors(
    client: TestClient, key: str, fields: dict[str, str], status: int, says: str
) -> None:
    for fmt in ("json", "xml"):
        response = _post(client, key, fmt, **fields)
        assert response.status_code == status  # type: ignore[attr-defined]
        assert says in response.text  # type: ignore[attr-defined]
    response = _post(client, key, **fields)
    assert response.json() == [{"code": status, "description": response.json()[0]["description"]}]  # type: ignore[attr-defined]


def test_post__huge_or_malformed_body__413_400(client: TestClient, key: str) -> None:
    huge = client.post(f"{BASE}/requests.json", content=b"description=" + b"x" * 70_000,
                       headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert huge.status_code == 413
    assert huge.json()[0]["code"] == 413
    broken = client.post(f"{BASE}/requests.json", content=b"api_key=\xff\xfe",
                         headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert broken.status_code == 400
    as_json = client.post(f"{BASE}/requests.json", json={"api_key": key})
    assert as_json.status_code == 400
    assert "form-encoded" in as_json.json()[0]["description"]


def test_revoked_key__403__refusal_audited(
    client: TestClient, key: str, db_session: Session
) -> None:
    assert _post(client, key).status_code == 201  # type: ignore[attr-defined]
    open311_keys.revoke_key(db_session, client="fixmystreet", actor=None)
    db_session.commit()
    refused = _post(client, key, description="again")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    denied = db_session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "open311.submit", AuditEntry.outcome == "denied"))  # fmt: skip
    assert denied == 1
    rotated = open311_keys.issue_key(db_session, client="fixmystreet", actor=None)
    db_session.commit()
    assert _post(client, rotated, description="with the new key").status_code == 201  # type: ignore[attr-defined]
    assert _post(client, key, description="old key").status_code == 403  # type: ignore[attr-defined]


def test_get_requests__public_fields_only__nothing_that_names_a_person(
    client: TestClient, key: str, db_session: Session
) -> None:
    text = ("Call me on +389 70 123 456 or ana.petrova@example.org, EMBG 1705990455001; "
            "the pothole at the school has been there since 2026-11-02.")  # fmt: skip
    made = _post(client, key, service_code="roads", description=text, email="ana@example.org",
                 first_name="Ana", last_name="Petrova", lat="41.99812345", long="21.42541234",
                 address_string="49 S Huntington Ave, Jamaica Plain")  # fmt: skip
    reference = made.json()[0]["service_request_id"]  # type: ignore[attr-defined]
    got = client.get(f"{BASE}/requests/{reference}.json", params={"lang": "en"}).json()
    assert len(got) == 1
    row = got[0]
    assert row["status"] == "open"
    assert row["service_code"] == "roads"
    assert row["service_name"] == "Roads and pavements"
    assert row["agency_responsible"]
    assert row["description"] == (
        "Call me on [phone] or [e-mail], EMBG [personal number]; "
        "the pothole at the school has been there since 2026-11-02."
    )
    assert row["address"] == "S Huntington Ave, Jamaica Plain"
    assert (row["lat"], row["long"]) == (41.998, 21.425)
    assert row["expected_datetime"] > row["requested_datetime"]
    page = client.get(f"{BASE}/requests.json").text + client.get(f"{BASE}/requests.xml").text
    for private in ("Ana", "Petrova", "ana@example.org", "123 456", "1705990455001", "49 S"):
        assert private not in page
    assert client.get(f"{BASE}/requests/NV-NOTHERE.json").status_code == 404


def test_get_requests__filters_status_codes_ids_dates_paging(
    client: TestClient, key: str, db_session: Session
) -> None:
    references = [
        _post(client, key, service_code=code, description=f"request {n}").json()[0][  # type: ignore[attr-defined]
            "service_request_id"
        ]
        for n, code in enumerate(["waste", "waste", "roads", "other"])
    ]
    case = db_session.scalar(select(Case).where(Case.reference == references[0]))
    assert case is not None
    case.status, case.resolution = "resolved", "Emptied on Monday; call 070 123 456."
    db_session.commit()

    def listed(**params: str) -> list[str]:
        response = client.get(f"{BASE}/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [row["service_request_id"] for row in response.json()]

    assert set(listed()) == set(references)
    assert listed(status="closed") == [references[0]]
    assert set(listed(status="open")) == set(references[1:])
    assert set(listed(service_code="waste,roads")) == set(references[:3])
    assert listed(service_request_id=f"{references[0]},{references[3]}") != []
    closed = client.get(f"{BASE}/requests/{references[0]}.json").json()[0]
    assert closed["status_notes"] == "Emptied on Monday; call [phone]."
    assert len(listed(page_size="2")) == 2
    assert len(listed(page_size="2", page="2")) == 2
    assert listed(page_size="2", page="3") == []
    assert listed(start_date="2000-01-01T00:00:00Z", end_date="2000-02-01T00:00:00Z") == []
    for params in ({"status": "pending"}, {"page_size": "1001"}, {"start_date": "yesterday"},
                   {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}):  # fmt: skip
        bad = client.get(f"{BASE}/requests.json", params=params)
        assert bad.status_code == 400, params
        assert bad.json()[0]["code"] == 400


def test_description_from_another_channel__not_published(
    client: TestClient, key: str, db_session: Session
) -> None:
    from navreme.identity.principal import Principal

    case = actions.receive(db_session, actions.Submission(
        text="My pension is late, I am Ana.", channel="web", category_code="pension",
        person_id=None), actor=Principal(kind="citizen", id=uuid.uuid4())).case  # fmt: skip
    db_session.commit()
    row = client.get(f"{BASE}/requests/{case.reference}.json").json()[0]
    assert row["description"] is None
    assert row["service_code"] == "pension"


def test_redact__keeps_dates_and_short_numbers() -> None:
    assert open311_public.redact("Call 02/3123-456 at 10:30 on 12.03.2026, house 12") == (
        "Call [phone] at 10:30 on 12.03.2026, house 12"
    )
    assert (
        open311_public.street_level("ул. Партизанска бр. 12, Скопје") == "ул. Партизанска, Скопје"
    )
    assert open311_public.street_level("Joe Moakley Park") == "Joe Moakley Park"
