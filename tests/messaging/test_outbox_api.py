"""The messages API: preview with SMS segments, a person's messages, failures for officers."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.messaging import actions, dispatch
from tests import factories
from tests.messaging.helpers import citizen

NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def officer_headers(client: TestClient, session: Session) -> dict[str, str]:
    login = factories.officer(session, roles=("officer",))
    session.commit()
    return factories.officer_token(client, login)


def test_preview_renders_every_language_and_counts_sms_segments(
    client: TestClient, db_session: Session
) -> None:
    headers = officer_headers(client, db_session)
    context = {"service_name": "Лична карта", "office_name": "МВР Велес",
               "starts_at": "03.12.2026 09:30", "held_until": "26.11.2026 00:00",
               "reason": "вашата лична карта истекува"}  # fmt: skip
    previews = {}
    for language in ("mk", "sq", "en"):
        answer = client.post("/api/v1/messages/preview", headers=headers, json={
            "template": "appointment_invite", "channel": "sms", "language": language,
            "purpose": "proactive_offers", "context": context,
        })  # fmt: skip
        assert answer.status_code == 200, answer.text
        previews[language] = answer.json()
    assert previews["mk"]["sms"]["encoding"] == "ucs2"  # Cyrillic
    assert previews["mk"]["sms"]["segments"] >= 3
    assert "СТОП" in previews["mk"]["text"]
    assert "NDALO" in previews["sq"]["text"]
    assert "STOP" in previews["en"]["text"]
    email = client.post("/api/v1/messages/preview", headers=headers, json={
        "template": "appointment_invite", "channel": "email", "language": "en",
        "format": "large_print", "context": {**context, "office_name": "<b>MVR</b>"},
    }).json()  # fmt: skip
    assert "&lt;b&gt;MVR&lt;/b&gt;" in email["html"]  # autoescaped
    assert "font-size:150%" in email["html"]
    assert email["subject"].startswith("We are holding")


@pytest.mark.parametrize(
    ("change", "field"),
    [({"template": "no-such"}, "template"), ({"context": {}}, "template"),
     ({"channel": "pigeon"}, "channel"), ({"language": "de"}, "language")],
)  # fmt: skip
def test_preview_refuses_what_it_cannot_render(
    client: TestClient, db_session: Session, change: dict[str, object], field: str
) -> None:
    headers = officer_headers(client, db_session)
    body = {"template": "login_code", "channel": "sms", "language": "mk",
            "context": {"code": "1", "minutes": 5}, **change}  # fmt: skip
    answer = client.post("/api/v1/messages/preview", headers=headers, json=body)
    assert answer.status_code == 422
    fields = [d["field"].split(".")[-1] for d in answer.json()["error"]["details"]]
    assert field in fields


def test_a_person_sees_their_messages_and_officers_see_failures(
    client: TestClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "NAVREME_CHANNELS", json.dumps({"sms": {"adapter": "fake", "permanent": True}})
    )
    config.get_settings.cache_clear()
    actions.reset_channels()
    with clock.frozen(NOON):
        person = citizen(db_session, channels=("sms", "email"))
        actions.send(db_session, person_id=person.id, purpose="proactive_offers",
                     template="offer_inform",
                     context={"service_name": "Пасош", "reason_text": "Пасошот истекува.",
                              "reason": "пасошот истекува"})  # fmt: skip
        db_session.commit()
        from sqlalchemy import select

        from navreme.messaging.models import Delivery

        dispatch.deliver(list(db_session.scalars(select(Delivery.id))))
        mine = factories.session_token(db_session, person)
        db_session.commit()
        # read at the frozen noon too: the session was opened then, and would have lapsed
        messages = client.get(f"/api/v1/persons/{person.id}/messages", headers=mine)
    assert messages.status_code == 200, messages.text
    [message] = messages.json()
    assert [(d["channel"], d["status"]) for d in message["deliveries"]] == [
        ("sms", "permanent-failure"), ("email", "created")]  # fmt: skip
    assert "+38970123456" not in messages.text  # masked
    headers = officer_headers(client, db_session)
    failed = client.get("/api/v1/deliveries/failed?status=permanent-failure", headers=headers)
    assert failed.status_code == 200
    assert [d["channel"] for d in failed.json()] == ["sms"]


def test_a_person_chooses_quiet_hours_and_bad_ones_are_refused(
    client: TestClient, db_session: Session
) -> None:
    person = citizen(db_session)
    mine = factories.session_token(db_session, person)
    db_session.commit()
    url = f"/api/v1/persons/{person.id}/contact-settings"
    assert client.get(url, headers=mine).json()["default"] is True
    chosen = client.put(url, headers=mine, json={"timezone": "Europe/Zurich",
                                                 "quiet_from": "22:30", "quiet_until": "06:45"})  # fmt: skip
    assert chosen.status_code == 200, chosen.text
    again = client.get(url, headers=mine).json()
    assert (again["timezone"], again["quiet_from"], again["default"]) == (
        "Europe/Zurich",
        "22:30:00",
        False,
    )
    for bad in ({"timezone": "Mars/Olympus"}, {"quiet_from": "22:00", "quiet_until": None},
                {"quiet_from": "25:00"}):  # fmt: skip
        assert client.put(url, headers=mine, json=bad).status_code == 422
    late = datetime(2026, 11, 23, 21, 45, tzinfo=UTC)  # 22:45 in Zurich: quiet there
    with clock.frozen(late):
        message = actions.send(db_session, person_id=person.id, purpose="proactive_offers",
                               template="offer_inform", context={"service_name": "Пасош",
                               "reason_text": "Време е.", "reason": "тест"})  # fmt: skip
        db_session.flush()
        from sqlalchemy import select

        from navreme.messaging.models import Delivery

        first = db_session.scalars(select(Delivery).where(Delivery.message_id == message.id)).one()
    assert first.not_before == datetime(2026, 11, 24, 5, 45, tzinfo=UTC)  # 06:45 Zurich


def test_quiet_hours__a_time_with_an_offset__is_refused_and_the_spec_says_wall_clock(
    client: TestClient, db_session: Session
) -> None:
    """T14 found the spec's `format: time` (RFC 3339, offset required) contradicting the
    offset-less times sent back; an offset means nothing here, the zone is `timezone`."""
    person = citizen(db_session)
    mine = factories.session_token(db_session, person)
    db_session.commit()
    url = f"/api/v1/persons/{person.id}/contact-settings"
    offset = {"quiet_from": "22:00+02:00", "quiet_until": "06:00+02:00"}
    assert client.put(url, headers=mine, json=offset).status_code == 422
    spec = client.get("/openapi.json").json()["components"]["schemas"]["ContactSettingsOut"]
    quiet_from = spec["properties"]["quiet_from"]["anyOf"][0]
    assert "format" not in quiet_from
    sent_back = client.get(url, headers=mine).json()["quiet_from"]
    assert re.search(quiet_from["pattern"], sent_back), sent_back
