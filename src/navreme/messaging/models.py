"""The messaging hub's tables: messages, their per-channel deliveries, inbound, conversations.

A *message* is what the state wants to tell a person (purpose, template, language, format,
lane). A *delivery* is one attempt to carry it on one channel to one address; the fallback
ladder adds deliveries step by step until the person acknowledges. Deliveries are the outbox:
they are written in the same transaction as the business change that causes them, and workers
carry them out. `delivery_events` keeps proof of every contact attempt, append-only.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from navreme.db import Base, created_column, id_column

PURPOSES = ("proactive_offers", "reminders", "case_updates", "surveys", "service", "login")
FORMATS = ("standard", "large_print", "easy_read", "audio")
LANES = ("priority", "bulk")
MESSAGE_STATUSES = ("active", "acknowledged", "completed", "exhausted", "withdrawn")
DELIVERY_STATUSES = (
    "created", "sending", "sent", "delivered", "read",
    "failed-temporary", "technical-failure", "permanent-failure", "cancelled",
)  # fmt: skip
# How final a status is: a receipt may only move a delivery up this scale (T09).
RANK = {
    "created": 0, "failed-temporary": 1, "sending": 1, "sent": 2,
    "technical-failure": 3, "permanent-failure": 3, "cancelled": 3, "delivered": 4, "read": 5,
}  # fmt: skip
FINAL = frozenset({"technical-failure", "permanent-failure", "cancelled", "delivered", "read"})
INBOUND_OUTCOMES = (
    "confirmed", "cancelled", "other_times", "stop", "start", "linked", "conversation",
    "ignored",
)  # fmt: skip


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_in("format", FORMATS), name="format"),
        CheckConstraint(_in("lane", LANES), name="lane"),
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
        # Exactly one message per business reason (an invitation per appointment, …). Indexes
        # here are partial where most rows have nothing to index: a campaign of a million
        # messages has no dedupe key, no subject and often no next step.
        Index(
            "uq_messages_dedupe_key",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
            sqlite_where=text("dedupe_key IS NOT NULL"),
        ),
        Index("ix_messages_person_id", "person_id", "created_at"),
        # The ladder sweeper reads only active messages whose next step is due.
        Index(
            "ix_messages_next_step_at",
            "next_step_at",
            postgresql_where=text("status = 'active' AND next_step_at IS NOT NULL"),
            sqlite_where=text("status = 'active' AND next_step_at IS NOT NULL"),
        ),
        Index(
            "ix_messages_subject",
            "subject_kind",
            "subject_id",
            postgresql_where=text("subject_id IS NOT NULL"),
            sqlite_where=text("subject_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE")
    )
    purpose: Mapped[str] = mapped_column(String(24))
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2))
    format: Mapped[str] = mapped_column(String(12), default="standard")
    lane: Mapped[str] = mapped_column(String(8), default="bulk")
    urgent: Mapped[bool] = mapped_column(default=False)  # sent in quiet hours too
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the template's variables
    subject_kind: Mapped[str | None] = mapped_column(String(16))  # offer | appointment | …
    subject_id: Mapped[uuid.UUID | None]
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(12), default="active")
    # The fallback ladder still ahead: [[channel, address], …]; `step` is the one in progress.
    ladder: Mapped[list[Any]] = mapped_column(default=list)
    step: Mapped[int] = mapped_column(default=0)
    next_step_at: Mapped[datetime | None]  # when to climb if nobody acknowledged
    acknowledged_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(80), default="system")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class Delivery(Base):
    """One message on one channel to one address; its id is the provider idempotency key."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        CheckConstraint(_in("lane", LANES), name="lane"),
        UniqueConstraint("message_id", "step"),
        # Receipts find their delivery by the provider's id, which exists once it was sent.
        Index(
            "uq_deliveries_channel_provider_message_id",
            "channel",
            "provider_message_id",
            unique=True,
            postgresql_where=text("provider_message_id IS NOT NULL"),
            sqlite_where=text("provider_message_id IS NOT NULL"),
        ),
        # Workers claim due deliveries lane by lane; only unfinished ones are indexed.
        Index(
            "ix_deliveries_due",
            "lane",
            "not_before",
            postgresql_where=text("status IN ('created', 'failed-temporary')"),
            sqlite_where=text("status IN ('created', 'failed-temporary')"),
        ),
        Index(
            "ix_deliveries_claimed_until",
            "claimed_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        # The supervisors' dashboard counts the last days' deliveries by channel and status.
        Index("ix_deliveries_created_at", "created_at"),
        # Officers' list of failures.
        Index(
            "ix_deliveries_failed",
            "status",
            "channel",
            "updated_at",
            postgresql_where=text("status IN ('technical-failure', 'permanent-failure')"),
            sqlite_where=text("status IN ('technical-failure', 'permanent-failure')"),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(2000))  # web push subscriptions are long
    lane: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), default="created")
    tries: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime] = created_column()  # backoff, quiet hours, circuit breaker
    claimed_until: Mapped[datetime | None]  # a worker's lease while sending
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error_code: Mapped[str | None] = mapped_column(String(60))
    error: Mapped[str | None] = mapped_column(String(300))
    # What was (or will be) said, as rendered for this channel: the proof of contact.
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]

    # Never loaded (lazy="raise"): it tells the unit of work to insert the message first, so
    # `send` can add both without a flush (a round trip) per message.
    message: Mapped[Message] = relationship(lazy="raise")


class DeliveryEvent(Base):
    """Append-only: every status a delivery went through, with who said so."""

    __tablename__ = "delivery_events"
    __table_args__ = (Index("ix_delivery_events_delivery_id", "delivery_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(16))  # outbox | worker | receipt | sweeper | …
    detail: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[datetime] = created_column()

    delivery: Mapped[Delivery] = relationship(lazy="raise")  # insert order, as above


class Conversation(Base):
    """One per person (or per unknown sender address): every channel joins the same thread."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("person_id"),
        UniqueConstraint("channel", "address"),
        CheckConstraint(
            "(person_id IS NULL) = (channel IS NOT NULL)", name="person_or_address"
        ),  # fmt: skip
    )

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE")
    )
    channel: Mapped[str | None] = mapped_column(String(16))  # for a sender not yet linked
    address: Mapped[str | None] = mapped_column(String(320))
    last_activity_at: Mapped[datetime] = created_column()
    created_at: Mapped[datetime] = created_column()


class InboundMessage(Base):
    """What a person sent; (channel, provider message id) makes every webhook replay a no-op."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id"),
        CheckConstraint(_in("outcome", INBOUND_OUTCOMES), name="outcome"),
    )

    id: Mapped[uuid.UUID] = id_column()
    channel: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL")
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"))
    text: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16), default="conversation")
    received_at: Mapped[datetime] = created_column()
    created_at: Mapped[datetime] = created_column()


class ConversationItem(Base):
    """A line in a conversation: a message in or out, or something an officer must answer."""

    __tablename__ = "conversation_items"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        Index("ix_conversation_items_conversation_id", "conversation_id", "created_at"),
        Index(
            "ix_conversation_items_open",
            "needs_officer",
            postgresql_where=text("needs_officer AND handled_at IS NULL"),
            sqlite_where=text("needs_officer AND handled_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(16))
    inbound_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("inbound_messages.id"))
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id"))
    text: Mapped[str] = mapped_column(Text)
    needs_officer: Mapped[bool] = mapped_column(default=False)
    handled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class ChannelLink(Base):
    """A one-time code that links a messenger account to a person once the person sends it."""

    __tablename__ = "channel_links"
    __table_args__ = (Index("ix_channel_links_code_hash", "channel", "code_hash"),)

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("contact_endpoints.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_column()


class ContactSettings(Base):
    """A person's quiet hours and time zone; no row means the defaults (21:00–08:00 in the
    country's zone). Both times empty: no quiet hours at all."""

    __tablename__ = "contact_settings"

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Skopje")
    quiet_from: Mapped[time | None]
    quiet_until: Mapped[time | None]
    updated_at: Mapped[datetime] = created_column()
