"""Writing to the audit log. Every security-relevant action calls `record` in its transaction.

Appending and chaining are apart. `record` only inserts the entry; `chain_pending` later gives
entries their place in the hash chain. On PostgreSQL that happens in the chainer's own short
transaction (the `audit.chain_pending` job, every minute, and before every verification), so
audited writes never wait for one another; on SQLite, whose writers are serialised anyway,
`record` chains its entry at once and the chain is always complete.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.db import is_postgres

GENESIS = "0" * 64
# Advisory lock key that lets one chainer at a time extend the chain on PostgreSQL
# ("navreme-audit"). Only chainers take it: appending entries never does.
_CHAIN_LOCK = 0x4E41565245_4155
# Entries chained per transaction: a backlog commits as it goes, each transaction stays short.
CHAIN_BATCH = 5000


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
    """Append one entry inside the caller's transaction: unchained on PostgreSQL (no lock, no
    read; the chainer links it once committed), chained at once on SQLite."""
    entry = AuditEntry(
        at=clock.now(),
        actor_kind=actor_kind,
        actor_id=actor_id,
        action=action,
        object_kind=object_kind,
        object_id=str(object_id) if object_id is not None else None,
        outcome=outcome,
        details=details or {},
    )
    session.add(entry)
    session.flush()  # the database gives the entry its seq
    if not is_postgres(session):
        _link(session, [entry])
    return entry


def chain_pending(session: Session, *, limit: int | None = CHAIN_BATCH) -> int:
    """Link the oldest unchained entries this transaction sees (by seq, at most `limit`) after
    the chain's head, with consecutive positions; returns how many were chained.

    On PostgreSQL an advisory lock, held to the caller's COMMIT, lets one chainer at a time
    read the head and extend it. An entry whose transaction commits after a higher seq's is
    simply chained later, and a rolled-back seq is never seen, so positions have no gaps.
    """
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    pending = list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.position.is_(None))
            .order_by(AuditEntry.seq)
            .limit(limit)
        )
    )
    _link(session, pending)
    return len(pending)


def chain_all_pending(engine: Engine) -> int:
    """Chain every pending entry, one batch per transaction of its own; returns how many."""
    total = 0
    while True:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            chained = chain_pending(session, limit=CHAIN_BATCH)
        total += chained
        if chained < CHAIN_BATCH:
            return total


def chain_before_verifying(session: Session) -> int:
    """Chain what is pending so a verification walks the whole log. PostgreSQL: in
    transactions of their own, committed before the caller's session reads on. SQLite: in the
    caller's transaction (it may hold the one write lock a second connection would wait for),
    where `record` has chained everything already."""
    if not is_postgres(session):
        return chain_pending(session, limit=None)
    bind = session.get_bind()
    return chain_all_pending(bind if isinstance(bind, Engine) else bind.engine)


def _link(session: Session, entries: Sequence[AuditEntry]) -> None:
    """Give `entries`, in this order, the positions after the head and their hashes."""
    if not entries:
        return
    head = session.execute(
        select(AuditEntry.position, AuditEntry.hash)
        .where(AuditEntry.position.is_not(None))
        .order_by(AuditEntry.position.desc())
        .limit(1)
    ).first()
    position, prev_hash = (head.position, head.hash) if head else (0, GENESIS)
    for entry in entries:
        position += 1
        entry.position, entry.prev_hash = position, prev_hash
        entry.hash = prev_hash = entry_hash(prev_hash, hashed_fields(entry))
    session.flush()
