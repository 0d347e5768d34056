"""The supervisors' dashboard: today's capacity use per office, no-shows, messages by channel
and status, offers by status. Every figure is one grouped SQL aggregate (nothing loops over
persons, appointments or messages in Python), so the page stays fast on a national database.

Offices and offers are the supervisor's department's (every department for administrators);
messages belong to no department, so the message figures are the whole country's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.catalogue.models import Service
from navreme.config import get_settings
from navreme.identity.principal import Principal
from navreme.messaging.models import Delivery
from navreme.rules.models import OFFER_STATUSES, Offer
from navreme.scheduling.calendar import office_calendars
from navreme.scheduling.models import Appointment, Counter, Office, SlotClaim
from navreme.web import charts, i18n, labels
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.officer_common import (
    OVERSEERS,
    may,
    offices_for,
    refuse,
    signed_in_officer,
    to_login,
)
from navreme.web.pages import language_of, render

router = APIRouter(include_in_schema=False)
ONLY_OVERSEERS = N_("Only supervisors and administrators may open this page.")


@dataclass
class OfficeFigures:
    office: Office
    capacity: int  # counter slots open today
    taken: int  # slots booked or held (holds still running)
    no_shows_today: int
    no_shows_week: int

    @property
    def percent(self) -> int:
        return round(100 * self.taken / self.capacity) if self.capacity else 0


@dataclass
class MessageCount:
    channel: str
    status: str
    today: int
    week: int


@dataclass
class Window:
    """Today and the last seven days (today included), as UTC instants of local midnights."""

    day: date
    today_from: datetime
    week_from: datetime
    until: datetime
    monday_from: datetime

    @classmethod
    def of(cls, day: date, zone: str) -> Window:
        midnight = lambda d: clock.local_midnight(d, zone)  # noqa: E731
        return cls(day, midnight(day), midnight(day - timedelta(days=6)),
                   midnight(day + timedelta(days=1)),
                   midnight(day - timedelta(days=day.weekday())))  # fmt: skip


def _grouped(session: Session, query: Any) -> dict[Any, Any]:
    return {row[0]: row[1:] for row in session.execute(query)}


def _slots_per_counter(
    session: Session, offices: Sequence[Office], day: date
) -> dict[uuid.UUID, int]:
    settings = get_settings()
    calendars = office_calendars(session, offices, start=day, end=day, zone=settings.timezone,
                                 country=settings.country)  # fmt: skip
    return {
        office_id: sum(len(list(period.slot_starts())) for period in calendar.periods(day))
        for office_id, calendar in calendars.items()
    }


def office_figures(
    session: Session, offices: Sequence[Office], window: Window
) -> list[OfficeFigures]:
    """Capacity, slots taken and no-shows per office: three grouped queries for all offices."""
    ids = [o.id for o in offices]
    if not ids:
        return []
    counters = _grouped(session, select(Counter.office_id, func.count())
                        .where(Counter.office_id.in_(ids), Counter.active)
                        .group_by(Counter.office_id))  # fmt: skip
    taken = _grouped(session, select(Counter.office_id, func.count())
                     .select_from(SlotClaim).join(Counter, Counter.id == SlotClaim.counter_id)
                     .where(Counter.office_id.in_(ids), SlotClaim.starts_at >= window.today_from,
                            SlotClaim.starts_at < window.until,
                            or_(SlotClaim.held_until.is_(None), SlotClaim.held_until > clock.now()))
                     .group_by(Counter.office_id))  # fmt: skip
    missed = _grouped(session, select(
        Appointment.office_id,
        func.sum(case((Appointment.starts_at >= window.today_from, 1), else_=0)), func.count(),
    ).where(Appointment.office_id.in_(ids), Appointment.status == "no_show",
            Appointment.starts_at >= window.monday_from, Appointment.starts_at < window.until)
     .group_by(Appointment.office_id))  # fmt: skip
    slots = _slots_per_counter(session, offices, window.day)
    return [
        OfficeFigures(
            office=o,
            capacity=slots.get(o.id, 0) * counters.get(o.id, (0,))[0],
            taken=taken.get(o.id, (0,))[0],
            no_shows_today=int(missed.get(o.id, (0, 0))[0] or 0),
            no_shows_week=int(missed.get(o.id, (0, 0))[1] or 0),
        )  # fmt: skip
        for o in offices
    ]


def message_counts(session: Session, window: Window) -> list[MessageCount]:
    """Deliveries written today and in the last seven days, by channel and status."""
    query = (
        select(Delivery.channel, Delivery.status,
               func.sum(case((Delivery.created_at >= window.today_from, 1), else_=0)), func.count())
        .where(Delivery.created_at >= window.week_from, Delivery.created_at < window.until)
        .group_by(Delivery.channel, Delivery.status)
        .order_by(Delivery.channel, Delivery.status)
    )  # fmt: skip
    return [MessageCount(c, s, int(t or 0), int(w)) for c, s, t, w in session.execute(query)]


def offer_counts(session: Session, principal: Principal) -> dict[str, int]:
    """Offers by status: the department's services (every service for administrators)."""
    query = select(Offer.status, func.count()).group_by(Offer.status)
    if not principal.is_admin:
        own = select(Service.code).where(Service.department_id == principal.department_id)
        query = query.where(Offer.service_code.in_(own))
    found = {status: count for status, count in session.execute(query)}
    return {status: int(found.get(status, 0)) for status in OFFER_STATUSES}


def _charts(
    _: Callable[..., str], offices: list[OfficeFigures], messages: list[MessageCount],
    offers: dict[str, int],
) -> dict[str, str | None]:  # fmt: skip
    label = lambda kind, code: _(labels.label(kind, code))  # noqa: E731
    names = [f.office.name for f in offices]
    channels = sorted({m.channel for m in messages})
    statuses = sorted({m.status for m in messages})
    week = {(m.channel, m.status): m.week for m in messages}
    return {
        "capacity": charts.bars(names, [
            (_("Booked or held"), [f.taken for f in offices]),
            (_("Free"), [max(f.capacity - f.taken, 0) for f in offices]),
        ], title=_("Slots today"), value_label=_("Slots"), stacked=True) if offices else None,
        "no_shows": charts.bars(names, [
            (_("Today"), [f.no_shows_today for f in offices]),
            (_("This week"), [f.no_shows_week for f in offices]),
        ], title=_("No-shows"), value_label=_("Visits")) if offices else None,
        "messages": charts.bars([label("channel", c) for c in channels], [
            (label("delivery_status", s), [week.get((c, s), 0) for c in channels]) for s in statuses
        ], title=_("Messages in the last 7 days"), value_label=_("Messages"),
           stacked=True) if messages else None,
        "offers": charts.bars([label("offer_status_staff", s) for s in offers],
                              [(_("Offers"), list(offers.values()))],
                              title=_("Offers by status"), value_label=_("Offers")),
    }  # fmt: skip


@router.get("/officer/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: DB) -> Response:
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    if not may(principal, OVERSEERS):
        return refuse(request, session, principal, action="access.dashboard",
                      message=ONLY_OVERSEERS)  # fmt: skip
    window = Window.of(clock.today(get_settings().timezone), get_settings().timezone)
    offices = office_figures(session, offices_for(session, principal), window)
    messages = message_counts(session, window)
    offers = offer_counts(session, principal)
    _ = i18n.translator(language_of(request, principal))
    return render(
        request, "officer/dashboard.html", principal, window=window, offices=offices,
        messages=messages, offers=offers, charts=_charts(_, offices, messages, offers),
        totals=_totals(offices, messages),
    )  # fmt: skip


def _totals(offices: Iterable[OfficeFigures], messages: Iterable[MessageCount]) -> dict[str, int]:
    offices, messages = list(offices), list(messages)
    return {
        "capacity": sum(f.capacity for f in offices), "taken": sum(f.taken for f in offices),
        "no_shows_today": sum(f.no_shows_today for f in offices),
        "no_shows_week": sum(f.no_shows_week for f in offices),
        "messages_today": sum(m.today for m in messages),
        "messages_week": sum(m.week for m in messages),
    }  # fmt: skip
