"""Browser tests: Navreme served over a seeded SQLite database, driven by Debian's Chromium.

One server, one seeded world and one browser for the package; a fresh context (cookies) per test.
Chromium is never downloaded (`playwright install` is not used): without /usr/bin/chromium the
tests skip, and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from navreme import config, db
from navreme.identity.actions import start_session
from navreme.identity.demo import create_demo_accounts
from tests.browser.serving import CHROMIUM, Serving, launch_chromium
from tests.browser.world import World, build_world

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BROWSER_DIR = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    # pyproject.toml registers the marker on main; this covers a checkout from before that.
    if not any(line.startswith("browser:") for line in config.getini("markers")):
        config.addinivalue_line("markers", "browser: drives a real Chromium against a live server")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BROWSER_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class Site:
    """The live server and what is in its database."""

    url: str
    database_url: str
    world: World
    app: Any  # the served FastAPI app: its routes are the pages to check

    def session(self) -> Session:
        return Session(bind=db.engine_for(self.database_url), expire_on_commit=False)

    def cookie_for(self, who: str) -> dict[str, Any] | None:
        """A fresh session cookie for anonymous | citizen | officer | supervisor."""
        subjects = {
            "citizen": ("citizen", self.world.citizen.id),
            "officer": ("officer", self.world.officer.officer.id),
            "supervisor": ("officer", self.world.supervisor.officer.id),
        }
        if who == "anonymous":
            return None
        kind, subject_id = subjects[who]
        with self.session() as session:
            started = start_session(session, subject_kind=kind, subject_id=subject_id,
                                    replaces=None)  # fmt: skip
            session.commit()
        return {"name": "navreme_session", "value": started.token, "url": self.url,
                "httpOnly": True, "sameSite": "Lax"}  # fmt: skip


# Package scope: the environment points at the site's database only while these tests run.
@pytest.fixture(scope="package")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Navreme served by uvicorn in a thread on a loopback port, over a seeded SQLite copy."""
    home = tmp_path_factory.mktemp("browser-site")
    shutil.copyfile(sqlite_template, home / "navreme.db")
    url = f"sqlite:///{home / 'navreme.db'}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "NAVREME_DATABASE_URL": url, "NAVREME_HOME": str(home),
            # development: the demo's start page with its logins, and the outbox page, are checked too
            "NAVREME_ENV": "development",
            "NAVREME_SECRET_KEY": "browser-secret-" + "x" * 40, "NAVREME_COOKIE_SECURE": "false",
        }.items():  # fmt: skip
            patch.setenv(name, value)
        config.get_settings.cache_clear()
        with Session(bind=db.engine_for(url), expire_on_commit=False) as session:
            world = build_world(session)
            create_demo_accounts(session)
            session.commit()
        serving = Serving()
        with serving as base_url:
            yield Site(base_url, url, world, serving.app)
        db.engine_for(url).dispose()
    config.get_settings.cache_clear()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium; never playwright install)"
        if IN_CI:
            pytest.fail(f"{message}: CI=true makes the browser tests mandatory")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def open_context(browser: Any, site: Site, who: str, **options: Any) -> Any:
    """A browser context (its own cookies) signed in as `who`."""
    context = browser.new_context(base_url=site.url, **options)
    if cookie := site.cookie_for(who):
        context.add_cookies([cookie])
    return context


@pytest.fixture
def citizen_page(browser: Any, site: Site) -> Iterator[Any]:
    """A phone-sized page signed in as the world's citizen; the context dies with the test."""
    context = open_context(browser, site, "citizen", viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()
