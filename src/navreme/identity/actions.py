"""Every identity write: logins, sessions, codes, officers and tokens. Each one is audited."""

from __future__ import annotations

import secrets as stdlib_secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.config import get_settings
from navreme.identity import secrets
from navreme.identity.models import ApiToken, Officer, OneTimeCode, WebSession
from navreme.identity.principal import Principal
from navreme.identity.queries import officer_by_username
from navreme.registry.models import ContactEndpoint, Person

LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)


class LoginFailed(Exception):
    """Credentials were wrong, expired or used up; the message is safe to show."""


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    row: WebSession


def start_session(
    session: Session, *, subject_kind: str, subject_id: uuid.UUID, replaces: uuid.UUID | None
) -> NewSession:
    """A fresh session (new token, new CSRF token); the one it replaces is revoked (rotation)."""
    if replaces is not None:
        revoke_session(session, replaces)
    settings, token, instant = get_settings(), secrets.new_session_token(), clock.now()
    row = WebSession(
        token_hash=secrets.sha256(token),
        subject_kind=subject_kind,
        subject_id=subject_id,
        csrf_token=stdlib_secrets.token_urlsafe(32),
        created_at=instant,
        last_seen_at=instant,
        expires_at=instant + timedelta(hours=settings.session_absolute_hours),
    )
    session.add(row)
    session.flush()
    return NewSession(token=token, csrf_token=row.csrf_token, row=row)


def revoke_session(session: Session, session_id: uuid.UUID) -> None:
    row = session.get(WebSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()


def logout(session: Session, principal: Principal) -> None:
    if principal.session_id is not None:
        revoke_session(session, principal.session_id)
        record(session, action="auth.logout", actor_kind=principal.kind, actor_id=principal.id)


def _refuse_officer(session: Session, officer: Officer | None, reason: str) -> LoginFailed:
    if officer is not None:
        officer.failed_logins += 1
        if officer.failed_logins >= LOCKOUT_AFTER:
            officer.locked_until = clock.now() + LOCKOUT_FOR
    record(
        session, action="auth.officer_login", actor_kind="anonymous", outcome="denied",
        object_kind="officer", object_id=officer.id if officer else None, details={"reason": reason},
    )  # fmt: skip
    return LoginFailed("Wrong username, password or code.")


def login_officer(
    session: Session, *, username: str, password: str, totp: str, replaces: uuid.UUID | None
) -> NewSession:
    """Password (argon2) and TOTP both required; five failures lock the account for 15 minutes."""
    officer = officer_by_username(session, username)
    if officer is None:
        secrets.verify_password(_DUMMY_HASH, password)  # same cost whether the user exists or not
        raise _refuse_officer(session, None, "unknown user")
    if not officer.active or (officer.locked_until and officer.locked_until > clock.now()):
        raise _refuse_officer(session, officer, "inactive or locked")
    if not secrets.verify_password(officer.password_hash, password):
        raise _refuse_officer(session, officer, "wrong password")
    at = clock.now().timestamp()
    if not officer.totp_secret or not secrets.verify_totp(officer.totp_secret, totp, at=at):
        raise _refuse_officer(session, officer, "wrong second factor")
    officer.failed_logins, officer.locked_until = 0, None
    record(session, action="auth.officer_login", actor_kind="officer", actor_id=officer.id)
    return start_session(session, subject_kind="officer", subject_id=officer.id, replaces=replaces)


_DUMMY_HASH = secrets.hash_password(stdlib_secrets.token_hex(8))


@dataclass(frozen=True)
class CodeChallenge:
    challenge_id: uuid.UUID
    sent_to: str | None  # masked destination; None when nothing was sent


def _login_endpoint(session: Session, person_id: uuid.UUID) -> ContactEndpoint | None:
    query = (
        select(ContactEndpoint)
        .where(ContactEndpoint.person_id == person_id, ContactEndpoint.verified_at.is_not(None))
        .where(ContactEndpoint.channel.in_(("sms", "email", "telegram", "matrix", "viber")))
        .order_by(ContactEndpoint.preference, ContactEndpoint.created_at)
    )
    return session.scalars(query).first()


def request_citizen_code(session: Session, *, national_id: str) -> CodeChallenge:
    """Send a one-time code to the person's preferred verified endpoint.

    The answer looks the same whether or not the identifier is known, so nobody can use
    this form to find out who is in the registry.
    """
    person = session.scalar(select(Person).where(Person.national_id == national_id))
    endpoint = _login_endpoint(session, person.id) if person else None
    if person is None or endpoint is None:
        record(session, action="auth.citizen_code", actor_kind="anonymous", outcome="denied")
        return CodeChallenge(challenge_id=uuid.uuid4(), sent_to=None)
    settings, code = get_settings(), secrets.new_one_time_code()
    challenge = OneTimeCode(
        person_id=person.id,
        endpoint_id=endpoint.id,
        code_hash=secrets.keyed_hash(settings.secret_key, code),
        expires_at=clock.now() + timedelta(seconds=settings.otp_ttl_seconds),
    )
    session.add(challenge)
    session.flush()
    deliver_code(session, endpoint=endpoint, code=code, language=person.language)
    record(
        session, action="auth.citizen_code", actor_kind="anonymous",
        object_kind="person", object_id=person.id, details={"channel": endpoint.channel},
    )  # fmt: skip
    return CodeChallenge(challenge.id, secrets.mask_address(endpoint.channel, endpoint.address))


def deliver_code(session: Session, *, endpoint: ContactEndpoint, code: str, language: str) -> None:
    """The code goes out through the messaging hub on the priority lane, to that endpoint only.

    It is written in this transaction (the outbox); the development outbox page shows it
    when the channel is the fake one.
    """
    from navreme.messaging.actions import send

    send(
        session, person_id=endpoint.person_id, purpose="login", template="login_code",
        context={"code": code, "minutes": get_settings().otp_ttl_seconds // 60},
        lane="priority", urgent=True, language=language, to=(endpoint.channel, endpoint.address),
    )  # fmt: skip


def verify_citizen_code(
    session: Session, *, challenge_id: uuid.UUID, code: str, replaces: uuid.UUID | None
) -> NewSession:
    """Single use, short-lived, at most `otp_max_attempts` tries per code."""
    settings = get_settings()
    challenge = session.get(OneTimeCode, challenge_id, with_for_update=True)
    usable = (
        challenge is not None
        and challenge.used_at is None
        and challenge.expires_at > clock.now()
        and challenge.attempts < settings.otp_max_attempts
    )
    if not usable or challenge is None:
        raise _refuse_citizen(session, challenge, "expired, used or too many tries")
    challenge.attempts += 1
    if not secrets.same(challenge.code_hash, secrets.keyed_hash(settings.secret_key, code)):
        raise _refuse_citizen(session, challenge, "wrong code")
    challenge.used_at = clock.now()
    record(session, action="auth.citizen_login", actor_kind="citizen", actor_id=challenge.person_id)
    return start_session(
        session, subject_kind="citizen", subject_id=challenge.person_id, replaces=replaces
    )


def _refuse_citizen(session: Session, challenge: OneTimeCode | None, reason: str) -> LoginFailed:
    record(
        session, action="auth.citizen_login", actor_kind="anonymous", outcome="denied",
        object_kind="person", object_id=challenge.person_id if challenge else None,
        details={"reason": reason},
    )  # fmt: skip
    return LoginFailed("That code is wrong or no longer valid. Ask for a new one.")


def create_officer(
    session: Session,
    *,
    username: str,
    display_name: str,
    department_id: uuid.UUID,
    roles: list[str],
    password: str,
    totp_secret: str | None = None,
    actor: Principal | None = None,
) -> Officer:
    officer = Officer(
        username=username, display_name=display_name, department_id=department_id,
        roles=sorted(set(roles)), password_hash=secrets.hash_password(password),
        totp_secret=totp_secret or secrets.new_totp_secret(),
    )  # fmt: skip
    session.add(officer)
    session.flush()
    record(
        session, action="officer.create", actor_kind=actor.audit_kind if actor else "system",
        actor_id=actor.id if actor else None, object_kind="officer", object_id=officer.id,
        details={"roles": officer.roles},
    )  # fmt: skip
    return officer


def create_api_token(
    session: Session,
    *,
    officer_id: uuid.UUID,
    name: str,
    actor: Principal | None,
    days: int | None = 365,
) -> tuple[ApiToken, str]:
    """Returns the row and the token, which is shown once and never stored."""
    prefix, token = secrets.new_api_token()
    row = ApiToken(
        prefix=prefix, token_hash=secrets.sha256(token), name=name, officer_id=officer_id,
        expires_at=clock.now() + timedelta(days=days) if days else None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    record(
        session, action="token.create", actor_kind=actor.audit_kind if actor else "system",
        actor_id=actor.id if actor else None,
        object_kind="api_token", object_id=row.id, details={"officer_id": str(officer_id)},
    )  # fmt: skip
    return row, token


def revoke_api_token(session: Session, *, token: ApiToken, actor: Principal) -> None:
    if token.revoked_at is None:
        token.revoked_at = clock.now()
    record(
        session, action="token.revoke", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="api_token", object_id=token.id,
    )  # fmt: skip
