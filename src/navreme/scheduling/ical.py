"""iCalendar invites for appointments: RFC 5545 objects with RFC 5546 (iTIP) methods.

One appointment is one VEVENT whose UID is the appointment id. A reschedule sends the same UID
with a higher SEQUENCE (the caller increments it), a cancellation sends METHOD:CANCEL and
STATUS:CANCELLED, so every calendar client replaces or removes the one entry it already has.
Times are written in Europe/Skopje with a VTIMEZONE, so clients that know no zone database still
show the office's local time. Only what the invite needs goes in: no names, no national ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Component, Event, Timezone, vCalAddress

from navreme import clock

Method = Literal["REQUEST", "CANCEL"]
ZONE = "Europe/Skopje"
PRODID = "-//Navreme//Appointments//EN"
REMINDER_BEFORE = timedelta(days=1)
_STATUS: dict[str, str] = {"REQUEST": "CONFIRMED", "CANCEL": "CANCELLED"}


@dataclass(frozen=True)
class Invite:
    """What an invite says; `uid` is the appointment id, `sequence` grows with each change."""

    uid: str
    sequence: int
    start: datetime
    end: datetime
    summary: str
    location: str
    description: str
    organizer: str  # the office's e-mail address
    attendee: str | None = None  # the person's e-mail address, when the invite goes by e-mail
    language: str = "mk"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("invite times must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("an invite must end after it starts")
        if self.sequence < 0:
            raise ValueError("SEQUENCE starts at 0")


@lru_cache(maxsize=8)
def _vtimezone(year: int) -> Timezone:
    """Europe/Skopje's VTIMEZONE around `year` (slow to build, so cached; only ever serialised)."""
    return Timezone.from_tzid(ZONE, first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))


def _text(component: Component, name: str, value: str, language: str) -> None:
    component.add(name, value, parameters={"LANGUAGE": language})


def _address(email: str, **parameters: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params.update(parameters)
    return address


def _reminder(invite: Invite) -> Alarm:
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", -REMINDER_BEFORE)
    _text(alarm, "description", invite.summary, invite.language)
    return alarm


def _event(invite: Invite, method: Method) -> Event:
    zone = ZoneInfo(ZONE)
    event = Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", clock.now())
    event.add("dtstart", invite.start.astimezone(zone))
    event.add("dtend", invite.end.astimezone(zone))
    event.add("status", _STATUS[method])
    _text(event, "summary", invite.summary, invite.language)
    _text(event, "location", invite.location, invite.language)
    _text(event, "description", invite.description, invite.language)
    event.add("organizer", _address(invite.organizer))
    if invite.attendee:
        partstat = {"PARTSTAT": "NEEDS-ACTION", "ROLE": "REQ-PARTICIPANT", "RSVP": "FALSE"}
        event.add("attendee", _address(invite.attendee, **partstat))
    if method == "REQUEST":  # nobody needs a reminder of a cancelled appointment
        event.add_component(_reminder(invite))
    return event


def invite_ics(invite: Invite, method: Method = "REQUEST") -> bytes:
    """The invite as an iCalendar object: REQUEST books or reschedules, CANCEL cancels."""
    if method not in _STATUS:
        raise ValueError(f"unsupported iTIP method {method!r}")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(_vtimezone(invite.start.year))
    calendar.add_component(_event(invite, method))
    return bytes(calendar.to_ical())
