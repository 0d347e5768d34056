"""Registry tables (M1): persons, guardianship, endpoints, consents, documents, life events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from navreme.db import Base, created_column, id_column

LANGUAGES = ("mk", "sq", "en")
SEXES = ("F", "M")
ACCESSIBILITY_NEEDS = ("large_print", "easy_read", "screen_reader", "audio", "sign_language")
CHANNELS = (
    "email", "sms", "matrix", "telegram", "whatsapp", "viber", "messenger", "xmpp", "push", "letter",
)  # fmt: skip
CONSENT_PURPOSES = ("proactive_offers", "reminders", "case_updates", "surveys")
DOCUMENT_KINDS = ("id_card", "passport", "driving_licence")
DOCUMENT_STATUSES = ("valid", "expired", "revoked", "lost", "replaced")
LIFE_EVENT_KINDS = ("birth", "turned_18", "move", "death")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Municipality(Base):
    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)  # ISO 3166-2, e.g. MK-101
    name: Mapped[str] = mapped_column(String(80))
    name_mk: Mapped[str] = mapped_column(String(80))
    region: Mapped[str] = mapped_column(String(40))
    in_city_of_skopje: Mapped[bool]
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    population: Mapped[int | None]


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (
        CheckConstraint(_in("sex", SEXES), name="sex"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        CheckConstraint(
            "(municipality_code IS NULL) <> (abroad_country IS NULL)", name="residence_one_of"
        ),
        Index("ix_persons_birth_date", "birth_date"),
        Index("ix_persons_municipality_code", "municipality_code"),
        Index("ix_persons_household_id", "household_id"),
    )

    id: Mapped[uuid.UUID] = id_column()
    national_id: Mapped[str] = mapped_column(String(13), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date]
    sex: Mapped[str] = mapped_column(String(1))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))
    abroad_country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(2), default="mk")
    accessibility: Mapped[list[str]] = mapped_column(default=list)
    household_id: Mapped[uuid.UUID | None]
    death_date: Mapped[date | None]
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()

    documents: Mapped[list[Document]] = relationship(back_populates="person", lazy="raise")


class GuardianLink(Base):
    __tablename__ = "guardian_links"
    __table_args__ = (
        UniqueConstraint("guardian_id", "ward_id"),
        CheckConstraint("guardian_id <> ward_id", name="not_self"),
        CheckConstraint(_in("kind", ("parent", "legal_guardian")), name="kind"),
        Index("ix_guardian_links_ward_id", "ward_id"),
    )

    id: Mapped[uuid.UUID] = id_column()
    guardian_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    ward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="parent")
    created_at: Mapped[datetime] = created_column()


class ContactEndpoint(Base):
    __tablename__ = "contact_endpoints"
    __table_args__ = (
        UniqueConstraint("person_id", "channel", "address"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        Index("ix_contact_endpoints_channel_address", "channel", "address"),
    )

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    # An e-mail fits in 320; a web push subscription (endpoint URL and keys, as JSON) does not.
    address: Mapped[str] = mapped_column(String(1000))
    preference: Mapped[int] = mapped_column(default=100)  # lower is preferred
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_column()


class ConsentEvent(Base):
    """Append-only: the consent in force at any time is the latest event at or before it."""

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint(_in("purpose", CONSENT_PURPOSES), name="purpose"),
        CheckConstraint(_in("channel", (*CHANNELS, "any")), name="channel"),
        Index("ix_consent_events_person_purpose", "person_id", "purpose", "channel", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(40))  # web, api, officer, import, seed, …
    actor: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = created_column()


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("kind", "number"),
        CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),
        CheckConstraint(_in("status", DOCUMENT_STATUSES), name="status"),
        CheckConstraint("expires_on > issued_on", name="expiry_after_issue"),
        Index("ix_documents_kind_expires_on", "kind", "expires_on"),
        Index("ix_documents_person_kind_expires_on", "person_id", "kind", "expires_on"),
    )

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(20))
    issued_on: Mapped[date]
    expires_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(12), default="valid")
    created_at: Mapped[datetime] = created_column()

    person: Mapped[Person] = relationship(back_populates="documents", lazy="raise")


class LifeEvent(Base):
    __tablename__ = "life_events"
    __table_args__ = (
        CheckConstraint(_in("kind", LIFE_EVENT_KINDS), name="kind"),
        Index("ix_life_events_kind_occurred_on", "kind", "occurred_on"),
        Index("ix_life_events_person_id", "person_id"),
    )

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    occurred_on: Mapped[date]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recorded_at: Mapped[datetime] = created_column()
