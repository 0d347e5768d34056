"""Writing to the audit log. Every security-relevant action calls `record` in its transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.db import is_postgres

GENESIS = "0" * 64
# Advisory lock key that serialises appends to the chain on PostgreSQL ("navreme-audit").
_CHAIN_LOCK = 0x4E41565245_4155


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the entry's fields."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor_kind": entry.actor_kind,
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "action": entry.action,
        "object_kind": entry.object_kind,
        "object_id": entry.object_id,
        "outcome": entry.outcome,
        "details": entry.details,
    }


def record(
    session: Session,
    *,
    action: str,
    actor_kind: str,
    actor_id: uuid.UUID | None = None,
    object_kind: str | None = None,
    object_id: str | uuid.UUID | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction."""
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    prev_seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS)
    entry = AuditEntry(
        seq=prev_seq + 1,
        at=clock.now(),
        actor_kind=actor_kind,
        actor_id=actor_id,
        action=action,
        object_kind=object_kind,
        object_id=str(object_id) if object_id is not None else None,
        outcome=outcome,
        details=details or {},
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(prev_hash, hashed_fields(entry))
    session.add(entry)
    session.flush()
    return entry
