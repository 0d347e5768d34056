"""Which language a page speaks: the switch, else the person's profile, else the browser."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories
from tests.web.support import as_citizen


def _lang(html: str) -> str:
    found = re.search(r'<html lang="(\w+)">', html)
    assert found, "no <html lang>"
    return found.group(1)


def test_anonymous__browser_language__then_default(client: TestClient) -> None:
    assert (
        _lang(client.get("/", headers={"Accept-Language": "sq-AL,sq;q=0.9,en;q=0.5"}).text) == "sq"
    )
    assert _lang(client.get("/", headers={"Accept-Language": "de-DE,en;q=0.7"}).text) == "en"
    assert _lang(client.get("/", headers={"Accept-Language": "de-DE"}).text) == "mk"


def test_citizen__profile_language_beats_browser__switch_beats_both_and_stays(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, language="sq")
    as_citizen(client, db_session, person)
    english_browser = {"Accept-Language": "en-GB,en;q=0.9"}
    home = client.get("/me", headers=english_browser)
    assert _lang(home.text) == "sq"
    assert "Shërbimet e mia" in home.text
    switched = client.get("/me?lang=mk", headers=english_browser)
    assert _lang(switched.text) == "mk"
    assert _lang(client.get("/me/appointments", headers=english_browser).text) == "mk"


def test_display_mode__switch_on_every_page__kept(client: TestClient) -> None:
    large = client.get("/?mode=large")
    assert 'class="mode-large"' in large.text
    assert 'class="mode-large"' in client.get("/login/citizen").text
    assert 'class="mode-standard"' in client.get("/login/citizen?mode=standard").text
    assert 'class="mode-standard"' in client.get("/").text
