"""Appointment invites: RFC 5545 objects that parse back, and that a real CalDAV server stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import caldav
import pytest
from icalendar import Calendar, Component

from navreme import clock
from navreme.scheduling.ical import Invite, invite_ics

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # 09:30 in Skopje (CET)


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


def invite(**changes: object) -> Invite:
    values: dict[str, object] = {
        "uid": str(uuid.UUID(int=42)),
        "sequence": 0,
        "start": START,
        "end": START + timedelta(minutes=30),
        "summary": "Лична карта: поднесување барање",
        "location": "МВР, Центар, Скопје",
        "description": "Понесете ја старата лична карта.",
        "organizer": "termini@example.org",
        "attendee": "citizen@example.org",
        "language": "mk",
    }
    return Invite(**{**values, **changes})  # type: ignore[arg-type]


def parsed(ics: bytes) -> tuple[Calendar, Component]:
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_request__parses_back_with_method_uid_sequence_and_status() -> None:
    calendar, event = parsed(invite_ics(invite(sequence=3)))
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert event["UID"] == str(uuid.UUID(int=42))
    assert event["SEQUENCE"] == 3
    assert event["STATUS"] == "CONFIRMED"
    assert event.decoded("DTSTAMP") == NOW


def test_request__times_in_skopje_with_a_vtimezone() -> None:
    ics = invite_ics(invite())
    calendar, event = parsed(ics)
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/Skopje"
    assert b"DTSTART;TZID=Europe/Skopje:20260302T093000" in ics
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == START + timedelta(minutes=30)


def test_request__summer_time_is_cest() -> None:
    summer = datetime(2026, 7, 15, 6, 0, tzinfo=UTC)
    ics = invite_ics(invite(start=summer, end=summer + timedelta(minutes=20)))
    assert b"DTSTART;TZID=Europe/Skopje:20260715T080000" in ics


def test_request__reminder_the_day_before() -> None:
    _, event = parsed(invite_ics(invite()))
    (alarm,) = event.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm.decoded("TRIGGER") == -timedelta(days=1)


def test_request__texts_carry_their_language_and_addresses_are_mailto() -> None:
    _, event = parsed(invite_ics(invite(language="sq", summary="Letërnjoftim")))
    assert str(event["SUMMARY"]) == "Letërnjoftim"
    assert event["SUMMARY"].params["LANGUAGE"] == "sq"
    assert event["ORGANIZER"] == "mailto:termini@example.org"
    assert event["ATTENDEE"] == "mailto:citizen@example.org"
    assert event["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION"


def test_request__without_attendee__no_attendee_and_no_personal_data() -> None:
    ics = invite_ics(invite(attendee=None))
    _, event = parsed(ics)
    assert "ATTENDEE" not in event
    assert b"CN=" not in ics  # no names anywhere


def test_cancel__method_cancel_status_cancelled_and_no_reminder() -> None:
    calendar, event = parsed(invite_ics(invite(sequence=2), method="CANCEL"))
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["SEQUENCE"] == 2
    assert event.walk("VALARM") == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": datetime(2026, 3, 2, 9, 30)}, "timezone-aware"),
        ({"end": START}, "end after it starts"),
        ({"sequence": -1}, "SEQUENCE"),
    ],
)
def test_invite__refuses_what_no_calendar_could_show(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        invite(**changes)


def test_invite_ics__unknown_method_refused() -> None:
    with pytest.raises(ValueError, match="PUBLISH"):
        invite_ics(invite(), method="PUBLISH")  # type: ignore[arg-type]


# --- a real CalDAV server ------------------------------------------------------------------------


def put(client: caldav.DAVClient, calendar: caldav.Calendar, ics: bytes) -> int:
    """PUT the bytes as they are (the client's save helpers would bump SEQUENCE themselves)."""
    _, event = parsed(ics)
    url = str(calendar.url.join(f"{event['UID']}.ics"))
    response = client.put(url, ics.decode(), {"Content-Type": "text/calendar; charset=utf-8"})
    return int(response.status)


def stored(calendar: caldav.Calendar, uid: str) -> Component:
    _, event = parsed(calendar.event_by_uid(uid).data.encode())
    return event


@pytest.mark.integration
def test_radicale__stores_the_invite_then_the_reschedule_then_the_cancellation(
    radicale_url: str,
) -> None:
    client = caldav.DAVClient(url=radicale_url, username="office", password="unused")
    calendar = client.principal().make_calendar(name="Appointments", cal_id="appointments")
    booked = invite()
    assert put(client, calendar, invite_ics(booked)) == 201
    first = stored(calendar, booked.uid)
    assert (first["SEQUENCE"], first.decoded("DTSTART")) == (0, START)

    later = START + timedelta(days=1, hours=2)
    moved = invite(sequence=1, start=later, end=later + timedelta(minutes=30))
    assert put(client, calendar, invite_ics(moved)) in (200, 204)
    second = stored(calendar, booked.uid)
    assert (second["SEQUENCE"], second.decoded("DTSTART")) == (1, later)
    assert len(calendar.events()) == 1  # replaced, not added

    cancelled = invite(sequence=2, start=later, end=later + timedelta(minutes=30))
    assert put(client, calendar, invite_ics(cancelled, method="CANCEL")) in (200, 204)
    third = stored(calendar, booked.uid)
    assert (third["SEQUENCE"], third["STATUS"]) == (2, "CANCELLED")
