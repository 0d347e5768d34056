"""Sign-in pages (no JavaScript needed), sign-out, and each person's landing page."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from navreme.config import get_settings
from navreme.identity import actions
from navreme.identity.principal import Principal
from navreme.rules.pages import my_services
from navreme.web import ratelimit
from navreme.web.deps import DB, SESSION_COOKIE
from navreme.web.i18n import N_
from navreme.web.pages import CsrfField, csrf_ok, page_principal, render, render_error

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]


def _signed_in(new: actions.NewSession) -> Response:
    response = RedirectResponse("/me", status_code=303)
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE, new.token, httponly=True, secure=settings.cookie_secure, samesite="lax",
        max_age=settings.session_absolute_hours * 3600,
    )  # fmt: skip
    return response


def _expired_form(request: Request, principal: Principal, template: str) -> HTMLResponse:
    error = N_("The form expired. Please try again.")
    return render(request, template, principal, status=403, error=error)


@router.get("/login/officer", response_class=HTMLResponse)
def officer_form(request: Request, session: DB) -> HTMLResponse:
    return render(request, "login_officer.html", page_principal(request, session))


@router.post("/login/officer", response_class=HTMLResponse)
def officer_submit(
    request: Request,
    session: DB,
    username: Field,
    password: Field,
    totp: Field,
    csrf: CsrfField = "",
) -> Response:
    principal = page_principal(request, session)
    if not csrf_ok(request, principal, csrf):
        return _expired_form(request, principal, "login_officer.html")
    ratelimit.guard_officer_login(request, username)
    try:
        new = actions.login_officer(
            session, username=username, password=password, totp=totp,
            replaces=principal.session_id,
        )  # fmt: skip
    except actions.LoginFailed:
        error = N_("Wrong username, password or code.")
        return render(request, "login_officer.html", principal, status=401, error=error)
    return _signed_in(new)


@router.get("/login/citizen", response_class=HTMLResponse)
def citizen_form(request: Request, session: DB) -> HTMLResponse:
    return render(request, "login_citizen.html", page_principal(request, session))


@router.post("/login/citizen", response_class=HTMLResponse)
def citizen_submit(
    request: Request, session: DB, national_id: Field, csrf: CsrfField = ""
) -> HTMLResponse:
    principal = page_principal(request, session)
    if not csrf_ok(request, principal, csrf):
        return _expired_form(request, principal, "login_citizen.html")
    ratelimit.guard_code_request(request, national_id.strip())
    challenge = actions.request_citizen_code(session, national_id=national_id.strip())
    return render(
        request, "login_citizen.html", principal,
        challenge_id=challenge.challenge_id, sent_to=challenge.sent_to,
    )  # fmt: skip


@router.post("/login/citizen/code", response_class=HTMLResponse)
def citizen_code(
    request: Request, session: DB, challenge_id: Field, code: Field, csrf: CsrfField = ""
) -> Response:
    principal = page_principal(request, session)
    if not csrf_ok(request, principal, csrf):
        return _expired_form(request, principal, "login_citizen.html")
    ratelimit.guard_code_try(request)
    try:
        new = actions.verify_citizen_code(
            session, challenge_id=uuid.UUID(challenge_id), code=code.strip(),
            replaces=principal.session_id,
        )  # fmt: skip
    except (actions.LoginFailed, ValueError):
        error = N_("That code is wrong or no longer valid. Ask for a new one.")
        return render(request, "login_citizen.html", principal, status=401, error=error)
    return _signed_in(new)


@router.post("/logout")
def logout(request: Request, session: DB, csrf: CsrfField = "") -> Response:
    principal = page_principal(request, session)
    if principal.session_id is not None and not csrf_ok(request, principal, csrf):
        # another site's form must not sign people out: refused, the session kept
        return render_error(request, status=403, message=N_("The form expired. Please try again."))
    if principal.session_id is not None:
        actions.logout(session, principal)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, secure=get_settings().cookie_secure, httponly=True, samesite="lax"
    )
    return response


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, session: DB) -> Response:
    principal = page_principal(request, session)
    if principal.is_citizen and principal.id:
        return _citizen_home(request, session, principal)
    if principal.is_officer and principal.id:
        return _officer_home(request, session, principal)
    return RedirectResponse("/login/citizen", status_code=303)


def _citizen_home(request: Request, session: Session, principal: Principal) -> Response:
    return my_services(request, session, principal)


def _officer_home(request: Request, session: Session, principal: Principal) -> Response:
    """Officers land on their department's day (which also names the department and colleagues)."""
    return RedirectResponse("/officer", status_code=303)
