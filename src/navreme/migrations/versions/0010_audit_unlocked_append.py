"""audit entries appended unlocked, chained later: position, nullable hashes, seq from the database

`record` now only inserts (seq from the database's sequence); the chainer later sets
`position`, `prev_hash` and `hash`. Existing entries keep their chain: position = seq (the old
chain was gap-free in seq from 1). The append-only guard now lets exactly one UPDATE through:
an unchained entry getting its three chain fields, every other column unchanged.

Not rolling-compatible (docs/operations.md, Upgrades, step 4): processes of the release before
write seq as max+1 and chain under a lock, which clashes with the sequence and with unchained
rows. Stop every old API process and worker before the new release starts writing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCHAINED = sa.text("position IS NULL")
REFUSE = "audit_entries is append-only: {verb} refused"

# PostgreSQL: the one UPDATE allowed is the chainer's. The row with its chain fields blanked
# must read exactly as before, so no other column (nor one added later) can change with it.
PG_GUARD = """
CREATE FUNCTION navreme_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unlinked audit_entries;
BEGIN
  IF TG_OP = 'UPDATE'
     AND OLD.position IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
     AND NEW.position IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL THEN
    unlinked := NEW;
    unlinked.position := NULL;
    unlinked.prev_hash := NULL;
    unlinked.hash := NULL;
    IF unlinked::text = OLD::text THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$
"""
# SQLite: the same rule, column by column (`IS` compares NULLs as equal).
SAME_CONTENT = " AND ".join(
    f"NEW.{column} IS OLD.{column}"
    for column in ("seq", "at", "actor_kind", "actor_id", "action", "object_kind", "object_id",
                   "outcome", "details")
)  # fmt: skip
SQLITE_CHAINING = (
    "OLD.position IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL AND "
    "NEW.position IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL AND "
    + SAME_CONTENT
)
# PostgreSQL: seq was BIGSERIAL since 0001 but always given as max+1, so its sequence never
# moved. Make sure it exists (a database not made by 0001 may lack it) and starts past max.
PG_SEQUENCE = """
DO $$
BEGIN
  IF pg_get_serial_sequence('audit_entries', 'seq') IS NULL THEN
    CREATE SEQUENCE audit_entries_seq_seq AS bigint OWNED BY audit_entries.seq;
    ALTER TABLE audit_entries ALTER COLUMN seq SET DEFAULT nextval('audit_entries_seq_seq');
  END IF;
  PERFORM setval(pg_get_serial_sequence('audit_entries', 'seq'),
                 COALESCE((SELECT max(seq) FROM audit_entries), 0) + 1, false);
END $$
"""


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    _drop_guards()
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
        )
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_entries_position"), ["position"])
    op.execute("UPDATE audit_entries SET position = seq")
    op.create_index(
        "ix_audit_entries_unchained", "audit_entries", ["seq"],
        postgresql_where=UNCHAINED, sqlite_where=UNCHAINED,
    )  # fmt: skip
    if _postgres():
        op.execute(PG_SEQUENCE)
        op.execute(PG_GUARD)
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION navreme_audit_append_only()"
        )
        return
    op.execute(
        "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
        f"WHEN NOT ({SQLITE_CHAINING}) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSE.format(verb='UPDATE')}'); END"
    )
    _create_sqlite_delete_guard()


def downgrade() -> None:
    unchained = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM audit_entries WHERE position IS NULL")
    )
    if unchained:
        raise RuntimeError(
            f"{unchained} audit entries are not chained yet: run `navreme audit verify` "
            "(it chains them) before downgrading below 0010"
        )
    _drop_guards()
    if _postgres():
        op.execute("DROP FUNCTION navreme_audit_append_only()")
    op.drop_index(
        "ix_audit_entries_unchained", table_name="audit_entries",
        postgresql_where=UNCHAINED, sqlite_where=UNCHAINED,
    )  # fmt: skip
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_entries_position"), type_="unique")
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("position")
    # 0002's guards again. The chain itself is kept, but the verifier before 0010 walks it in
    # seq order and wants seq without gaps: entries appended since 0010 (seq from a sequence,
    # chained in commit order) may show there as gaps or broken links.
    if _postgres():
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION navreme_append_only()"
        )
        return
    op.execute(
        "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSE.format(verb='UPDATE')}'); END"
    )
    _create_sqlite_delete_guard()


def _drop_guards() -> None:
    """The row guards go first: on SQLite the batch rebuild would drop them anyway, and on
    PostgreSQL they would refuse the UPDATE that sets positions."""
    if _postgres():
        op.execute("DROP TRIGGER audit_entries_append_only ON audit_entries")
        return
    op.execute("DROP TRIGGER audit_entries_no_update")
    op.execute("DROP TRIGGER audit_entries_no_delete")


def _create_sqlite_delete_guard() -> None:
    op.execute(
        "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSE.format(verb='DELETE')}'); END"
    )
