"""deliveries: index on created_at for the supervisors' dashboard

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 04:30:00

The dashboard counts the last seven days' deliveries by channel and status; without an index
it read the whole table, which grows by every message ever sent.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_created_at", table_name="deliveries")
