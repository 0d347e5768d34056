"""Open311 client keys: issued once, stored hashed, found by their public prefix (like API tokens)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases.models import Open311Key
from navreme.cases.open311 import Open311Error
from navreme.identity.principal import Principal

KEY_PREFIX = "o311_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(session: Session, *, client: str, actor: Principal | None) -> str:
    """A new key for `client`, returned once and stored only hashed; an earlier key stops working."""
    client = client.strip()
    if not client or len(client) > 80:
        raise Open311Error(400, "A client name is 1 to 80 characters.")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = session.scalar(select(Open311Key).where(Open311Key.client == client))
    rotated = row is not None
    row = row or Open311Key(client=client)
    row.prefix, row.key_hash, row.revoked_at = prefix, _hash(key), None
    session.add(row)
    session.flush()
    record(
        session, action="open311_key.rotate" if rotated else "open311_key.create",
        actor_kind=actor.audit_kind if actor else "system", actor_id=actor.id if actor else None,
        object_kind="open311_key", object_id=row.id, details={"client": client},
    )  # fmt: skip
    return key


def revoke_key(session: Session, *, client: str, actor: Principal | None) -> bool:
    """Stop `client`'s key; False when there is no such client."""
    row = session.scalar(select(Open311Key).where(Open311Key.client == client))
    if row is None:
        return False
    row.revoked_at = row.revoked_at or clock.now()
    record(
        session, action="open311_key.revoke", actor_kind=actor.audit_kind if actor else "system",
        actor_id=actor.id if actor else None, object_kind="open311_key", object_id=row.id,
        details={"client": client},
    )  # fmt: skip
    return True


# The four columns the check needs (no ORM object per request), as one statement built once.
_BY_PREFIX = select(Open311Key.id, Open311Key.client, Open311Key.key_hash,
                    Open311Key.revoked_at).where(Open311Key.prefix == bindparam("prefix"))  # fmt: skip


def client_for_key(session: Session, key: str | None) -> str:
    """The client a key belongs to; Open311Error 403 when it is missing, unknown or revoked."""
    if not key:
        raise Open311Error(403, "api_key is required to submit a request.")
    prefix, _, rest = key.removeprefix(KEY_PREFIX).partition("_")
    row = None
    if key.startswith(KEY_PREFIX) and prefix and rest:
        row = session.execute(_BY_PREFIX, {"prefix": prefix}).first()
    if row is None:
        raise Open311Error(403, "Invalid api_key.")
    if not secrets.compare_digest(row.key_hash, _hash(key)) or row.revoked_at is not None:
        record(
            session, action="open311.submit", actor_kind="token", object_kind="open311_key",
            object_id=row.id, outcome="denied", details={"client": row.client},
        )  # fmt: skip
        raise Open311Error(403, "Invalid api_key.")
    return str(row.client)
