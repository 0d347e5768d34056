"""PNG screenshots of the main pages, citizen on a phone and officer on a desktop, mk and en.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--languages mk en]

Starts Navreme on a fresh SQLite database in a temporary folder, seeds the browser tests'
world into it (a citizen with documents, an offer, held and booked appointments, a ward,
contacts, consents and a conversation; an officer and a supervisor), and photographs each page
with Debian's Chromium. Pages whose route the app does not have yet are skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the seeded world lives with the browser tests

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@dataclass(frozen=True)
class Shot:
    name: str  # the file name, without language and extension
    route: str  # the route as the app declares it: skipped when absent
    who: str  # anonymous | citizen | officer | supervisor
    url: Callable[[Any], str] | None = None  # for routes with {params} or a query

    @property
    def viewport(self) -> dict[str, int]:
        return DESKTOP if self.name.startswith("officer") else PHONE


SHOTS = (
    Shot("citizen-01-start", "/", "anonymous"),
    Shot("citizen-02-login", "/login/citizen", "anonymous"),
    Shot("citizen-03-my-services", "/me", "citizen"),
    Shot("citizen-04-appointments", "/me/appointments", "citizen"),
    Shot("citizen-05-appointment", "/me/appointments/{appointment_id}", "citizen",
         lambda w: f"/me/appointments/{w.held.id}"),
    Shot("citizen-06-booking", "/me/appointments/new", "citizen",
         lambda w: f"/me/appointments/new?offer={w.offer.id}"),
    Shot("citizen-07-messages", "/me/messages", "citizen"),
    Shot("citizen-08-settings", "/me/settings", "citizen"),
    Shot("citizen-09-what-we-hold", "/me/data", "citizen"),
    Shot("officer-01-login", "/login/officer", "anonymous"),
    Shot("officer-02-today", "/officer", "officer"),
    Shot("officer-03-waiting", "/officer/waiting", "officer"),
    Shot("officer-04-find-a-person", "/officer/persons", "officer"),
    Shot("officer-05-person", "/officer/persons/{person_id}", "officer",
         lambda w: f"/officer/persons/{w.citizen.id}"),
    Shot("officer-06-dashboard", "/officer/dashboard", "supervisor"),
)  # fmt: skip


def _configure(home: Path) -> str:
    url = f"sqlite:///{home / 'navreme.db'}"
    os.environ.update(
        NAVREME_DATABASE_URL=url, NAVREME_HOME=str(home), NAVREME_ENV="test",
        NAVREME_SECRET_KEY=secrets.token_urlsafe(48), NAVREME_COOKIE_SECURE="false",
    )  # fmt: skip
    return url


def _seed(url: str) -> Any:
    from sqlalchemy.orm import Session
    from tests.browser.world import build_world

    from navreme import db
    from navreme.config import get_settings
    from navreme.migrate import ensure_database

    ensure_database(get_settings())
    with Session(bind=db.engine_for(url), expire_on_commit=False) as session:
        return build_world(session)


def _cookie(url: str, base_url: str, world: Any, who: str) -> dict[str, Any] | None:
    from sqlalchemy.orm import Session

    from navreme import db
    from navreme.identity.actions import start_session

    subjects = {"citizen": ("citizen", world.citizen.id),
                "officer": ("officer", world.officer.officer.id),
                "supervisor": ("officer", world.supervisor.officer.id)}  # fmt: skip
    if who not in subjects:
        return None
    kind, subject_id = subjects[who]
    with Session(bind=db.engine_for(url)) as session:
        started = start_session(session, subject_kind=kind, subject_id=subject_id, replaces=None)
        session.commit()
    return {"name": "navreme_session", "value": started.token, "url": base_url,
            "httpOnly": True, "sameSite": "Lax"}  # fmt: skip


def _photograph(browser: Any, shot: Shot, *, base_url: str, url: str, world: Any,
                language: str, out: Path) -> Path:  # fmt: skip
    context = browser.new_context(base_url=base_url, viewport=shot.viewport)
    if cookie := _cookie(url, base_url, world, shot.who):
        context.add_cookies([cookie])
    page = context.new_page()
    address = shot.url(world) if shot.url else shot.route
    page.goto(address + ("&" if "?" in address else "?") + f"lang={language}")
    target = out / language / f"{shot.name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    context.close()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--languages", nargs="+", default=["mk", "en"])
    options = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from tests.browser.serving import CHROMIUM, Serving, launch_chromium
    from tests.browser.sitemap import page_routes

    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium (make os-packages)")
        return 1
    with tempfile.TemporaryDirectory(prefix="navreme-shots-") as home:
        url = _configure(Path(home))
        world, serving = _seed(url), Serving()
        with serving as base_url, sync_playwright() as playwright:
            routes, browser = set(page_routes(serving.app)), launch_chromium(playwright)
            for shot in SHOTS:
                if shot.route not in routes:
                    print(f"skipped {shot.name}: no page {shot.route} in this app yet")
                    continue
                for language in options.languages:
                    target = _photograph(browser, shot, base_url=base_url, url=url,
                                         world=world, language=language, out=options.out)  # fmt: skip
                    print(f"wrote {target.relative_to(ROOT) if ROOT in target.parents else target}")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
