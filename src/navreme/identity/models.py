"""Departments, officers, citizens' one-time codes, sessions and machine tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from navreme.db import Base, created_column, id_column

ROLES = ("officer", "supervisor", "catalogue_editor", "data_manager", "admin")


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[uuid.UUID] = id_column()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_mk: Mapped[str] = mapped_column(String(200))
    name_sq: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()


class Officer(Base):
    __tablename__ = "officers"

    id: Mapped[uuid.UUID] = id_column()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(default=list)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class ApiToken(Base):
    """A machine client's token: `nvr_<prefix>_<secret>`; only a SHA-256 of it is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = id_column()
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    officer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("officers.id"), index=True)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A login session (cookie for pages, bearer `nvs_…` for API clients)."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_subject", "subject_kind", "subject_id"),)

    id: Mapped[uuid.UUID] = id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject_kind: Mapped[str] = mapped_column(String(8))  # officer | citizen | anonymous
    subject_id: Mapped[uuid.UUID | None]
    csrf_token: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class OneTimeCode(Base):
    """A citizen login challenge sent to a verified endpoint; single use, short-lived."""

    __tablename__ = "one_time_codes"

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contact_endpoints.id", ondelete="CASCADE")
    )
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
