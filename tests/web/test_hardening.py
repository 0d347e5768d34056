"""T16 and the error envelope: headers, CSRF on forms, cookies, sizes, no stack traces."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories


def test_every_response__carries_security_headers(client: TestClient) -> None:
    for path in ("/", "/healthz", "/api/v1/catalogue/services", "/nowhere"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


def test_healthz__ok(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"


def test_openapi__served_and_lists_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/me" in spec["paths"]


def test_unknown_api_route__404_envelope(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_unknown_page__helpful_html_page_not_json(client: TestClient) -> None:
    response = client.get("/nothing-here", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert 'href="/"' in response.text


def test_wrong_types__422_envelope_lists_fields(client: TestClient) -> None:
    response = client.post("/api/v1/auth/officer/login", json={"username": 5, "totp": "abc"})
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert {"body.username", "body.password", "body.totp"} <= fields


def test_malformed_json__clear_error(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/citizen/code",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


def test_huge_payload__413_before_reading(client: TestClient) -> None:
    response = client.post("/api/v1/auth/citizen/code", content=b"x" * 6_000_000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_huge_chunked_payload__413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(700):
            yield b"x" * 10_000

    response = client.post(
        "/api/v1/auth/citizen/code", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_login_form__without_csrf_token__refused(client: TestClient, db_session: Session) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    client.get("/login/officer")
    form = {
        "username": login.officer.username,
        "password": factories.PASSWORD,
        "totp": login.totp_now,
    }
    refused = client.post(
        "/login/officer", data={**form, "csrf_token": "forged"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert "navreme_session" not in refused.cookies


def _sign_in_by_form(client: TestClient, session: Session) -> tuple[str, Any]:
    """Sign an officer in through the page form; returns the pre-login CSRF token and the reply."""
    login = factories.officer(session)
    session.commit()
    token = _csrf(client.get("/login/officer").text)
    form = {
        "username": login.officer.username,
        "password": factories.PASSWORD,
        "totp": login.totp_now,
    }
    response = client.post(
        "/login/officer", data={**form, "csrf_token": token}, follow_redirects=False
    )
    return token, response


def test_login_form__with_csrf__session_cookie_is_httponly_lax_and_rotates(
    client: TestClient, db_session: Session
) -> None:
    token, response = _sign_in_by_form(client, db_session)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = client.get("/me")
    assert "Test Officer" in home.text
    assert _csrf(home.text) != token  # the signed-in session has its own CSRF token


def test_cookie_session__api_write_without_csrf_header__403(
    client: TestClient, db_session: Session
) -> None:
    _sign_in_by_form(client, db_session)
    assert client.get("/api/v1/me").json()["via"] == "cookie"
    response = client.post("/api/v1/auth/logout")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf"
    csrf = _csrf(client.get("/me").text)
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204


def test_pages__language_switch_and_accept_language(client: TestClient) -> None:
    assert 'lang="sq"' in client.get("/", headers={"Accept-Language": "sq-AL,sq;q=0.9"}).text
    assert 'lang="en"' in client.get("/?lang=en").text
    assert 'lang="en"' in client.get("/").text  # remembered by the language cookie
    assert 'lang="mk"' in client.get("/?lang=mk").text


def test_database_down__503_with_retry_after_then_recovers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from navreme import config

    working = config.get_settings().database_url
    monkeypatch.setenv("NAVREME_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    config.get_settings.cache_clear()
    down = client.get("/healthz")
    assert down.status_code == 503
    assert down.headers["retry-after"] == "1"
    assert down.json()["error"]["code"] == "unavailable"
    monkeypatch.setenv("NAVREME_DATABASE_URL", working)
    config.get_settings.cache_clear()
    assert client.get("/healthz").status_code == 200
