"""Server-rendered pages shared by every domain: the start page, the outbox, errors."""

from __future__ import annotations

import secrets as stdlib_secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.config import get_settings
from navreme.db import session_scope
from navreme.identity import secrets
from navreme.identity.principal import ANONYMOUS, Principal
from navreme.messaging.channels.registry import options_for
from navreme.messaging.models import Delivery
from navreme.registry.models import CHANNELS
from navreme.web import i18n
from navreme.web.deps import DB, resolve_principal
from navreme.web.paths import TEMPLATES_DIR

templates = Jinja2Templates(directory=TEMPLATES_DIR)
router = APIRouter(include_in_schema=False)
CSRF_COOKIE = "navreme_csrf"


def page_principal(request: Request, session: Session) -> Principal:
    """Pages ignore bearer tokens; an unusable cookie is simply a signed-out visitor."""
    try:
        return resolve_principal(request, session)
    except Exception:  # noqa: BLE001 - a broken cookie must never break a page
        return ANONYMOUS


def csrf_token(request: Request, principal: Principal) -> str:
    """The signed-in session's token, or a double-submit cookie for signed-out forms."""
    if principal.csrf_token:
        return principal.csrf_token
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = request.state.new_csrf = stdlib_secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, principal: Principal, submitted: str) -> bool:
    expected = principal.csrf_token or request.cookies.get(CSRF_COOKIE) or ""
    return bool(expected) and secrets.same(submitted, expected)


def render(
    request: Request, name: str, principal: Principal, *, status: int = 200, **context: Any
) -> HTMLResponse:
    language = i18n.choose_language(request, principal.language, get_settings().default_language)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": language,
            "t": lambda key, **values: i18n.t(key, language, **values),
            "languages": i18n.LANGUAGE_NAMES,
            "principal": principal,
            "csrf": csrf_token(request, principal),
            "development": get_settings().env == "development",
            **context,
        },
        status_code=status,
    )
    _remember_choices(request, response, language)
    return response


def _remember_choices(request: Request, response: Response, language: str) -> None:
    secure = get_settings().cookie_secure
    if new := getattr(request.state, "new_csrf", None):
        response.set_cookie(CSRF_COOKIE, new, httponly=True, secure=secure, samesite="lax")
    if request.query_params.get("lang") == language:
        response.set_cookie(
            i18n.LANG_COOKIE, language, max_age=31_536_000, secure=secure, samesite="lax"
        )


def render_error(request: Request, *, status: int, message: str) -> HTMLResponse:
    """A helpful page in the visitor's language; never a stack trace."""
    return render(request, "error.html", ANONYMOUS, status=status, message=message)


@router.get("/", response_class=HTMLResponse)
def start(request: Request, session: DB) -> HTMLResponse:
    from navreme.identity.demo import demo_citizens, demo_logins

    principal = page_principal(request, session)
    development = get_settings().env == "development"
    logins = demo_logins(session) if development else []
    citizens = demo_citizens(session) if development else []
    return render(request, "start.html", principal, logins=logins, citizens=citizens)


def fake_channel_deliveries(session: Session, *, limit: int) -> list[Delivery]:
    """The newest deliveries on channels served by the fake adapter (development only)."""
    settings = get_settings()
    fake = [c for c in CHANNELS if (options_for(settings, c) or ("",))[0] == "fake"]
    query = select(Delivery).where(Delivery.channel.in_(fake))
    return list(session.scalars(query.order_by(Delivery.created_at.desc()).limit(limit)))


@router.get("/dev/outbox", response_class=HTMLResponse)
def outbox(request: Request) -> HTMLResponse:
    if get_settings().env != "development":
        return render_error(request, status=404, message="Not found.")
    with session_scope() as session:
        principal = page_principal(request, session)
        messages = fake_channel_deliveries(session, limit=50)
    return render(request, "outbox.html", principal, messages=messages)
