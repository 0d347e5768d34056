"""Boston's own published Open311 requests, every record, POSTed through our GeoReport v2 API.

Reads `boston-open311/raw_georeport_pages/*.json` from NAVREME_DATASETS (or ../shared/datasets
beside the repository) at test time; skipped where the data set is absent. SQLite takes every
record; PostgreSQL a sample of the first 200 per file (the same code path, a slower server).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme.cases import actions, open311_keys
from navreme.cases.models import Case
from navreme.catalogue.actions import load_demo_catalogue

REPO = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("NAVREME_DATASETS", REPO.parent / "shared" / "datasets"))
PAGES = sorted((DATASETS / "boston-open311" / "raw_georeport_pages").glob("*.json"))
POSTGRES_SAMPLE = 200
# Boston's service names → our categories (the mapping an integrator would configure).
CATEGORY_FOR = {
    "Illegal Parking": "parking",
    "Abandoned Vehicle": "parking",
    "Sidewalk Not Shoveled": "roads",
    "Unsafe Dangerous Conditions": "roads",
    "Other": "other",
}
BASE = "/open311/v2"

pytestmark = pytest.mark.skipif(not PAGES, reason=f"no Boston Open311 pages under {DATASETS}")


@pytest.fixture
def key(db_session: Session) -> str:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    issued = open311_keys.issue_key(db_session, client="boston", actor=None)
    db_session.commit()
    return issued


def _records(backend: str) -> list[list[dict[str, Any]]]:
    pages = [json.loads(page.read_text(encoding="utf-8")) for page in PAGES]
    return [page[:POSTGRES_SAMPLE] if backend == "postgres" else page for page in pages]


def _form(record: dict[str, Any], key: str) -> dict[str, str]:
    fields = {
        "api_key": key, "service_code": CATEGORY_FOR[record["service_name"]],
        "description": record.get("description"), "address_string": record.get("address"),
        "lat": record.get("lat"), "long": record.get("long"), "media_url": record.get("media_url"),
    }  # fmt: skip
    return {name: str(value) for name, value in fields.items() if value not in (None, "")}


def _own_id(record: dict[str, Any]) -> str:
    """Boston's id; a few just-submitted records have none yet: a hash of the record then."""
    if "service_request_id" in record:
        return str(record["service_request_id"])
    return "sha256:" + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]


def _post(client: TestClient, record: dict[str, Any], key: str) -> tuple[int, Any]:
    """Boston's own id as the `service_request_id` field; without one, an Idempotency-Key."""
    own_id, form = _own_id(record), _form(record, key)
    headers = {"Idempotency-Key": own_id} if own_id.startswith("sha256:") else {}
    if not headers:
        form["service_request_id"] = own_id
    response = client.post(f"{BASE}/requests.json", data=form, headers=headers)
    return response.status_code, response.json()


def test_boston__every_record_accepted_or_refused_with_a_reason__once__readable_back(
    client: TestClient, key: str, db_session: Session, backend: str
) -> None:
    pages = _records(backend)
    references: dict[str, str] = {}  # Boston's id → our reference
    refused: list[tuple[str, int, str]] = []
    for page in pages:
        for record in page:
            status, body = _post(client, record, key)
            if status in (200, 201):
                reference = body[0]["service_request_id"]
                assert references.setdefault(_own_id(record), reference) == reference
            else:
                refused.append((_own_id(record), status, body[0]["description"]))
    total = sum(len(page) for page in pages)
    accepted = total - len(refused)
    assert accepted >= 0.99 * total, Counter(reason for _, _, reason in refused)
    assert all(status == 400 and len(reason) > 10 for _, status, reason in refused), refused[:5]
    cases = db_session.scalar(select(func.count()).select_from(Case))
    assert cases == len(references)

    # the same page again: the same references, no new case
    for record in pages[0][:POSTGRES_SAMPLE]:
        status, body = _post(client, record, key)
        if _own_id(record) in references:
            assert status == 200
            assert body[0]["service_request_id"] == references[_own_id(record)]
    assert db_session.scalar(select(func.count()).select_from(Case)) == cases

    # read back through GET, page by page: every case once
    listed: list[dict[str, Any]] = []
    for page_number in range(1, 100):
        response = client.get(f"{BASE}/requests.json",
                              params={"page": page_number, "page_size": 1000})  # fmt: skip
        assert response.status_code == 200
        if not response.json():
            break
        listed += response.json()
    assert len(listed) == len(references)
    assert {row["service_request_id"] for row in listed} == set(references.values())
    by_code = Counter(row["service_code"] for row in listed)
    expected = Counter(
        CATEGORY_FOR[record["service_name"]]
        for page in pages
        for record in {_own_id(r): r for r in page}.values()
        if _own_id(record) in references
    )
    assert by_code == expected
    print(f"\nBoston on {backend}: {total} records, {accepted} accepted, "
          f"{len(refused)} refused {Counter(reason for _, _, reason in refused)}")  # fmt: skip
