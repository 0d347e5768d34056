"""Proactive engine tables (M3): versioned rules, their runs, the offers they make, opt-outs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from navreme.db import Base, created_column, id_column
from navreme.registry.models import Document, Person

RULE_STATUSES = ("draft", "published", "retired")
LEVELS = ("inform", "offer", "automatic")
OFFER_STATUSES = ("pending", "notified", "accepted", "declined", "completed", "expired")
OPEN_OFFER_STATUSES = ("pending", "notified", "accepted")


class Rule(Base):
    """One version of a rule; a change is a new version, never an edit of a published one."""

    __tablename__ = "rules"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
    )

    id: Mapped[uuid.UUID] = id_column()
    code: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default="draft")
    service_code: Mapped[str] = mapped_column(String(48))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = created_column()
    published_at: Mapped[datetime | None]


class RuleRun(Base):
    """What ran, as of which date, how many matched, how many offers it created, how long."""

    __tablename__ = "rule_runs"
    __table_args__ = (Index("ix_rule_runs_rule_code_as_of", "rule_code", "as_of"),)

    id: Mapped[uuid.UUID] = id_column()
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rules.id"))
    rule_code: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date]
    trigger: Mapped[str] = mapped_column(String(12))  # schedule | manual | catch_up
    started_at: Mapped[datetime] = created_column()
    finished_at: Mapped[datetime | None]
    matched: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0)


class Offer(Base):
    """A service offered to a person, exactly once per (rule, person, period)."""

    __tablename__ = "offers"
    __table_args__ = (
        # The person first: the same uniqueness, and it serves lookups by person too.
        UniqueConstraint("person_id", "rule_code", "period"),
        CheckConstraint(
            "status IN ('pending', 'notified', 'accepted', 'declined', 'completed', 'expired')",
            name="status",
        ),
        CheckConstraint("level IN ('inform', 'offer', 'automatic')", name="level"),
        Index("ix_offers_recipient_id", "recipient_id"),
        Index("ix_offers_status_service", "status", "service_code"),
        # Only offers that wait on another: most wait on none, and their inserts skip it.
        Index(
            "ix_offers_waits_on_offer_id",
            "waits_on_offer_id",
            postgresql_where=text("waits_on_offer_id IS NOT NULL"),
            sqlite_where=text("waits_on_offer_id IS NOT NULL"),
        ),  # fmt: skip
    )

    id: Mapped[uuid.UUID] = id_column()
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rules.id"))
    rule_code: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("rule_runs.id"))
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(80))
    service_code: Mapped[str] = mapped_column(String(48))
    level: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    # The facts behind the offer: which record and which date triggered it.
    fact_kind: Mapped[str] = mapped_column(String(16))  # document | life_event | person
    fact_id: Mapped[uuid.UUID | None]
    fact_date: Mapped[date | None]
    horizon_days: Mapped[int | None]
    as_of: Mapped[date]
    waits_on_offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id"))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class ProactiveOptOut(Base):
    """A person declined proactive handling of a service: no new offers for it."""

    __tablename__ = "proactive_opt_outs"
    __table_args__ = (UniqueConstraint("person_id", "service_code"),)

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    service_code: Mapped[str] = mapped_column(String(48))
    created_at: Mapped[datetime] = created_column()


# Indexes the rule statements read instead of the registry's rows (migration 0006). They
# live with the engine that needs them; the registry's models stay the registry's.
Index("ix_persons_id_death_date", Person.id, Person.death_date)
Index(
    "ix_persons_household_living", Person.household_id, Person.death_date,
    postgresql_where=Person.household_id.is_not(None),
    sqlite_where=Person.household_id.is_not(None),
)  # fmt: skip
Index(
    "ix_documents_valid_person_kind_issued_on", Document.person_id, Document.kind,
    Document.issued_on,
    postgresql_where=Document.status == "valid", sqlite_where=Document.status == "valid",
)  # fmt: skip
