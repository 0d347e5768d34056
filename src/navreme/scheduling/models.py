"""Offices where services are delivered (counters and capacity come with appointments)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from navreme.db import Base, created_column, id_column


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[uuid.UUID] = id_column()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    address: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    counters: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = created_column()
