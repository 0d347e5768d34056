"""T18: the audit log is hash-chained, verified, and append-only in the database itself.

On PostgreSQL `record` appends unchained and the chainer links entries later; `_fill` chains
what it wrote, as the every-minute job would, so the chain tests see a complete chain.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from navreme.audit.actions import chain_before_verifying, record
from navreme.audit.models import AuditEntry
from navreme.audit.queries import chain_problems, verify_chain
from navreme.cli.main import app
from tests import factories


def _fill(session: Session, count: int) -> None:
    for number in range(count):
        record(
            session, action=random.choice(["auth.officer_login", "person.view", "consent.change"]),
            actor_kind="officer", object_kind="person", object_id=f"obj-{number}",
            details={"n": number, "note": "ćирилица"},
        )  # fmt: skip
    session.commit()
    chain_before_verifying(session)
    session.commit()


def _detached(session: Session) -> list[AuditEntry]:
    session.expire_all()
    rows = list(session.query(AuditEntry).order_by(AuditEntry.position))
    session.expunge_all()
    return rows


def _copy(entry: AuditEntry, **changes: object) -> AuditEntry:
    fields = {c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns}
    fields.update(changes)
    return AuditEntry(**fields)


MUTATIONS = ("edit_action", "edit_details", "edit_time", "edit_outcome", "drop", "swap",
             "forge_insert", "edit_actor", "rehash_one")  # fmt: skip


def _mutate(rows: list[AuditEntry], rng: random.Random) -> list[AuditEntry]:
    rows = [_copy(r) for r in rows]
    kind, i = rng.choice(MUTATIONS), rng.randrange(len(rows) - 1)
    target = rows[i]
    if kind == "edit_action":
        target.action = "nothing.to.see"
    elif kind == "edit_details":
        target.details = {**target.details, "n": -1}
    elif kind == "edit_time":
        target.at = target.at - timedelta(seconds=1)
    elif kind == "edit_outcome":
        target.outcome = "denied" if target.outcome == "ok" else "ok"
    elif kind == "edit_actor":
        target.actor_kind = "system"
    elif kind == "drop":
        del rows[i]
    elif kind == "swap":
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
    elif kind == "forge_insert":
        rows.insert(i, _copy(target, action="forged"))
    elif kind == "rehash_one":  # recompute one entry's own hash: its successor's link breaks
        from navreme.audit.actions import entry_hash, hashed_fields

        target.action = "rewritten"
        target.hash = entry_hash(target.prev_hash, hashed_fields(target))
    return rows


def test_verify__one_thousand_mutated_logs__every_one_detected(db_session: Session) -> None:
    _fill(db_session, 60)
    pristine = _detached(db_session)
    assert list(chain_problems(pristine)) == []
    rng = random.Random(18)
    undetected = [n for n in range(1000) if not list(chain_problems(_mutate(pristine, rng)))]
    assert undetected == []


def test_database__update_or_delete_of_audit_rows__refused(db_session: Session) -> None:
    _fill(db_session, 3)
    for statement in ("UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"):
            db_session.execute(text(statement))
        db_session.rollback()
    assert verify_chain(db_session)[0] == 3


def test_cli_verify__intact_then_tampered__exit_codes(
    settings: object, db_session: Session
) -> None:
    factories.officer(db_session)
    _fill(db_session, 5)
    runner = CliRunner()
    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact: 6 entries" in intact.output
    _tamper_bypassing_guards(db_session)
    tampered = runner.invoke(app, ["audit", "verify"])
    assert tampered.exit_code == 1
    assert "entry 3: entry content does not match its hash" in tampered.output


def _tamper_bypassing_guards(session: Session) -> None:
    """What an attacker with superuser rights could do: drop the guard, edit, restore."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        session.execute(text("UPDATE audit_entries SET action = 'hidden' WHERE seq = 3"))
        session.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
    else:
        session.execute(text("DROP TRIGGER audit_entries_no_update"))
        session.execute(text("UPDATE audit_entries SET action = 'hidden' WHERE seq = 3"))
    session.commit()


def test_cli_verify__noted_head_cut_off__detected(settings: object, db_session: Session) -> None:
    _fill(db_session, 4)
    head = verify_chain(db_session)[1]
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "verify", "--expect-head", head]).exit_code == 0
    assert runner.invoke(app, ["audit", "verify", "--expect-head", "f" * 64]).exit_code == 1


def test_concurrent_appends__chain_stays_linear(db_session: Session, settings: object) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from navreme.db import session_scope

    def append(n: int) -> None:
        with session_scope() as session:
            record(session, action="test.append", actor_kind="system", details={"n": n})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, range(40)))
    count, _head, problems = verify_chain(db_session)
    assert (count, problems) == (40, [])
