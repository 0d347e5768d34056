"""rules: indexes for the proactive engine's scans, fewer indexes to maintain on offers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 23:10:00

Read side — the rule statements read these instead of the registry's rows:
- persons (id, death_date): the "living" check of every document / life-event rule;
- persons (household_id, death_date), in a household: the household-size pass;
- valid documents (person_id, kind, issued_on): the anti-join of mandated replacements
  looking for a newer document reads the index alone (with the kind and issue date first,
  SQLite probed it by range, once per candidate: quadratic).

Write side — every offer inserted updated six indexes:
- the unique key is now (person_id, rule_code, period): the same uniqueness, and with the
  person first it also serves lookups by person, so ix_offers_person_id goes;
- ix_offers_waits_on_offer_id holds only offers that wait on another (most wait on none);
  `waits_on_offer_id = ?` (the foreign-key check of a deleted offer) still uses it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_HOUSEHOLD = sa.text("household_id IS NOT NULL")
VALID = sa.text("status = 'valid'")
WAITING = sa.text("waits_on_offer_id IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_persons_id_death_date", "persons", ["id", "death_date"])
    op.create_index(
        "ix_persons_household_living", "persons", ["household_id", "death_date"],
        postgresql_where=IN_HOUSEHOLD, sqlite_where=IN_HOUSEHOLD,
    )  # fmt: skip
    op.create_index(
        "ix_documents_valid_person_kind_issued_on", "documents",
        ["person_id", "kind", "issued_on"], postgresql_where=VALID, sqlite_where=VALID,
    )  # fmt: skip
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_constraint("uq_offers_rule_code_person_id_period", type_="unique")
        batch_op.create_unique_constraint(
            "uq_offers_person_id_rule_code_period", ["person_id", "rule_code", "period"]
        )
        batch_op.drop_index("ix_offers_person_id")
        batch_op.drop_index("ix_offers_waits_on_offer_id")
        batch_op.create_index(
            "ix_offers_waits_on_offer_id", ["waits_on_offer_id"],
            postgresql_where=WAITING, sqlite_where=WAITING,
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_waits_on_offer_id")
        batch_op.create_index("ix_offers_waits_on_offer_id", ["waits_on_offer_id"])
        batch_op.create_index("ix_offers_person_id", ["person_id"])
        batch_op.drop_constraint("uq_offers_person_id_rule_code_period", type_="unique")
        batch_op.create_unique_constraint(
            "uq_offers_rule_code_person_id_period", ["rule_code", "person_id", "period"]
        )
    op.drop_index("ix_documents_valid_person_kind_issued_on", table_name="documents")
    op.drop_index("ix_persons_household_living", table_name="persons")
    op.drop_index("ix_persons_id_death_date", table_name="persons")
