"""messaging hub: messages, deliveries (the outbox), delivery events, inbound, conversations

Revision ID: 0007
Revises: 0006

Deliveries are claimed by workers through the partial index ix_deliveries_due (only the
unfinished ones), and leases that ran out through ix_deliveries_claimed_until (only those
sending). Inbound messages are unique per (channel, provider message id): a webhook replayed
five times is one row. Indexes are partial where most rows have nothing to index (a campaign's
million messages have no dedupe key, no subject, no provider id yet): each indexed row costs
every insert.

Create Date: 2026-11-23 01:17:58
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import navreme.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Login codes now go out through the hub; the development outbox reads deliveries.
    op.drop_table("dev_outbox")
    # A web push subscription (endpoint and keys, as JSON) is a contact address too.
    with op.batch_alter_table("contact_endpoints", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.String(length=320), type_=sa.String(length=1000),
            existing_nullable=False,
        )  # fmt: skip
    op.create_table(
        "contact_settings",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("quiet_from", sa.Time(), nullable=True),
        sa.Column("quiet_until", sa.Time(), nullable=True),
        sa.Column("updated_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_contact_settings_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_contact_settings")),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("last_activity_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(person_id IS NULL) = (channel IS NOT NULL)",
            name=op.f("ck_conversations_person_or_address"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_conversations_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_conversations_channel_address")),
        sa.UniqueConstraint("person_id", name=op.f("uq_conversations_person_id")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("format", sa.String(length=12), nullable=False),
        sa.Column("lane", sa.String(length=8), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=160), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("ladder", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_step_at", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "format IN ('standard', 'large_print', 'easy_read', 'audio')",
            name=op.f("ck_messages_format"),
        ),
        sa.CheckConstraint("lane IN ('priority', 'bulk')", name=op.f("ck_messages_lane")),
        sa.CheckConstraint(
            "purpose IN ('proactive_offers', 'reminders', 'case_updates', 'surveys', 'service', 'login')",
            name=op.f("ck_messages_purpose"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'acknowledged', 'completed', 'exhausted', 'withdrawn')",
            name=op.f("ck_messages_status"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_messages_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_next_step_at",
            ["next_step_at"],
            unique=False,
            postgresql_where=sa.text("status = 'active' AND next_step_at IS NOT NULL"),
            sqlite_where=sa.text("status = 'active' AND next_step_at IS NOT NULL"),
        )
        batch_op.create_index("ix_messages_person_id", ["person_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_messages_subject",
            ["subject_kind", "subject_id"],
            unique=False,
            postgresql_where=sa.text("subject_id IS NOT NULL"),
            sqlite_where=sa.text("subject_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_messages_dedupe_key",
            ["dedupe_key"],
            unique=True,
            postgresql_where=sa.text("dedupe_key IS NOT NULL"),
            sqlite_where=sa.text("dedupe_key IS NOT NULL"),
        )

    op.create_table(
        "channel_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("expires_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("endpoint_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["contact_endpoints.id"],
            name=op.f("fk_channel_links_endpoint_id_contact_endpoints"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_channel_links_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_links")),
    )
    with op.batch_alter_table("channel_links", schema=None) as batch_op:
        batch_op.create_index("ix_channel_links_code_hash", ["channel", "code_hash"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=2000), nullable=False),
        sa.Column("lane", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("not_before", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("created_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("read_at", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("lane IN ('priority', 'bulk')", name=op.f("ck_deliveries_lane")),
        sa.CheckConstraint(
            "status IN ('created', 'sending', 'sent', 'delivered', 'read', 'failed-temporary', 'technical-failure', 'permanent-failure', 'cancelled')",
            name=op.f("ck_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_deliveries_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("message_id", "step", name=op.f("uq_deliveries_message_id_step")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_claimed_until",
            ["claimed_until"],
            unique=False,
            postgresql_where=sa.text("status = 'sending'"),
            sqlite_where=sa.text("status = 'sending'"),
        )
        batch_op.create_index(
            "ix_deliveries_due",
            ["lane", "not_before"],
            unique=False,
            postgresql_where=sa.text("status IN ('created', 'failed-temporary')"),
            sqlite_where=sa.text("status IN ('created', 'failed-temporary')"),
        )
        batch_op.create_index(
            "ix_deliveries_failed",
            ["status", "channel", "updated_at"],
            unique=False,
            postgresql_where=sa.text("status IN ('technical-failure', 'permanent-failure')"),
            sqlite_where=sa.text("status IN ('technical-failure', 'permanent-failure')"),
        )
        batch_op.create_index(
            "uq_deliveries_channel_provider_message_id",
            ["channel", "provider_message_id"],
            unique=True,
            postgresql_where=sa.text("provider_message_id IS NOT NULL"),
            sqlite_where=sa.text("provider_message_id IS NOT NULL"),
        )

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("received_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('confirmed', 'cancelled', 'other_times', 'stop', 'start', 'linked', 'conversation', 'ignored')",
            name=op.f("ck_inbound_messages_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_inbound_messages_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_inbound_messages_person_id_persons"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "channel",
            "provider_message_id",
            name=op.f("uq_inbound_messages_channel_provider_message_id"),
        ),
    )
    op.create_table(
        "conversation_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("inbound_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("needs_officer", sa.Boolean(), nullable=False),
        sa.Column("handled_at", navreme.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('in', 'out')", name=op.f("ck_conversation_items_direction")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_items_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_messages.id"],
            name=op.f("fk_conversation_items_inbound_id_inbound_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_conversation_items_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_items")),
    )
    with op.batch_alter_table("conversation_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_items_conversation_id", ["conversation_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_conversation_items_open",
            ["needs_officer"],
            unique=False,
            postgresql_where=sa.text("needs_officer AND handled_at IS NULL"),
            sqlite_where=sa.text("needs_officer AND handled_at IS NULL"),
        )

    op.create_table(
        "delivery_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_events_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
    )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_events_delivery_id", ["delivery_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contact_endpoints", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.String(length=1000), type_=sa.String(length=320),
            existing_nullable=False,
        )  # fmt: skip
    op.create_table(
        "dev_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=4000), nullable=False),
        sa.Column("created_at", navreme.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_outbox")),
    )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_events_delivery_id")

    op.drop_table("delivery_events")
    with op.batch_alter_table("conversation_items", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_conversation_items_open",
            postgresql_where=sa.text("needs_officer AND handled_at IS NULL"),
            sqlite_where=sa.text("needs_officer AND handled_at IS NULL"),
        )
        batch_op.drop_index("ix_conversation_items_conversation_id")

    op.drop_table("conversation_items")
    op.drop_table("inbound_messages")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_deliveries_channel_provider_message_id",
            postgresql_where=sa.text("provider_message_id IS NOT NULL"),
            sqlite_where=sa.text("provider_message_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_deliveries_failed",
            postgresql_where=sa.text("status IN ('technical-failure', 'permanent-failure')"),
            sqlite_where=sa.text("status IN ('technical-failure', 'permanent-failure')"),
        )
        batch_op.drop_index(
            "ix_deliveries_due",
            postgresql_where=sa.text("status IN ('created', 'failed-temporary')"),
            sqlite_where=sa.text("status IN ('created', 'failed-temporary')"),
        )
        batch_op.drop_index(
            "ix_deliveries_claimed_until",
            postgresql_where=sa.text("status = 'sending'"),
            sqlite_where=sa.text("status = 'sending'"),
        )

    op.drop_table("deliveries")
    with op.batch_alter_table("channel_links", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_links_code_hash")

    op.drop_table("channel_links")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_messages_dedupe_key",
            postgresql_where=sa.text("dedupe_key IS NOT NULL"),
            sqlite_where=sa.text("dedupe_key IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_messages_subject",
            postgresql_where=sa.text("subject_id IS NOT NULL"),
            sqlite_where=sa.text("subject_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_messages_person_id")
        batch_op.drop_index(
            "ix_messages_next_step_at",
            postgresql_where=sa.text("status = 'active' AND next_step_at IS NOT NULL"),
            sqlite_where=sa.text("status = 'active' AND next_step_at IS NOT NULL"),
        )

    op.drop_table("messages")
    op.drop_table("conversations")
    op.drop_table("contact_settings")
