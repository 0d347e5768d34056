"""People's choices: which channels, in which order, with whose consent, and when.

The fallback ladder is the person's contact endpoints in their order of preference, keeping
only channels with an adapter and, for every purpose that needs it, the person's consent in
force (the append-only ledger of registry.ConsentEvent: T20). Consent is checked twice: when
a step of the ladder is written, and again by the worker just before the provider is called,
so a withdrawal between the two still stops the message (0 sends after withdrawal).

Quiet hours are the person's (their time zone; 21:00–08:00 by default); urgent messages and
login codes ignore them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.config import get_settings
from navreme.identity.principal import Principal
from navreme.messaging.channels.registry import Channels
from navreme.messaging.models import ContactSettings
from navreme.registry.models import CONSENT_PURPOSES, ConsentEvent, ContactEndpoint
from navreme.registry.queries import ANY_CHANNEL, deciding_event

DEFAULT_QUIET = (time(21, 0), time(8, 0))
# Messages the person asked for (a login code, the answer to their own request) need no
# consent to contact; every other purpose is one of the registry's consent purposes.
NEEDS_CONSENT = frozenset(CONSENT_PURPOSES)


def needs_consent(purpose: str) -> bool:
    return purpose in NEEDS_CONSENT


def consented_channels(
    session: Session, person_id: uuid.UUID, purpose: str, at: datetime
) -> dict[str, bool]:
    """Channel -> consent in force at `at` for `purpose` (channels never answered are absent)."""
    events = session.scalars(
        select(ConsentEvent)
        .where(
            ConsentEvent.person_id == person_id,
            ConsentEvent.purpose == purpose,
            ConsentEvent.recorded_at <= at,
        )
        .order_by(ConsentEvent.recorded_at)
    )
    latest: dict[str, ConsentEvent] = {}
    for event in events:
        latest[event.channel] = event
    general = latest.pop(ANY_CHANNEL, None)
    answers = {}
    for channel, own in latest.items():
        decided = deciding_event(own, general)
        if decided is not None:
            answers[channel] = decided.granted
    answers[ANY_CHANNEL] = bool(general and general.granted)
    return answers


def allowed(answers: dict[str, bool], channel: str) -> bool:
    """True only for an explicit grant, on the channel itself or for any channel."""
    return answers.get(channel, answers.get(ANY_CHANNEL, False))


def ladder_for(
    session: Session,
    channels: Channels,
    person_id: uuid.UUID,
    purpose: str,
    at: datetime,
    *,
    only: Iterable[str] | None = None,
) -> list[list[str]]:
    """[[channel, address], …] in the person's order, verified endpoints only, one per channel."""
    endpoints = session.scalars(
        select(ContactEndpoint)
        .where(ContactEndpoint.person_id == person_id, ContactEndpoint.verified_at.is_not(None))
        .order_by(ContactEndpoint.preference, ContactEndpoint.created_at)
    )
    answers = consented_channels(session, person_id, purpose, at) if needs_consent(purpose) else {}
    wanted = set(only) if only is not None else None
    ladder: list[list[str]] = []
    seen: set[str] = set()
    for endpoint in endpoints:
        channel = endpoint.channel
        if channel in seen or (wanted is not None and channel not in wanted):
            continue
        if needs_consent(purpose) and not allowed(answers, channel):
            continue
        if not channels.available(channel):
            continue
        seen.add(channel)
        ladder.append([channel, endpoint.address])
    return ladder


def may_send(
    session: Session, person_id: uuid.UUID | None, purpose: str, channel: str, at: datetime
) -> bool:
    """The worker's last check before the provider call."""
    if person_id is None or not needs_consent(purpose):
        return True
    return allowed(consented_channels(session, person_id, purpose, at), channel)


def quiet_hours(
    session: Session, person_id: uuid.UUID | None
) -> tuple[ZoneInfo, time, time] | None:
    row = session.get(ContactSettings, person_id) if person_id else None
    if row is None:
        return ZoneInfo(get_settings().timezone), *DEFAULT_QUIET
    if row.quiet_from is None or row.quiet_until is None:
        return None
    return ZoneInfo(row.timezone), row.quiet_from, row.quiet_until


def not_before(
    session: Session, person_id: uuid.UUID | None, at: datetime, *, urgent: bool
) -> datetime:
    """`at`, or the end of the person's quiet hours when `at` falls inside them."""
    if urgent or person_id is None:
        return at
    quiet = quiet_hours(session, person_id)
    return at if quiet is None else end_of_quiet(at, *quiet)


def end_of_quiet(at: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """The first instant at or after `at` outside [start, end) local time (may span midnight)."""
    local = at.astimezone(zone)
    clock_time = local.time()
    spans_midnight = start > end
    inside = (
        (clock_time >= start or clock_time < end) if spans_midnight else start <= clock_time < end
    )
    if not inside:
        return at
    day = local.date()
    if spans_midnight and clock_time >= start:
        day += timedelta(days=1)
    # Wall-clock end of quiet hours, resolved in the zone (a DST change is handled by zoneinfo).
    return datetime.combine(day, end, tzinfo=zone).astimezone(at.tzinfo)


def set_quiet_hours(
    session: Session, *, person_id: uuid.UUID, timezone: str, quiet_from: time | None,
    quiet_until: time | None, actor: Principal,
) -> ContactSettings:  # fmt: skip
    """Store a person's quiet hours (none: any hour), audited; the API and the page both call it."""
    row = session.get(ContactSettings, person_id) or ContactSettings(person_id=person_id)
    row.timezone, row.quiet_from, row.quiet_until = timezone, quiet_from, quiet_until
    row.updated_at = clock.now()
    session.add(row)
    record(session, action="contact_settings.change", actor_kind=actor.audit_kind,
           actor_id=actor.id, object_kind="person", object_id=person_id,
           details={"quiet": quiet_from is not None})  # fmt: skip
    return row
