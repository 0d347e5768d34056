"""Resolving credentials to a Principal, and access-checked reads of identity objects."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import get_settings
from navreme.identity import secrets
from navreme.identity.models import ApiToken, Department, Officer, WebSession
from navreme.identity.principal import ANONYMOUS, Principal
from navreme.registry.models import Person

# Don't write last_seen_at on every request: once a minute is enough for idle timeouts.
_TOUCH_EVERY = timedelta(seconds=60)


def _session_alive(row: WebSession) -> bool:
    settings, instant = get_settings(), clock.now()
    idle = timedelta(minutes=settings.session_idle_minutes)
    return row.revoked_at is None and instant < row.expires_at and instant - row.last_seen_at < idle


def principal_for_session(session: Session, token: str, *, via: str) -> Principal:
    row = session.scalar(select(WebSession).where(WebSession.token_hash == secrets.sha256(token)))
    if row is None or not _session_alive(row):
        return ANONYMOUS
    if clock.now() - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = clock.now()
    return _principal(session, row.subject_kind, row.subject_id, row=row, via=via)


def _principal(
    session: Session, kind: str, subject_id: uuid.UUID | None, *, row: WebSession, via: str
) -> Principal:
    base = {
        "session_id": row.id,
        "via": via,
        "csrf_token": row.csrf_token,
        "language": row.language,
    }
    if kind == "officer" and subject_id is not None:
        officer = session.get(Officer, subject_id)
        if officer is None or not officer.active:
            return ANONYMOUS
        return Principal(
            kind="officer", id=officer.id, department_id=officer.department_id,
            roles=frozenset(officer.roles), **base,
        )  # fmt: skip
    person = session.get(Person, subject_id) if kind == "citizen" and subject_id else None
    if person is not None:
        # pages speak the person's language from their profile unless they chose another
        return Principal(
            kind="citizen", id=person.id, **{**base, "language": row.language or person.language}
        )
    return ANONYMOUS


def principal_for_api_token(session: Session, token: str) -> Principal:
    prefix = secrets.api_token_prefix(token)
    row = prefix and session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if not row or not secrets.same(row.token_hash, secrets.sha256(token)):
        return ANONYMOUS
    if row.revoked_at is not None or (row.expires_at and row.expires_at <= clock.now()):
        return ANONYMOUS
    officer = session.get(Officer, row.officer_id)
    if officer is None or not officer.active:
        return ANONYMOUS
    row.last_used_at = clock.now()
    return Principal(
        kind="officer", id=officer.id, department_id=officer.department_id,
        roles=frozenset(officer.roles), via="api_token",
    )  # fmt: skip


def department_by_code(session: Session, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code))


def officer_by_username(session: Session, username: str) -> Officer | None:
    return session.scalar(select(Officer).where(Officer.username == username))


def can_see_department(principal: Principal, department_id: uuid.UUID) -> bool:
    """Officers reach only their own department's objects; admins reach all."""
    if principal.is_admin:
        return True
    return principal.is_officer and principal.department_id == department_id


def officers_of_department(
    session: Session, principal: Principal, department_id: uuid.UUID
) -> list[Officer] | None:
    """None when the principal may not see this department."""
    if not can_see_department(principal, department_id):
        return None
    query = select(Officer).where(Officer.department_id == department_id).order_by(Officer.username)
    return list(session.scalars(query))


def get_officer_for(
    session: Session, principal: Principal, officer_id: uuid.UUID
) -> Officer | None:
    officer = session.get(Officer, officer_id)
    if officer is None:
        return None
    if principal.id == officer.id:
        return officer
    return officer if can_see_department(principal, officer.department_id) else None
