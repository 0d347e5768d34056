"""Reading and verifying the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.audit.actions import GENESIS, chain_before_verifying, entry_hash, hashed_fields
from navreme.audit.models import AuditEntry
from navreme.identity.models import Department, Officer


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


def chain_problems(entries: Iterable[AuditEntry]) -> Iterator[ChainProblem]:
    """Every place where the chain is broken: edited fields, removed, reordered or forged rows,
    and entries never chained. `entries` come in chain order (position), unchained ones last."""
    expected_prev, expected_position = GENESIS, 1
    for entry in entries:
        if entry.position is None or entry.prev_hash is None or entry.hash is None:
            yield ChainProblem(entry.seq, "not chained: appended but never linked into the chain")
            continue
        if entry.position != expected_position:
            yield ChainProblem(entry.seq, f"position gap: expected {expected_position}")
        if entry.prev_hash != expected_prev:
            yield ChainProblem(entry.seq, "previous-hash link broken")
        if entry_hash(entry.prev_hash, hashed_fields(entry)) != entry.hash:
            yield ChainProblem(entry.seq, "entry content does not match its hash")
        expected_prev, expected_position = entry.hash, entry.position + 1


def stream_entries(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    """The whole log in chain order, then any entries still unchained (by seq). Rows are read
    afresh: entries this session wrote may have been chained since, in another transaction."""
    chained = select(AuditEntry).where(AuditEntry.position.is_not(None))
    unchained = select(AuditEntry).where(AuditEntry.position.is_(None))
    for query in (chained.order_by(AuditEntry.position), unchained.order_by(AuditEntry.seq)):
        options = query.execution_options(yield_per=batch, populate_existing=True)
        yield from session.scalars(options)


def verify_chain(
    session: Session, *, chain_first: bool = True
) -> tuple[int, str, list[ChainProblem]]:
    """Chain what is pending (see `chain_before_verifying`), then walk the whole log once;
    return the entry count, the head hash and every problem."""
    if chain_first:
        chain_before_verifying(session)
    counted = _Counted(stream_entries(session))
    problems = list(chain_problems(counted))
    return counted.count, counted.last_hash, problems


class _Counted:
    def __init__(self, entries: Iterable[AuditEntry]) -> None:
        self._entries, self.count, self.last_hash = entries, 0, GENESIS

    def __iter__(self) -> Iterator[AuditEntry]:
        for entry in self._entries:
            self.count += 1
            self.last_hash = entry.hash or self.last_hash
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
