"""What every officer page shares: who may open it, and the answers when they may not."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.identity.principal import Principal
from navreme.scheduling.models import Office
from navreme.web.deps import deny
from navreme.web.i18n import N_
from navreme.web.pages import PAGE_ERRORS, page_principal, render

EXPIRED = N_("The form expired. Please try again.")
ANSWERERS = ("officer", "supervisor")  # who answers people (as the conversations API says)
OVERSEERS = ("supervisor",)  # who sees the dashboard (admins always)


def signed_in_officer(request: Request, session: Session) -> Principal | None:
    """The officer signed in by cookie, or None (the page then sends them to sign in)."""
    principal = page_principal(request, session)
    if principal.is_officer and principal.id is not None and principal.department_id:
        return principal
    return None


def to_login() -> Response:
    return RedirectResponse("/login/officer", status_code=303)


def may(principal: Principal, roles: tuple[str, ...]) -> bool:
    return principal.is_admin or principal.has_role(*roles)


def refuse(
    request: Request, session: Session, principal: Principal, *, action: str, status: int = 403,
    object_kind: str = "route", object_id: object = None, message: str | None = None,
) -> HTMLResponse:  # fmt: skip
    """Audit the refusal as the API does and answer with an error page that keeps the menu
    (`message` marked with N_; by default the status says what went wrong)."""
    deny(session, principal, action=action, object_kind=object_kind, object_id=object_id)
    shown = message or PAGE_ERRORS[status]
    return render(request, "error.html", principal, status=status, message=shown)


def offices_for(session: Session, principal: Principal) -> list[Office]:
    """The offices the officer works at: their department's (every office for admins)."""
    query = select(Office).order_by(Office.code)
    if not principal.is_admin:
        query = query.where(Office.department_id == principal.department_id)
    return list(session.scalars(query))
