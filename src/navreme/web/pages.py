"""Server-rendered pages shared by every domain: the start page, the outbox, errors."""

from __future__ import annotations

import secrets as stdlib_secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
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
from navreme.registry import queries as registry_queries
from navreme.registry.models import CHANNELS, Person
from navreme.web import formats, i18n, labels
from navreme.web.deps import DB, resolve_principal
from navreme.web.i18n import N_
from navreme.web.paths import TEMPLATES_DIR

templates = Jinja2Templates(directory=TEMPLATES_DIR)
router = APIRouter(include_in_schema=False)
CSRF_COOKIE = "navreme_csrf"
MODE_COOKIE = "navreme_mode"
# Every state-changing form posts `csrf_token`. Declared with a default, so that a form without
# it reaches the handler, whose first step refuses it with 403 like a forged one (a required
# field would be answered 422 by validation before the check).
CsrfField = Annotated[str, Form(alias="csrf_token", max_length=200)]
MODES = ("standard", "large", "easy")  # large print; easy-read (plain words, one idea a line)


def page_principal(request: Request, session: Session) -> Principal:
    """Pages ignore bearer tokens; an unusable cookie is simply a signed-out visitor."""
    try:
        return resolve_principal(request, session)
    except Exception:  # noqa: BLE001 - a broken cookie must never break a page
        return ANONYMOUS


@dataclass(frozen=True)
class Citizen:
    principal: Principal
    person: Person


def signed_in_citizen(request: Request, session: Session) -> Citizen | None:
    """The signed-in citizen and their registry record, or None (the page sends them to sign in)."""
    principal = page_principal(request, session)
    if not principal.is_citizen or principal.id is None:
        return None
    person = registry_queries.get_person_for(session, principal, principal.id)
    return Citizen(principal, person) if person is not None else None


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


def language_of(request: Request, principal: Principal) -> str:
    return i18n.choose_language(request, principal.language, get_settings().default_language)


def mode_of(request: Request) -> str:
    """The display mode: ?mode= (the switch on every page) → its cookie → standard."""
    for candidate in (request.query_params.get("mode"), request.cookies.get(MODE_COOKIE)):
        if candidate in MODES:
            return candidate
    return "standard"


def render(
    request: Request, name: str, principal: Principal, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page in the visitor's language and display mode. Templates translate with
    `_("English text", name=value)` and `ngettext(singular, plural, n)`."""
    language = language_of(request, principal)
    mode = mode_of(request)
    _ = i18n.translator(language)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": language,
            "_": _,
            "ngettext": i18n.plural_translator(language),
            "label": lambda kind, code: _(labels.label(kind, code)),
            "date": lambda value, style="long": formats.day(value, language, style),
            "time": lambda moment: formats.clock_time(moment, language),
            "when": lambda moment, style="medium": formats.when(moment, language, style),
            "modes": MODES,
            "languages": i18n.LANGUAGE_NAMES,
            "mode": mode,
            "easy": mode == "easy",
            "principal": principal,
            "csrf": csrf_token(request, principal),
            "development": get_settings().env == "development",
            **context,
        },
        status_code=status,
    )
    _remember_choices(request, response, language, mode)
    return response


def _remember_choices(request: Request, response: Response, language: str, mode: str) -> None:
    secure = get_settings().cookie_secure
    if new := getattr(request.state, "new_csrf", None):
        response.set_cookie(CSRF_COOKIE, new, httponly=True, secure=secure, samesite="lax")
    if request.query_params.get("lang") == language:
        response.set_cookie(
            i18n.LANG_COOKIE,
            language,
            max_age=31_536_000,
            secure=secure,
            httponly=True,
            samesite="lax",
        )
    if request.query_params.get("mode") == mode:
        response.set_cookie(
            MODE_COOKIE, mode, max_age=31_536_000, secure=secure, httponly=True, samesite="lax"
        )


PAGE_ERRORS = {
    400: N_("Something in the request was not right. Please go back and try again."),
    401: N_("Please sign in first."),
    403: N_("You may not open this page, or the form expired. Please try again."),
    404: N_("We could not find this page."),
    405: N_("This page cannot be used that way."),
    409: N_("This changed in the meantime. Please look again and try once more."),
    413: N_("What you sent is too large."),
    422: N_("Some of what you entered is not valid. Please go back and check it."),
    429: N_("Too many tries. Please wait a minute and try again."),
    503: N_("The service is briefly unavailable. Please try again in a minute."),
}
UNEXPECTED = N_("Something went wrong on our side. Please try again later.")


def render_error(request: Request, *, status: int, message: str | None = None) -> HTMLResponse:
    """A helpful page in the visitor's language; never a stack trace. `message` is a text
    marked with N_(); without one the status says what went wrong."""
    shown = message or PAGE_ERRORS.get(status, UNEXPECTED)
    return render(request, "error.html", ANONYMOUS, status=status, message=shown)


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
        return render_error(request, status=404, message=N_("Not found."))
    with session_scope() as session:
        principal = page_principal(request, session)
        messages = fake_channel_deliveries(session, limit=50)
    return render(request, "outbox.html", principal, messages=messages)
