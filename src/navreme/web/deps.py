"""FastAPI dependencies: the unit of work, who is asking, and what they may do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from navreme.audit.actions import record
from navreme.db import session_scope
from navreme.identity import queries as identity
from navreme.identity import secrets
from navreme.identity.principal import ANONYMOUS, Principal
from navreme.web.errors import ApiError

SESSION_COOKIE = "navreme_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db() -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error.

    Scope "function": the commit happens before the response is sent, so a client that got
    201 can read its write at once (through any API process) and a failed commit is a 500,
    never a success the database does not hold. FastAPI's default ("request") commits after
    the response has gone: under load a hold's confirm could 404 (T25).
    """
    with session_scope() as session:
        yield session


DB = Annotated[Session, Depends(db, scope="function")]


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def resolve_principal(request: Request, session: Session) -> Principal:
    """Bearer API token, bearer session token, or session cookie — in that order."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal, token = ANONYMOUS, _bearer(request)
    if token and token.startswith(secrets.API_TOKEN_PREFIX):
        principal = identity.principal_for_api_token(session, token)
    elif token and token.startswith(secrets.SESSION_TOKEN_PREFIX):
        principal = identity.principal_for_session(session, token, via="session_token")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        principal = identity.principal_for_session(session, cookie, via="cookie")
    if token and principal is ANONYMOUS:
        raise ApiError(401, "unauthenticated", "The token is unknown, expired or revoked.")
    request.state.principal = principal
    return principal


def current_principal(request: Request, session: DB) -> Principal:
    principal = resolve_principal(request, session)
    if principal.via == "cookie" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not principal.csrf_token or not secrets.same(sent, principal.csrf_token):
            raise ApiError(403, "csrf", "Missing or wrong X-CSRF-Token header for this session.")
    return principal


Who = Annotated[Principal, Depends(current_principal)]


def deny(session: Session, principal: Principal, *, action: str, object_kind: str,
         object_id: object = None, status: int = 403) -> ApiError:  # fmt: skip
    """Audit a refusal and return the error to raise (the audit entry is committed)."""
    record(
        session, action=action, actor_kind=principal.audit_kind, actor_id=principal.id,
        object_kind=object_kind, object_id=str(object_id) if object_id else None, outcome="denied",
    )  # fmt: skip
    session.commit()
    if status == 404:
        return ApiError(404, "not_found", f"No {object_kind.replace('_', ' ')} here.")
    return ApiError(403, "forbidden", "You may not do this.")


def signed_in(session: DB, principal: Who) -> Principal:
    if principal.kind == "anonymous":
        raise ApiError(401, "unauthenticated", "Sign in first.")
    return principal


def officer_with(*roles: str):  # type: ignore[no-untyped-def]
    """A dependency that lets through officers holding any of `roles` (admins always)."""

    def check(request: Request, session: DB, principal: Who) -> Principal:
        if principal.kind == "anonymous":
            raise ApiError(401, "unauthenticated", "Sign in first.")
        if principal.is_admin or principal.has_role(*roles):
            return principal
        raise deny(session, principal, action=f"access.{request.url.path.split('/')[3]}",
                   object_kind="route", object_id=request.scope.get("route").path)  # fmt: skip

    return check


SignedIn = Annotated[Principal, Depends(signed_in)]
AnyOfficer = Annotated[
    Principal,
    Depends(officer_with("officer", "supervisor", "catalogue_editor", "data_manager", "admin")),
]
DataManager = Annotated[Principal, Depends(officer_with("data_manager"))]
Admin = Annotated[Principal, Depends(officer_with("admin"))]
