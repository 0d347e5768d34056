"""Every page of the app, discovered from its routes, and how to open each one.

A GET route outside the API with no line in PAGES fails the tests that use this module
("add it to the page table"), so a new page cannot escape the accessibility and security checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.browser.world import World, new_id

NOT_PAGES = (
    "/static",
    "/api/",
    "/open311/",
    "/openapi.json",
    "/docs/",
    "/healthz",
)  # machines' doors
LANGUAGES = ("mk", "sq", "en")
CITIZEN_MODES = ("standard", "large", "easy")


@dataclass(frozen=True)
class Page:
    """Who opens the page and, for paths with {params} or a required query, the real URL."""

    who: str  # anonymous | citizen | officer | supervisor
    url: Callable[[World], str] | None = None
    status: int = 200
    html: bool = True  # False: a GET route that answers a file or a redirect, not a page

    def address(self, path: str, world: World) -> str:
        return self.url(world) if self.url else path

    @property
    def modes(self) -> tuple[str, ...]:
        return CITIZEN_MODES if self.who in ("anonymous", "citizen") else ("standard",)


def _appointment(world: World) -> str:
    return f"/me/appointments/{world.held.id}"


def _officer_person(world: World) -> str:
    return f"/officer/persons/{world.citizen.id}"


# Route path (as declared, with {params}) → how to open it. Paths of pages still being built
# elsewhere are listed under the names their briefs give; a line for a route that does not
# exist is harmless.
PAGES: dict[str, Page] = {
    "/": Page("anonymous"),
    "/login/citizen": Page("anonymous"),
    "/login/officer": Page("anonymous"),
    "/dev/outbox": Page("anonymous"),  # development only (the browser site runs as the demo)
    "/me": Page("citizen"),
    "/me/appointments": Page("citizen"),
    "/me/appointments/new": Page("citizen", lambda w: f"/me/appointments/new?offer={w.offer.id}"),
    "/me/appointments/{appointment_id}": Page("citizen", _appointment),
    "/me/appointments/{appointment_id}/cancel": Page(
        "citizen", lambda w: f"/me/appointments/{w.booked.id}/cancel"
    ),
    "/me/appointments/{appointment_id}/invite.ics": Page("citizen", html=False),
    "/me/messages": Page("citizen"),
    "/me/settings": Page("citizen"),
    "/me/data": Page("citizen"),
    "/officer": Page("officer"),
    "/officer/waiting": Page("officer"),
    "/officer/persons": Page("officer"),
    "/officer/persons/{person_id}": Page("officer", _officer_person),
    "/officer/dashboard": Page("supervisor"),
    "/me/cases": Page("citizen"),
    "/me/cases/new": Page("citizen"),
    "/me/cases/{reference}": Page("citizen", lambda w: f"/me/cases/{w.case.reference}"),
    "/officer/cases": Page("officer"),
    "/officer/cases/triage": Page("supervisor"),
    "/officer/cases/{case_id}": Page("officer", lambda w: f"/officer/cases/{w.case.id}"),
    "/open/cases.atom": Page("anonymous", html=False),
    "/open/cases.json": Page("anonymous", html=False),
}


def _routes(app: FastAPI, method: str) -> list[str]:
    """Route paths answering `method` outside the API, static files, API docs and webhooks."""
    found = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path or ""
        if not isinstance(route, APIRoute) or method not in route.methods:
            continue
        if route.include_in_schema or path.startswith(NOT_PAGES) or "webhook" in path:
            continue
        found.add(path)
    return sorted(found)


def page_routes(app: FastAPI) -> list[str]:
    """Every GET route path that could be a page."""
    return _routes(app, "GET")


def post_routes(app: FastAPI) -> list[str]:
    """Every form route: POST outside the API (the API has its own CSRF header check)."""
    return _routes(app, "POST")


def missing_from_table(app: FastAPI) -> list[str]:
    return [path for path in page_routes(app) if path not in PAGES]


def pages_to_check(app: FastAPI) -> list[tuple[str, Page]]:
    """The discovered HTML pages with their table lines (routes missing from it are left out
    here and reported by `missing_from_table`)."""
    return [(p, PAGES[p]) for p in page_routes(app) if p in PAGES and PAGES[p].html]


def not_found_url() -> str:
    return f"/me/appointments/{new_id()}"
