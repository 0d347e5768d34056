"""Consent: an append-only ledger; what is in force now or at any past instant comes from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from navreme import clock
from navreme.identity.principal import Principal
from navreme.registry import actions, queries
from navreme.registry.models import ConsentEvent, Person
from navreme.registry.schemas import ConsentChange
from tests import factories
from tests.registry.helpers import audit, citizen, count

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def _change(session: Session, person: Person, *, at: datetime, channel: str, granted: bool) -> None:
    change = ConsentChange(purpose="reminders", channel=channel, granted=granted)
    with clock.frozen(at):
        actions.change_consent(
            session, person=person, change=change, actor=Principal(kind="citizen", id=person.id)
        )
    session.commit()


def test_consents__give_any_then_withdraw_sms__sms_off_every_other_channel_on(
    client: TestClient, db_session: Session
) -> None:
    me, headers = citizen(client, db_session, phone="+38970000001")
    url = f"/api/v1/persons/{me.id}/consents"
    for channel, granted in (("any", True), ("sms", False)):
        body = {"purpose": "reminders", "channel": channel, "granted": granted}
        assert client.post(url, json=body, headers=headers).status_code == 201
    state = client.get(url, headers=headers).json()
    current = {
        (c["purpose"], c["channel"]): (c["granted"], c["decided_by"]) for c in state["current"]
    }
    assert current[("reminders", "sms")] == (False, "channel")
    assert current[("reminders", "email")] == (True, "any")
    assert ("surveys", "email") not in current
    assert state["history"] is None
    ledger = client.get(url, params={"history": "true"}, headers=headers).json()["history"]
    assert [(e["channel"], e["granted"], e["source"]) for e in ledger] == [
        ("any", True, "api"), ("sms", False, "api"),
    ]  # fmt: skip
    changes = audit(db_session, "consent.change")
    assert [e.details["granted"] for e in changes] == [True, False]


@pytest.mark.parametrize(
    "body",
    [
        {"purpose": "marketing", "channel": "any", "granted": True},
        {"purpose": "reminders", "channel": "fax", "granted": True},
        {"purpose": "reminders", "channel": "any", "granted": "maybe"},
        {"purpose": "reminders", "channel": "any"},
    ],
)
def test_consents__unknown_purpose_channel_or_answer__422_and_nothing_written(
    client: TestClient, db_session: Session, body: dict[str, object]
) -> None:
    me, headers = citizen(client, db_session, phone="+38970000001")
    response = client.post(f"/api/v1/persons/{me.id}/consents", json=body, headers=headers)
    assert response.status_code == 422
    assert count(db_session, ConsentEvent) == 0


@pytest.mark.parametrize(
    "statement", ["UPDATE consent_events SET granted = NOT granted", "DELETE FROM consent_events"]
)
def test_consent_ledger__update_or_delete__refused_by_the_database(
    db_session: Session, statement: str
) -> None:
    person = factories.person(db_session)
    db_session.commit()
    _change(db_session, person, at=T0, channel="any", granted=True)
    with pytest.raises(DBAPIError, match="append-only"):
        db_session.execute(text(statement))
    db_session.rollback()
    assert count(db_session, ConsentEvent) == 1


def test_consent_at__reconstructs_each_past_instant(db_session: Session) -> None:
    person = factories.person(db_session)
    db_session.commit()
    minute = timedelta(minutes=1)
    _change(db_session, person, at=T0, channel="any", granted=True)
    _change(db_session, person, at=T0 + 2 * minute, channel="sms", granted=False)
    _change(db_session, person, at=T0 + 4 * minute, channel="any", granted=False)

    def at(instant: datetime, channel: str) -> bool | None:
        return queries.consent_at(
            db_session, person.id, purpose="reminders", channel=channel, at=instant
        )

    assert at(T0 - minute, "sms") is None
    assert (at(T0, "sms"), at(T0, "email")) == (True, True)
    assert (at(T0 + 3 * minute, "sms"), at(T0 + 3 * minute, "email")) == (False, True)
    assert (at(T0 + 5 * minute, "sms"), at(T0 + 5 * minute, "email")) == (False, False)
    assert at(T0 + 5 * minute, "any") is False
    assert (
        queries.consent_at(
            db_session, person.id, purpose="surveys", channel="sms", at=T0 + 5 * minute
        )
        is None
    )


def test_consent_at__channel_answer_overrides_a_later_general_one(db_session: Session) -> None:
    person = factories.person(db_session)
    db_session.commit()
    _change(db_session, person, at=T0, channel="sms", granted=False)
    _change(db_session, person, at=T0 + timedelta(hours=1), channel="any", granted=True)
    later = T0 + timedelta(hours=2)
    assert (
        queries.consent_at(db_session, person.id, purpose="reminders", channel="sms", at=later)
        is False
    )
    assert (
        queries.consent_at(db_session, person.id, purpose="reminders", channel="email", at=later)
        is True
    )


def test_consent__two_changes_in_the_same_instant__the_second_is_in_force(
    db_session: Session,
) -> None:
    person = factories.person(db_session)
    db_session.commit()
    _change(db_session, person, at=T0, channel="email", granted=True)
    _change(db_session, person, at=T0, channel="email", granted=False)
    ledger = queries.consent_ledger(db_session, person.id)
    assert [event.granted for event in ledger] == [True, False]
    assert [c.granted for c in queries.consents_in_force(ledger)] == [False]
    assert (
        queries.consent_at(
            db_session,
            person.id,
            purpose="reminders",
            channel="email",
            at=T0 + timedelta(seconds=1),
        )
        is False
    )


def test_consent_at__later_general_withdrawal_ends_a_channel_grant(db_session: Session) -> None:
    person = factories.person(db_session)
    db_session.commit()
    _change(db_session, person, at=T0, channel="sms", granted=True)
    _change(db_session, person, at=T0 + timedelta(hours=1), channel="any", granted=False)
    for hours, expected in ((0, True), (1, False), (5, False)):
        at = T0 + timedelta(hours=hours, minutes=1)
        got = queries.consent_at(db_session, person.id, purpose="reminders", channel="sms", at=at)
        assert got is expected
    _change(db_session, person, at=T0 + timedelta(hours=6), channel="sms", granted=True)
    at = T0 + timedelta(hours=7)
    assert queries.consent_at(db_session, person.id, purpose="reminders", channel="sms", at=at)
