"""Audited writes do not wait for one another: appending is apart from chaining.

On PostgreSQL `record` only inserts; `chain_pending` (the every-minute job, and every
verification) links entries in the order their transactions became visible. On SQLite `record`
chains at once. Entries written "raw" below (unchained, bypassing `record`) stand for what
PostgreSQL's `record` leaves behind, so the chainer is tested on both databases.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.audit.actions import chain_pending, record
from navreme.audit.models import AuditEntry
from navreme.audit.queries import verify_chain
from navreme.db import get_engine, session_scope
from tests import factories


def _needs_postgres(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite serialises writers: transactions cannot overlap there")


def _append_unchained(count: int, action: str = "test.raw") -> list[int]:
    """What PostgreSQL's `record` leaves behind: entries committed but not yet chained."""
    with session_scope() as session:
        entries = [
            AuditEntry(at=clock.now(), actor_kind="system", action=action, outcome="ok",
                       details={"n": n, "note": "ћирилица"})
            for n in range(count)
        ]  # fmt: skip
        session.add_all(entries)
        session.flush()
        return [entry.seq for entry in entries]


def _chain() -> list[tuple[int, int | None]]:
    """(seq, position) of every entry, in chain order (unchained last)."""
    with session_scope() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.position).order_by(
                AuditEntry.position.is_(None), AuditEntry.position, AuditEntry.seq
            )
        )
        return [(row.seq, row.position) for row in rows]


def _verified(*, chain_first: bool = True) -> tuple[int, list[str]]:
    with session_scope() as session:
        count, _head, problems = verify_chain(session, chain_first=chain_first)
    return count, [problem.reason for problem in problems]


def _chain_now() -> int:
    with session_scope() as session:
        return chain_pending(session)


def _open(settings: config.Settings) -> Session:
    """A session of its own whose lock waits give up after 2 s (the old append lock would
    otherwise make these tests hang instead of fail)."""
    session = Session(get_engine(settings), expire_on_commit=False)
    session.execute(text("SET LOCAL lock_timeout = '2s'"))
    return session


def test_record__postgresql__a_second_writer_commits_while_the_first_is_still_open(
    settings: config.Settings, backend: str
) -> None:
    _needs_postgres(backend)
    first, second = _open(settings), _open(settings)
    try:
        early = record(first, action="test.first", actor_kind="system")  # stays open
        late = record(second, action="test.second", actor_kind="system")
        second.commit()  # did not wait for `first`
        assert (early.position, late.position) == (None, None)  # appended, not chained
        first.commit()
    finally:
        first.close()
        second.close()
    assert _chain_now() == 2
    assert _chain() == [(early.seq, 1), (late.seq, 2)]
    assert _verified(chain_first=False) == (2, [])


def test_chain__postgresql__entries_committed_out_of_seq_order_chain_in_commit_order(
    settings: config.Settings, backend: str
) -> None:
    _needs_postgres(backend)
    first, second = _open(settings), _open(settings)
    try:
        early = record(first, action="test.first", actor_kind="system")
        late = record(second, action="test.second", actor_kind="system")
        second.commit()
        assert _chain_now() == 1  # the open transaction's entry is not visible yet
        first.commit()
    finally:
        first.close()
        second.close()
    assert early.seq < late.seq
    assert _chain_now() == 1
    assert _chain() == [(late.seq, 1), (early.seq, 2)]
    assert _verified() == (2, [])


def test_chain__postgresql__a_rolled_back_entry_between_committed_ones_leaves_no_gap(
    settings: config.Settings, backend: str
) -> None:
    _needs_postgres(backend)
    first, second = _open(settings), _open(settings)
    try:
        record(first, action="test.rolled_back", actor_kind="system")
        kept = record(second, action="test.kept", actor_kind="system")
        first.rollback()
        second.commit()
    finally:
        first.close()
        second.close()
    with session_scope() as session:
        after = record(session, action="test.after", actor_kind="system")
    assert (kept.seq, after.seq) == (2, 3)  # seq 1 was rolled back: a gap in seq
    assert _verified() == (2, [])
    assert _chain() == [(kept.seq, 1), (after.seq, 2)]


def test_record__rolled_back_entry__no_gap_in_the_chain(settings: config.Settings) -> None:
    with session_scope() as session:
        record(session, action="test.before", actor_kind="system")
    with pytest.raises(RuntimeError, match="audited action failed"):
        _record_then_fail()
    with session_scope() as session:
        record(session, action="test.after", actor_kind="system")
    assert _verified() == (2, [])
    assert [position for _seq, position in _chain()] == [1, 2]


def _record_then_fail() -> None:
    with session_scope() as session:
        record(session, action="test.rolled_back", actor_kind="system")
        raise RuntimeError("the audited action failed")


def test_record__sqlite__chains_at_once_in_the_same_transaction(
    settings: config.Settings, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("on PostgreSQL the chainer links entries after commit")
    with session_scope() as session:
        entry = record(session, action="test.embedded", actor_kind="system")
        assert (entry.position, entry.prev_hash) == (1, "0" * 64)
        assert entry.hash is not None
    assert _verified(chain_first=False) == (1, [])


def test_chain__two_chainers_at_once__one_chain_each_entry_once(
    settings: config.Settings,
) -> None:
    seqs = _append_unchained(120)
    start = threading.Barrier(3)

    def chainer(_n: int) -> int:
        start.wait()
        total = 0
        while chained := _chain_in_batches_of(7):
            total += chained
        return total

    with ThreadPoolExecutor(max_workers=3) as pool:
        counts = list(pool.map(chainer, range(3)))
    assert sum(counts) == 120  # an entry chained twice would be refused by the guard
    assert _chain() == [(seq, position) for position, seq in enumerate(seqs, start=1)]
    assert _verified(chain_first=False) == (120, [])


def _chain_in_batches_of(limit: int) -> int:
    with session_scope() as session:
        return chain_pending(session, limit=limit)


def test_chain__extends_a_chain_that_record_started(settings: config.Settings) -> None:
    with session_scope() as session:
        record(session, action="test.recorded", actor_kind="system")
    raw = _append_unchained(3)
    assert _verified() == (4, [])
    assert [seq for seq, _position in _chain()][1:] == raw


def test_periodic_job__chains_what_is_pending(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from navreme.workers.app import chain_audit_entries, huey

    monkeypatch.delenv("NAVREME_REDIS_URL", raising=False)  # every copy runs: no tick claims
    monkeypatch.delenv("NAVREME_QUEUE_URL", raising=False)
    config.get_settings.cache_clear()
    _append_unchained(5)
    assert chain_audit_entries.call_local() == 5
    assert chain_audit_entries.call_local() == 0
    assert _verified(chain_first=False) == (5, [])
    every_minute = {task.name for task in huey.read_periodic(clock.now().replace(minute=7))}
    assert "audit.chain_pending" in every_minute


def test_verify__unchained_entry__reported_until_chained(settings: config.Settings) -> None:
    with session_scope() as session:
        record(session, action="test.recorded", actor_kind="system")
    _chain_now()
    _append_unchained(1)
    assert _verified(chain_first=False) == (2, ["not chained: appended but never linked into the chain"])  # fmt: skip
    assert _verified() == (2, [])  # verification chains what is pending first


def _bypassing_guards(session: Session, *statements: str) -> None:
    """What an intruder with the superuser's password could do: guards off, edit, guards on."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        for statement in statements:
            session.execute(text(statement))
        session.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
    else:
        session.execute(text("DROP TRIGGER audit_entries_no_update"))
        session.execute(text("DROP TRIGGER audit_entries_no_delete"))
        for statement in statements:
            session.execute(text(statement))
    session.commit()


TAMPERING: dict[str, tuple[tuple[str, ...], str]] = {
    "edited details": (
        ("UPDATE audit_entries SET details = '{\"n\": 999}' WHERE position = 3",),
        "entry content does not match its hash",
    ),
    "deleted row": (("DELETE FROM audit_entries WHERE position = 3",), "position gap: expected 3"),
    "reordered rows": (
        (
            "UPDATE audit_entries SET position = -1 WHERE position = 3",
            "UPDATE audit_entries SET position = 3 WHERE position = 4",
            "UPDATE audit_entries SET position = 4 WHERE position = -1",
        ),
        "previous-hash link broken",
    ),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_verify__tampering_after_chaining__detected(
    settings: config.Settings, db_session: Session, kind: str
) -> None:
    with session_scope() as session:
        for n in range(6):
            record(session, action="test.tamper", actor_kind="system", details={"n": n})
    assert _verified() == (6, [])
    statements, reason = TAMPERING[kind]
    _bypassing_guards(db_session, *statements)
    _count, problems = _verified()
    assert reason in problems


def test_database__chaining_is_the_one_update_let_through(
    settings: config.Settings, db_session: Session
) -> None:
    linked, waiting = _append_unchained(2)
    assert _chain_in_batches_of(1) == 1  # `linked` is chained, `waiting` not yet
    refused = (
        ("UPDATE audit_entries SET hash = 'x' WHERE seq = :seq", linked),  # chaining again
        ("UPDATE audit_entries SET position = 9, prev_hash = 'p', hash = 'h', "
         "action = 'forged' WHERE seq = :seq", waiting),  # chaining that changes the content
        ("UPDATE audit_entries SET action = 'forged' WHERE seq = :seq", waiting),
        ("DELETE FROM audit_entries WHERE seq = :seq", waiting),
    )  # fmt: skip
    for statement, seq in refused:
        with pytest.raises(DBAPIError, match="append-only"):
            db_session.execute(text(statement), {"seq": seq})
        db_session.rollback()
    assert _chain_now() == 1
    assert _verified(chain_first=False) == (2, [])


def test_api_verify__chains_pending_then_reports_intact(
    client: TestClient, db_session: Session
) -> None:
    admin = factories.officer(db_session, roles=("admin",))
    db_session.commit()
    headers = factories.officer_token(client, admin)
    _append_unchained(3)
    listed = client.get("/api/v1/audit", headers=headers).json()
    assert None in {entry["position"] for entry in listed}  # not chained yet
    report = client.get("/api/v1/audit/verify", headers=headers).json()
    assert (report["intact"], report["problems"]) == (True, [])
    listed = client.get("/api/v1/audit", headers=headers).json()
    assert sorted(entry["position"] for entry in listed) == list(range(1, len(listed) + 1))
    assert report["entries"] == len(listed)
