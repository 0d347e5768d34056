"""Inbound answers through the webhook: recorded once (T10), acted on, answered, one thread.

Every test posts the person's message as the provider would (the fake channel's signed JSON)
and checks the rows the product wrote: the inbound message, the conversation, the appointment,
the consent ledger, and the reply written to the outbox.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import Settings
from navreme.identity.principal import Principal
from navreme.messaging.actions import send
from navreme.messaging.intents import interpret, normalise
from navreme.messaging.models import Conversation, Delivery, InboundMessage, Message
from navreme.registry.actions import change_consent
from navreme.registry.models import ConsentEvent, GuardianLink
from navreme.registry.queries import consent_at
from navreme.registry.schemas import ConsentChange
from navreme.scheduling.invitations import invite
from navreme.scheduling.models import Appointment, SlotClaim
from tests import factories
from tests.messaging.support import (
    count,
    endpoint,
    held_appointment,
    inbound_rows,
    invitation,
    items_in,
    payload,
    phone,
    replies,
    reply,
    signed,
)


def _status(session: Session, appointment: Appointment) -> str:
    session.expire_all()
    return session.get_one(Appointment, appointment.id).status


# --- T10: replays are no-ops ------------------------------------------------------------------


def test_t10__same_webhook_five_times__one_row_one_item_one_reply(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    appointment = held_appointment(db_session, person)
    db_session.commit()
    answers = [reply(client, "sms", number, "1", message_id="t10-seq") for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["received"] for a in answers] == [1, 0, 0, 0, 0]
    assert count(db_session, InboundMessage) == 1
    assert len(items_in(db_session, "in")) == 1
    assert len(replies(db_session)) == 1
    assert _status(db_session, appointment) == "booked"


def test_t10__twenty_parallel_identical_webhooks__one_effect(
    live_server: str, db_session: Session
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    appointment = held_appointment(db_session, person)
    db_session.commit()
    body = payload(number, "ДА", message_id="t10-parallel")
    with httpx.Client(base_url=live_server, timeout=60) as http, ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(
                lambda _: http.post(
                    "/api/v1/channels/sms/webhook", content=body, headers=signed(body)
                ),  # fmt: skip
                range(20),
            )
        )
    assert {a.status_code for a in answers} == {200}
    assert sum(a.json()["received"] for a in answers) == 1
    assert count(db_session, InboundMessage) == 1
    assert count(db_session, Conversation) == 1
    assert len(items_in(db_session, "in")) == 1
    assert len(replies(db_session, "reply_confirmed")) == 1
    assert len(replies(db_session)) == 1
    assert _status(db_session, appointment) == "booked"


# --- answers to an invitation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "answer"),
    [("mk", "ДА"), ("mk", " да. "), ("sq", "PO"), ("sq", "Po!"), ("en", "1")],
)
def test_confirm__yes_in_each_language__books_the_held_slot(
    client: TestClient, db_session: Session, language: str, answer: str
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number, language=language)
    appointment = held_appointment(db_session, person)
    db_session.commit()
    assert reply(client, "sms", number, answer).status_code == 200
    assert _status(db_session, appointment) == "booked"
    (sent,) = replies(db_session)
    assert sent.template == "reply_confirmed"
    assert sent.language == language
    assert sent.purpose == "service"
    assert sent.context["time"] == "10:00"
    assert sent.subject_id == appointment.id
    assert inbound_rows(db_session)[0].outcome == "confirmed"


def test_confirm__the_real_invitation_is_answered_and_acknowledged(
    client: TestClient, db_session: Session, settings: Settings
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    grant = ConsentChange(purpose="proactive_offers", channel="sms", granted=True)
    change_consent(db_session, person=person, change=grant,
                   actor=Principal(kind="citizen", id=person.id))  # fmt: skip
    appointment = held_appointment(db_session, person, invited=False)
    invitation = invite(db_session, settings, appointment.id)
    db_session.commit()
    assert invitation is not None
    reply(client, "sms", number, "1")
    assert _status(db_session, appointment) == "booked"
    db_session.expire_all()
    answered = db_session.get_one(Message, invitation.id)
    assert answered.status == "acknowledged"
    assert answered.acknowledged_at is not None


def test_confirm__answers_the_newest_invitation_of_two_holds(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    older = held_appointment(db_session, person, invited=False)
    newer = held_appointment(db_session, person)
    db_session.commit()
    reply(client, "sms", number, "da")
    assert _status(db_session, newer) == "booked"
    assert _status(db_session, older) == "held"


def test_confirm__a_guardian_answers_for_their_child(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    parent = factories.person(db_session, phone=number)
    child = factories.person(db_session, born=clock.today().replace(year=clock.today().year - 9))
    db_session.add(GuardianLink(guardian_id=parent.id, ward_id=child.id, kind="parent"))
    appointment = held_appointment(db_session, child, invited=False)
    db_session.add(invitation(parent, appointment))
    db_session.commit()
    reply(client, "sms", number, "ДА")
    assert _status(db_session, appointment) == "booked"


def test_confirm__a_message_about_someone_elses_appointment_acts_on_nothing(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    stranger = factories.person(db_session, phone=number)
    owner = factories.person(db_session)
    appointment = held_appointment(db_session, owner, invited=False)
    db_session.add(invitation(stranger, appointment))
    db_session.commit()
    reply(client, "sms", number, "1")
    assert _status(db_session, appointment) == "held"
    assert [m.template for m in replies(db_session)] == ["reply_received"]


def test_cancel__three_frees_the_slot(client: TestClient, db_session: Session) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    appointment = held_appointment(db_session, person)
    db_session.commit()
    reply(client, "sms", number, "3")
    assert _status(db_session, appointment) == "cancelled"
    assert count(db_session, SlotClaim, SlotClaim.appointment_id == appointment.id) == 0
    assert [m.template for m in replies(db_session)] == ["reply_cancelled"]
    assert inbound_rows(db_session)[0].outcome == "cancelled"


def test_other_times__two_lists_three_free_slots_and_keeps_the_hold(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number, language="en")
    appointment = held_appointment(db_session, person)
    db_session.commit()
    reply(client, "sms", number, "2")
    assert _status(db_session, appointment) == "held"
    (sent,) = replies(db_session)
    assert sent.template == "reply_other_times"
    assert len(sent.context["slots"]) == 3
    assert sent.context["lapsed"] is False
    assert {"date": sent.context["date"], "time": "10:00"} not in sent.context["slots"]


def test_confirm__no_held_appointment__goes_to_an_officer(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    factories.person(db_session, phone=number)
    db_session.commit()
    reply(client, "sms", number, "1")
    (item,) = items_in(db_session, "in")
    assert item.needs_officer is True
    assert [m.template for m in replies(db_session)] == ["reply_received"]


# --- STOP and START ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop", "start"), [("STOP", "start"), ("Стоп", "СТАРТ"), ("ndalo", "Fillo")]
)
def test_stop_then_start__consent_on_that_channel_and_the_ledger(
    client: TestClient, db_session: Session, stop: str, start: str
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    db_session.commit()
    reply(client, "sms", number, stop)
    db_session.expire_all()
    at = clock.now()
    assert (
        consent_at(db_session, person.id, purpose="proactive_offers", channel="sms", at=at) is False
    )
    assert consent_at(db_session, person.id, purpose="reminders", channel="sms", at=at) is False
    reply(client, "sms", number, start)
    db_session.expire_all()
    at = clock.now()
    assert (
        consent_at(db_session, person.id, purpose="proactive_offers", channel="sms", at=at) is True
    )
    ledger = db_session.scalars(
        select(ConsentEvent)
        .where(
            ConsentEvent.person_id == person.id, ConsentEvent.purpose == "proactive_offers"
        )  # fmt: skip
        .order_by(ConsentEvent.recorded_at)
    ).all()
    assert [(e.granted, e.source, e.channel) for e in ledger] == [
        (False, "channel", "sms"), (True, "channel", "sms")
    ]  # fmt: skip
    assert [m.template for m in replies(db_session)] == ["reply_stopped", "reply_started"]


def test_stop__unsent_proactive_message_on_that_channel_is_cancelled(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    grant = ConsentChange(purpose="proactive_offers", channel="sms", granted=True)
    change_consent(db_session, person=person, change=grant,
                   actor=Principal(kind="citizen", id=person.id))  # fmt: skip
    offer = send(db_session, person_id=person.id, purpose="proactive_offers",
                 template="reply_received", context={"reason": "test"}, to=("sms", number))  # fmt: skip
    db_session.commit()
    waiting = db_session.scalars(select(Delivery).where(Delivery.message_id == offer.id)).one()
    assert waiting.status == "created"
    reply(client, "sms", number, "STOP")
    db_session.expire_all()
    assert db_session.get_one(Delivery, waiting.id).status == "cancelled"


def test_stop_twice__one_ledger_event_one_answer(client: TestClient, db_session: Session) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    db_session.commit()
    reply(client, "sms", number, "STOP")
    reply(client, "sms", number, "stop.")
    events = count(db_session, ConsentEvent, ConsentEvent.person_id == person.id,
                   ConsentEvent.purpose == "proactive_offers")  # fmt: skip
    assert events == 1
    assert [m.template for m in replies(db_session)] == ["reply_stopped"]
    assert [r.outcome for r in inbound_rows(db_session)] == ["stop", "stop"]


# --- free text, strangers, one conversation ---------------------------------------------------


def test_free_text__unicode_kept_and_waits_for_an_officer(
    client: TestClient, db_session: Session
) -> None:
    number = phone()
    factories.person(db_session, phone=number)
    db_session.commit()
    text = "Здраво 👋 може ли во сабота? Çfarë dokumentesh duhen?"
    assert reply(client, "sms", number, text).status_code == 200
    (row,) = inbound_rows(db_session)
    assert row.text == text
    assert row.outcome == "conversation"
    (item,) = items_in(db_session, "in")
    assert item.text == text
    assert item.needs_officer is True
    assert [m.template for m in replies(db_session)] == ["reply_received"]


def test_unknown_sender__own_conversation_and_how_to_link(
    client: TestClient, db_session: Session
) -> None:
    reply(client, "telegram", "99887766", "Добар ден")
    (row,) = inbound_rows(db_session)
    assert row.person_id is None
    conversation = db_session.get_one(Conversation, row.conversation_id)
    assert (conversation.channel, conversation.address) == ("telegram", "99887766")
    (sent,) = replies(db_session)
    assert sent.template == "reply_unknown_sender"
    assert sent.person_id is None
    assert sent.language == "mk"


def test_unknown_sender__told_how_to_link_once_an_hour(
    client: TestClient, db_session: Session
) -> None:
    for text in ("Здраво", "Дали ме слушате?", "Ало"):
        reply(client, "viber", "bot-or-person", text)
    assert len(inbound_rows(db_session)) == 3
    assert [m.template for m in replies(db_session)] == ["reply_unknown_sender"]


def test_unverified_endpoint__is_not_trusted(client: TestClient, db_session: Session) -> None:
    number = phone()
    person = factories.person(db_session)
    endpoint(db_session, person, "sms", number).verified_at = None
    appointment = held_appointment(db_session, person)
    db_session.commit()
    reply(client, "sms", number, "1")
    assert _status(db_session, appointment) == "held"
    assert [m.template for m in replies(db_session)] == ["reply_unknown_sender"]


def test_telegram_then_email__one_conversation(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone=phone())
    db_session.commit()
    reply(client, "telegram", "5550001", "Здраво, прашање за пасош")
    headers = factories.session_token(db_session, person)
    db_session.commit()
    started = client.post("/api/v1/me/channels/telegram/link", headers=headers)
    reply(client, "telegram", "5550001", started.json()["code"])
    endpoint(db_session, person, "email", "marija@example.org")
    db_session.commit()
    reply(client, "email", "marija@example.org", "Уште едно прашање")
    assert count(db_session, Conversation) == 1
    conversation = db_session.scalars(select(Conversation)).one()
    assert conversation.person_id == person.id
    assert {row.conversation_id for row in inbound_rows(db_session)} == {conversation.id}
    assert [i.channel for i in items_in(db_session, "in")] == ["telegram", "telegram", "email"]


# --- reading answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [("ДА", "confirm"), ("  Po. ", "confirm"), ("YES!", "confirm"), ("друг термин", "other_times"),
     ("Jo", "cancel"), ("НЕ", "cancel"), ("СТОП", "stop"), ("fillo", "start"),
     ("123 456", "code"), ("да, ама…", "free_text"), ("12345", "free_text")],
)  # fmt: skip
def test_interpret__words_in_three_languages(text: str, kind: str) -> None:
    assert interpret(text).kind == kind


def test_normalise__case_punctuation_and_spaces() -> None:
    assert normalise("  Друг,  ТЕРМИН!! ") == "друг термин"
