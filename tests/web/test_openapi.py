"""The spec declares the errors the shared plumbing really answers (found by T14's fuzzing)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _responses(client: TestClient, method: str, path: str) -> dict[str, dict]:
    return client.get("/openapi.json").json()["paths"][path][method]["responses"]


def test_an_unparseable_body__is_a_400_envelope__and_the_spec_says_so(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/auth/citizen/code",
        content=b'{"national_id": "\x80"}',  # not UTF-8
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    declared = _responses(client, "post", "/api/v1/auth/citizen/code")["400"]
    assert declared["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


def test_an_unknown_token__is_a_401__on_every_route_that_reads_the_caller(
    client: TestClient,
) -> None:
    answer = client.get("/api/v1/tokens", headers={"Authorization": "Bearer nvs_unknown"})
    assert answer.status_code == 401
    assert "401" in _responses(client, "get", "/api/v1/tokens")
    assert "401" not in _responses(client, "get", "/healthz")  # reads no caller


def test_open311_answers_are_declared_in_their_own_format(client: TestClient) -> None:
    answer = client.get("/open311/v2/services/no-such-service.xml")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/xml")
    declared = _responses(client, "get", "/open311/v2/services/{service_code}.xml")["404"]
    assert list(declared["content"]) == ["application/xml"]
