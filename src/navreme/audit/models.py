"""The audit log: append-only, hash-chained. Each entry's hash covers the previous hash.

Appending and chaining are apart: `seq` is given by the database when the entry is written,
`position`, `prev_hash` and `hash` when the chainer links it (NULL until then). The chain runs
in `position` order, which is the order entries became visible to the chainer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from navreme.db import Base, created_column

_BIG = BigInteger().with_variant(Integer(), "sqlite")
_UNCHAINED = text("position IS NULL")


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_object", "object_kind", "object_id"),
        # the chainer's queue: entries not yet chained, oldest first (stays small)
        Index(
            "ix_audit_entries_unchained",
            "seq",
            postgresql_where=_UNCHAINED,
            sqlite_where=_UNCHAINED,
        ),  # fmt: skip
    )

    seq: Mapped[int] = mapped_column(_BIG, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = created_column()
    actor_kind: Mapped[str] = mapped_column(
        String(12)
    )  # officer | citizen | token | system | anonymous
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_kind: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(12), default="ok")  # ok | denied | failed
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    position: Mapped[int | None] = mapped_column(_BIG, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
