"""Cases: every request, question or complaint, from any channel, in one governed queue (M6).

A case is received once (an idempotency key, or the inbound message it came from, is unique),
classified (category, confidence, which model), routed to a department by data (category ×
area → department), and handled: accepted or rejected, transferred, split into sub-tasks,
resolved, reviewed, closed, re-opened. Every step is an append-only `case_events` row; the
ones marked `public` are told to the citizen and appear (anonymised) in the public feed.
SLA clocks: `accept_due_at` and `resolve_due_at` are computed on the working-day calendar from
the category's policy when the case is received (and accepted).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from navreme.db import Base, created_column, id_column

CASE_STATUSES = (
    "triage",  # classified below the threshold, or no department for its category and area
    "new",  # routed to a department, waiting to be accepted
    "accepted",  # the department took it on
    "in_progress",  # handled directly or through sub-tasks
    "resolved",  # the department says it is done; waits for a supervisor's review
    "closed",  # reviewed and closed; the citizen was asked to rate it
    "rejected",  # refused with a reason (not ours, not a request, abusive)
    "merged",  # the same matter as another case of the same person; lives on there
)
OPEN_STATUSES = ("triage", "new", "accepted", "in_progress", "resolved")
INTAKE_CHANNELS = (
    "web", "open311", "phone", "counter",
    "email", "sms", "matrix", "telegram", "whatsapp", "viber", "messenger", "xmpp",
)  # fmt: skip
EVENT_KINDS = (
    "received", "classified", "routed", "accepted", "rejected", "transferred", "note",
    "task_added", "task_done", "resolved", "reviewed", "closed", "reopened", "merged",
    "escalated", "rated",
)  # fmt: skip
TASK_STATUSES = ("open", "done", "cancelled")
SLA_STATES = ("on_time", "at_risk", "breached")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CaseCategory(Base):
    """What a request is about, with its SLA policy and default department; also an Open311
    service (`code` is the service_code)."""

    __tablename__ = "case_categories"
    __table_args__ = (
        CheckConstraint("accept_hours > 0", name="accept_hours"),
        CheckConstraint("resolve_days > 0", name="resolve_days"),
    )

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    group: Mapped[str] = mapped_column(String(48))
    name_mk: Mapped[str] = mapped_column(String(120))
    name_sq: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    description_en: Mapped[str] = mapped_column(String(500), default="")
    keywords: Mapped[str] = mapped_column(String(300), default="")
    accept_hours: Mapped[int] = mapped_column(default=8)  # working hours to accept
    resolve_days: Mapped[int] = mapped_column(default=10)  # working days to resolve
    public: Mapped[bool] = mapped_column(default=True)  # listed by Open311, in the public feed
    active: Mapped[bool] = mapped_column(default=True)


class RoutingRule(Base):
    """Category × area → department: routing is data. `municipality_code` NULL is any area;
    the most specific rule wins."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        # one rule per category and area, and one "anywhere" rule per category
        Index(
            "uq_routing_rules_category_area", "category_code", "municipality_code", unique=True,
            postgresql_where=text("municipality_code IS NOT NULL"),
            sqlite_where=text("municipality_code IS NOT NULL"),
        ),
        Index(
            "uq_routing_rules_category_anywhere", "category_code", unique=True,
            postgresql_where=text("municipality_code IS NULL"),
            sqlite_where=text("municipality_code IS NULL"),
        ),
    )  # fmt: skip

    id: Mapped[uuid.UUID] = id_column()
    category_code: Mapped[str] = mapped_column(ForeignKey("case_categories.code"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint(_in("channel", INTAKE_CHANNELS), name="channel"),
        CheckConstraint(_in("sla_state", SLA_STATES), name="sla_state"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("confidence IS NULL OR confidence BETWEEN 0 AND 1", name="confidence"),
        # One case per submission: an idempotency key (API, Open311, web form) or the inbound
        # message it came from. Partial: most cases have only one of the two.
        Index(
            "uq_cases_idempotency_key",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),  # fmt: skip
        Index(
            "uq_cases_inbound_id",
            "inbound_id",
            unique=True,
            postgresql_where=text("inbound_id IS NOT NULL"),
            sqlite_where=text("inbound_id IS NOT NULL"),
        ),  # fmt: skip
        # A department's queue, and the SLA sweep: only open cases are indexed.
        Index(
            "ix_cases_department_open",
            "department_id",
            "status",
            "accept_due_at",
            postgresql_where=text(f"status IN {OPEN_STATUSES!r}"),
            sqlite_where=text(f"status IN {OPEN_STATUSES!r}"),
        ),  # fmt: skip
        Index("ix_cases_person_id", "person_id", "created_at"),
        Index("ix_cases_closed_at", "closed_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    # Public reference and Open311 service_request_id, "NV-7KQ2M4XD": random, so that intake
    # at a thousand cases a second shares no counter row (the unique index catches a repeat).
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("persons.id"))
    # Anonymous or not-yet-known sender (Open311 without an account, an unlinked messenger).
    contact_channel: Mapped[str | None] = mapped_column(String(16))
    contact_address: Mapped[str | None] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    inbound_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("inbound_messages.id"))
    open311_client: Mapped[str | None] = mapped_column(String(80))  # the API key's client name
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(2))
    category_code: Mapped[str | None] = mapped_column(ForeignKey("case_categories.code"))
    predicted_category: Mapped[str | None] = mapped_column(String(48))
    confidence: Mapped[float | None]
    classified_by: Mapped[str | None] = mapped_column(String(40))  # model name, or "officer"
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    media_url: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(12), default="new")
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    accept_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    sla_state: Mapped[str] = mapped_column(String(10), default="on_time")
    accepted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopen_until: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)  # told to the citizen
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class CaseEvent(Base):
    """What happened to a case, append-only. `public` events are told to the citizen."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(_in("kind", EVENT_KINDS), name="kind"),
        Index("ix_case_events_case_id", "case_id", "at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime] = created_column()
    kind: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))  # citizen, officer, system, token
    actor_id: Mapped[uuid.UUID | None]
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(default=False)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CaseTask(Base):
    """A piece of a case another (or the same) department does, with its own due date."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        Index("ix_case_tasks_department_open", "department_id", "due_at",
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
        Index("ix_case_tasks_case_id", "case_id"),
    )  # fmt: skip

    id: Mapped[uuid.UUID] = id_column()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="open")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    done_at: Mapped[datetime | None]


class Open311Key(Base):
    """An Open311 client's API key (hashed), needed to POST requests; GETs are public."""

    __tablename__ = "open311_keys"

    id: Mapped[uuid.UUID] = id_column()
    client: Mapped[str] = mapped_column(String(80), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    revoked_at: Mapped[datetime | None]
