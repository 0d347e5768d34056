"""Service catalogue (M2): versioned service items, their steps, evidence and prerequisites.

Texts are `{"mk": …, "sq": …, "en": …}` objects so a service is complete in every language.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from navreme.db import Base, created_column, id_column

LIFECYCLE = ("draft", "review", "published", "retired")
STEP_KINDS = ("apply", "decide", "produce", "collect", "deliver", "pay", "inform")


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("status IN ('draft', 'review', 'published', 'retired')", name="status"),
    )

    id: Mapped[uuid.UUID] = id_column()
    code: Mapped[str] = mapped_column(String(48), index=True)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    name: Mapped[dict[str, Any]]
    description: Mapped[dict[str, Any]]
    category: Mapped[str] = mapped_column(String(48), index=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    fees: Mapped[list[Any]] = mapped_column(default=list)  # [{"amount", "currency", "label"}]
    channels: Mapped[list[str]] = mapped_column(default=list)
    audience: Mapped[list[str]] = mapped_column(default=list)
    delivery_allowed: Mapped[bool] = mapped_column(default=False)
    legal_basis: Mapped[str] = mapped_column(String(300), default="")
    lgsl_code: Mapped[int | None]  # UK Local Government Service List cross-reference
    created_at: Mapped[datetime] = created_column()
    published_at: Mapped[datetime | None]


class ServiceStep(Base):
    __tablename__ = "service_steps"
    __table_args__ = (
        UniqueConstraint("service_id", "position"),
        CheckConstraint("lead_time_days >= 0", name="lead_time"),
    )

    id: Mapped[uuid.UUID] = id_column()
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[dict[str, Any]]
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"))
    lead_time_days: Mapped[int] = mapped_column(default=0)
    needs_visit: Mapped[bool] = mapped_column(default=False)


class ServiceEvidence(Base):
    __tablename__ = "service_evidence"

    id: Mapped[uuid.UUID] = id_column()
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(48))
    name: Mapped[dict[str, Any]]
    supplied_by: Mapped[str | None] = mapped_column(String(48))  # registry that can supply it


class ServicePrerequisite(Base):
    __tablename__ = "service_prerequisites"
    __table_args__ = (UniqueConstraint("service_id", "requires_code"),)

    id: Mapped[uuid.UUID] = id_column()
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    requires_code: Mapped[str] = mapped_column(String(48))
    condition: Mapped[str] = mapped_column(String(16), default="valid")  # valid | completed
