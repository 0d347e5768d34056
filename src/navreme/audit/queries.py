"""Reading and verifying the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.audit.actions import GENESIS, entry_hash, hashed_fields
from navreme.audit.models import AuditEntry
from navreme.identity.models import Department, Officer


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


def chain_problems(entries: Iterable[AuditEntry]) -> Iterator[ChainProblem]:
    """Every place where the chain is broken: edited fields, removed, reordered or forged rows."""
    expected_prev, expected_seq = GENESIS, 1
    for entry in entries:
        if entry.seq != expected_seq:
            yield ChainProblem(entry.seq, f"sequence gap: expected {expected_seq}")
        if entry.prev_hash != expected_prev:
            yield ChainProblem(entry.seq, "previous-hash link broken")
        if entry_hash(entry.prev_hash, hashed_fields(entry)) != entry.hash:
            yield ChainProblem(entry.seq, "entry content does not match its hash")
        expected_prev, expected_seq = entry.hash, entry.seq + 1


def stream_entries(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    return session.scalars(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    )


def verify_chain(session: Session) -> tuple[int, str, list[ChainProblem]]:
    """Walk the whole log once; return the entry count, the head hash and every problem."""
    counted = _Counted(stream_entries(session))
    problems = list(chain_problems(counted))
    return counted.count, counted.last_hash, problems


class _Counted:
    def __init__(self, entries: Iterable[AuditEntry]) -> None:
        self._entries, self.count, self.last_hash = entries, 0, GENESIS

    def __iter__(self) -> Iterator[AuditEntry]:
        for entry in self._entries:
            self.count, self.last_hash = self.count + 1, entry.hash
            yield entry


def recent(session: Session, *, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def officer_entries_about(
    session: Session, object_kind: str, object_id: str, *, limit: int
) -> list[tuple[AuditEntry, Department | None]]:
    """What officers (and their API tokens) did or read about one object, newest first, with
    the officer's department: what a citizen sees under "who looked at your record"."""
    query = (
        select(AuditEntry, Department)
        .outerjoin(Officer, Officer.id == AuditEntry.actor_id)
        .outerjoin(Department, Department.id == Officer.department_id)
        .where(
            AuditEntry.object_kind == object_kind,
            AuditEntry.object_id == object_id,
            AuditEntry.actor_kind.in_(("officer", "token")),
            AuditEntry.outcome == "ok",
        )
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    )
    return [(entry, department) for entry, department in session.execute(query)]
