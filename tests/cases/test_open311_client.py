"""A real Open311 client (`georeport` from PyPI) against our endpoints over HTTP, JSON and XML.

`georeport` reads (services, a service definition, requests by id and by status); it has no
call to submit, so the POST goes with `requests`, form-encoded as the specification says.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from navreme.cases import actions, open311_keys
from navreme.catalogue.actions import load_demo_catalogue

georeport = pytest.importorskip("georeport", reason="georeport is a dev dependency")
requests = pytest.importorskip("requests")


@pytest.fixture
def key(db_session: Session) -> str:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    issued = open311_keys.issue_key(db_session, client="georeport", actor=None)
    db_session.commit()
    return issued


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_client__services_definition_post_get_by_id_and_status(
    live_server: str, key: str, fmt: str
) -> None:
    root = f"{live_server}/open311/v2"
    client = georeport.GeoReport(root, jurisdiction="mk", api_key=key, output_format=fmt)

    services = client.get_service_list()
    assert {service["service_code"] for service in services} >= {"waste", "roads", "other"}
    assert all(service["type"] == "realtime" for service in services)
    definition = client.get_service_definition("street-lighting")
    assert definition["service_code"] == "street-lighting"

    posted = requests.post(
        f"{root}/requests.{fmt}",
        data={
            "api_key": client.api_key,
            "jurisdiction_id": "mk",
            "service_code": "street-lighting",
            "lat": "41.9965",
            "long": "21.4314",
            "description": "Three lamps out on the bridge.",
            "email": "someone@example.org",
        },  # fmt: skip
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    reference = (
        posted.json()[0]["service_request_id"]
        if fmt == "json"
        else posted.text.split("<service_request_id>")[1].split("<")[0]
    )

    one = client.get_service_request(reference)
    assert one["service_request_id"] == reference
    assert one["status"] == "open"
    assert one["description"] == "Three lamps out on the bridge."
    assert "someone@example.org" not in str(one)
    listed = client.get_service_requests(status="open", service_code="street-lighting")
    listed = [listed] if isinstance(listed, dict) else listed  # xmltodict: one item, no list
    assert [row["service_request_id"] for row in listed] == [reference]
    assert client.get_service_requests(service_request_id=reference) == (
        [one] if fmt == "json" else one
    )
    closed = client.get_service_requests(status="closed") if fmt == "json" else []
    assert closed == []
    with pytest.raises(requests.HTTPError):
        client.get_service_definition("unicorns")
