"""The embedded demo end to end: start page → a listed citizen signs in with the outbox code."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from navreme import config
from navreme.demo.seed import seed_demo_country


@pytest.fixture
def demo_client(settings: config.Settings, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    seed_demo_country(settings, persons=300, seed=7)
    monkeypatch.setenv("NAVREME_ENV", "development")
    config.get_settings.cache_clear()
    from navreme.web.app import create_app

    return TestClient(create_app(), raise_server_exceptions=False)


def _first(pattern: str, html: str) -> str:
    found = re.search(pattern, html)
    assert found, pattern
    return found.group(1)


def test_demo__start_page_lists_logins_and_citizens__a_citizen_signs_in(
    demo_client: TestClient,
) -> None:
    start = demo_client.get("/?lang=en").text
    assert "officer.mvr" in start
    assert "Demo citizens" in start
    national_id = _first(r"<code>(\d{13})</code>", start)
    form = demo_client.get("/login/citizen").text
    sent = demo_client.post(
        "/login/citizen",
        data={
            "national_id": national_id,
            "csrf_token": _first(r'name="csrf_token" value="([^"]+)"', form),
        },
    )
    outbox = demo_client.get("/dev/outbox").text
    code = _first(r"(?<![\d+])(\d{6})(?!\d)", outbox)
    home = demo_client.post(
        "/login/citizen/code",
        data={
            "challenge_id": _first(r'name="challenge_id" value="([^"]+)"', sent.text),
            "code": code,
            "csrf_token": _first(r'name="csrf_token" value="([^"]+)"', sent.text),
        },
    )
    assert home.status_code == 200
    assert "My services" in home.text or "Мои услуги" in home.text or "Shërbimet e mia" in home.text


def test_demo__officer_signs_in_with_the_totp_shown_on_the_start_page(
    demo_client: TestClient,
) -> None:
    start = demo_client.get("/?lang=en").text
    totp = _first(
        r"<td>officer\.mvr</td>.*?<code>navreme-demo</code>.*?<code>(\d{6})</code>", start
    )
    form = demo_client.get("/login/officer").text
    home = demo_client.post(
        "/login/officer",
        data={
            "username": "officer.mvr", "password": "navreme-demo", "totp": totp,
            "csrf_token": _first(r'name="csrf_token" value="([^"]+)"', form),
        },
    )  # fmt: skip
    assert home.status_code == 200
    assert "Ана Стојановска" in home.text
