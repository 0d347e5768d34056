"""create_app(): mounts each domain's api.py and pages.py, errors, health and hardening."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from navreme import __version__
from navreme.config import get_settings
from navreme.db import get_engine
from navreme.migrate import ensure_database
from navreme.web import errors, hardening, metrics, ratelimit
from navreme.web.paths import STATIC_DIR

DESCRIPTION = """Navreme delivers public services proactively, across departments, on the
channels people already use. Every error has the envelope
`{"error": {"code", "message", "details"}}`."""


def create_app() -> FastAPI:
    settings = get_settings()
    ensure_database(settings)
    app = FastAPI(
        title="Navreme", version=__version__, description=DESCRIPTION,
        docs_url="/api/docs", redoc_url=None, openapi_url="/openapi.json",
    )  # fmt: skip
    errors.install(app)
    ratelimit.install(app, settings)  # inside hardening: refusals get its headers too
    hardening.install(app, settings)
    _mount_domains(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    metrics.install(app)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness and database reachability (503 when the database is down)."""
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    return app


def _mount_domains(app: FastAPI) -> None:
    from navreme.audit import api as audit_api
    from navreme.cases import api as cases_api
    from navreme.cases import feed as cases_feed
    from navreme.cases import open311_api
    from navreme.cases import pages as cases_pages
    from navreme.catalogue import api as catalogue_api
    from navreme.identity import api as identity_api
    from navreme.identity import pages as identity_pages
    from navreme.messaging import api as messaging_api
    from navreme.messaging import outbox_api
    from navreme.messaging import pages as messaging_pages
    from navreme.messaging import webhooks as messaging_webhooks
    from navreme.registry import api as registry_api
    from navreme.registry import pages as registry_pages
    from navreme.rules import api as rules_api
    from navreme.rules import pages as rules_pages
    from navreme.scheduling import api as scheduling_api
    from navreme.scheduling import pages as scheduling_pages
    from navreme.web import officer, pages

    for router in (
        identity_api.router, registry_api.router, catalogue_api.router, audit_api.router,
        rules_api.router, scheduling_api.router,
        messaging_api.router, messaging_webhooks.router, outbox_api.router,
        pages.router, identity_pages.router, rules_pages.router, scheduling_pages.router,
        messaging_pages.router, registry_pages.router, officer.router,
        cases_api.router, open311_api.router, cases_feed.router, cases_pages.router,
    ):  # fmt: skip
        app.include_router(router)
