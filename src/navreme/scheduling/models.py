"""Offices, their counters and opening hours, and the appointments held or booked at them (M4).

Slots are not stored: they are derived from opening hours, the office's slot length, closures
and public holidays. Only what is taken is materialised, as one `slot_claims` row per counter and
slot start. Its primary key is what makes double booking impossible, whatever the application
does: two appointments can never claim the same counter at the same instant.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from navreme.db import Base, created_column, id_column

APPOINTMENT_STATUSES = ("held", "booked", "checked_in", "done", "no_show", "cancelled", "expired")
ITEM_ACTIONS = ("apply", "collect")
WAITLIST_STATUSES = ("waiting", "offered", "booked", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Office(Base):
    __tablename__ = "offices"
    __table_args__ = (CheckConstraint("slot_minutes BETWEEN 5 AND 120", name="slot_minutes"),)

    id: Mapped[uuid.UUID] = id_column()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    address: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    counters: Mapped[int] = mapped_column(default=1)
    slot_minutes: Mapped[int] = mapped_column(default=15)
    created_at: Mapped[datetime] = created_column()


class Counter(Base):
    """One desk at an office; it serves the services listed in `counter_services`."""

    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("office_id", "number"),)

    id: Mapped[uuid.UUID] = id_column()
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"))
    number: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)


class CounterService(Base):
    """A service a counter can do, and how many minutes one applicant takes there."""

    __tablename__ = "counter_services"
    __table_args__ = (CheckConstraint("minutes BETWEEN 1 AND 480", name="minutes"),)

    counter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True
    )
    service_code: Mapped[str] = mapped_column(String(48), primary_key=True)
    minutes: Mapped[int]


class OpeningHours(Base):
    """A period an office is open on a weekday (0 = Monday), in the country's local time."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
        UniqueConstraint("office_id", "weekday", "opens"),
    )

    id: Mapped[uuid.UUID] = id_column()
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    opens: Mapped[time]
    closes: Mapped[time]


class Closure(Base):
    """A day an office (or, without an office, every office) is closed besides public holidays."""

    __tablename__ = "closures"
    __table_args__ = (UniqueConstraint("office_id", "day"), Index("ix_closures_day", "day"))

    id: Mapped[uuid.UUID] = id_column()
    office_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE")
    )
    day: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200))


class Appointment(Base):
    """A visit: one counter, one stretch of consecutive slots, one or more people and services."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(_in("status", APPOINTMENT_STATUSES), name="status"),
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        CheckConstraint("(status = 'held') = (held_until IS NOT NULL)", name="held_until"),
        Index("ix_appointments_office_starts", "office_id", "starts_at"),
        Index("ix_appointments_held_until", "held_until"),
    )

    id: Mapped[uuid.UUID] = id_column()
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id"))
    counter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("counters.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))
    held_until: Mapped[datetime | None]
    # Who made it: the person themselves, a guardian, or an officer (for the audit trail).
    made_by_kind: Mapped[str] = mapped_column(String(12))
    made_by_id: Mapped[uuid.UUID | None]
    # RFC 5545 SEQUENCE of the invite: bumped on every reschedule and on cancellation.
    sequence: Mapped[int] = mapped_column(default=0)
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    # A campaign's held slot: the day the invitation goes out (the messaging hub sends it).
    invite_on: Mapped[date | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = created_column()


class AppointmentItem(Base):
    """One person and one service on a visit: apply for it, or collect what was produced."""

    __tablename__ = "appointment_items"
    __table_args__ = (
        UniqueConstraint("appointment_id", "person_id", "service_code", "action"),
        CheckConstraint(_in("action", ITEM_ACTIONS), name="action"),
        Index("ix_appointment_items_person_id", "person_id"),
        Index("ix_appointment_items_offer_id", "offer_id"),
    )

    id: Mapped[uuid.UUID] = id_column()
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE")
    )
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    service_code: Mapped[str] = mapped_column(String(48))
    action: Mapped[str] = mapped_column(String(8), default="apply")
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offers.id"))
    minutes: Mapped[int]


class SlotClaim(Base):
    """A counter taken at one slot start. The primary key forbids a second claim, always."""

    __tablename__ = "slot_claims"
    __table_args__ = (Index("ix_slot_claims_appointment_id", "appointment_id"),)

    counter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("counters.id"), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(primary_key=True)
    appointment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE")
    )
    # Copied from the appointment while it is only held, so a lapsed hold reads as free at once.
    held_until: Mapped[datetime | None]


class WaitlistEntry(Base):
    """Someone waiting for an earlier slot of a service, at an office or anywhere near them."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint(_in("status", WAITLIST_STATUSES), name="status"),
        Index("ix_waitlist_entries_service_status", "service_code", "status", "created_at"),
        Index("ix_waitlist_entries_person_id", "person_id"),
    )

    id: Mapped[uuid.UUID] = id_column()
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    service_code: Mapped[str] = mapped_column(String(48))
    office_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offices.id"))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))
    before: Mapped[datetime | None]  # only slots earlier than this are worth offering
    status: Mapped[str] = mapped_column(String(10), default="waiting")
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("appointments.id"))
    created_at: Mapped[datetime] = created_column()
