"""Messages that are not answers become cases (T10: one case per message), follow-ups within
two hours join the open case, and replies on the website stay in the conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases import intake
from navreme.cases.models import Case, CaseEvent
from navreme.messaging.models import InboundMessage
from tests import factories
from tests.cases.support import fake_classifier, load
from tests.messaging.support import phone, reply


@pytest.fixture
def world(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    load(db_session)
    fake_classifier(monkeypatch)
    db_session.commit()
    return db_session


def _cases(session: Session) -> list[Case]:
    session.expire_all()
    return list(session.scalars(select(Case).order_by(Case.created_at)))


def test_a_question_by_sms__becomes_one_case_for_the_person(
    client: TestClient, world: Session
) -> None:
    number = phone()
    person = factories.person(world, phone=number)
    world.commit()
    response = reply(client, "sms", number, "Контејнерот не е празнет две недели.")
    assert response.status_code == 200
    (case,) = _cases(world)
    inbound = world.scalars(select(InboundMessage)).one()
    assert (case.channel, case.person_id, case.inbound_id) == ("sms", person.id, inbound.id)
    assert case.category_code == "waste"
    assert case.classified_by == "stand-in"
    assert inbound.outcome == "conversation"  # still the officer's conversation item too


def test_the_same_provider_message_twice__one_case(client: TestClient, world: Session) -> None:
    number = phone()
    factories.person(world, phone=number)
    world.commit()
    for _ in range(2):
        assert (
            reply(client, "sms", number, "Улицата е темна.", message_id="dup-1").status_code == 200
        )
    assert len(_cases(world)) == 1
    assert world.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_a_follow_up_within_two_hours__a_note_on_the_open_case(
    client: TestClient, world: Session
) -> None:
    number = phone()
    factories.person(world, phone=number)
    world.commit()
    reply(client, "sms", number, "Улицата е темна.")
    reply(client, "sms", number, "Тоа е кај бројот 12.")
    (case,) = _cases(world)
    notes = world.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "note")
    ).all()
    assert [n.note for n in notes] == ["Тоа е кај бројот 12."]
    assert notes[0].public
    assert notes[0].actor_kind == "citizen"


def test_a_message_after_the_window__a_new_case(client: TestClient, world: Session) -> None:
    number = phone()
    factories.person(world, phone=number)
    world.commit()
    reply(client, "sms", number, "Улицата е темна.")
    with clock.frozen(clock.now() + intake.JOIN_WINDOW + timedelta(minutes=1)):
        reply(client, "sms", number, "Друго прашање: пасош.")
    assert len(_cases(world)) == 2


def test_a_closed_case_in_between__a_new_case(client: TestClient, world: Session) -> None:
    number = phone()
    factories.person(world, phone=number)
    world.commit()
    reply(client, "sms", number, "Улицата е темна.")
    (first,) = _cases(world)
    first.status, first.closed_at, first.updated_at = "closed", clock.now(), clock.now()
    world.commit()
    reply(client, "sms", number, "Пак е темно.")
    assert len(_cases(world)) == 2


def test_an_unknown_sender__an_anonymous_case_with_the_contact(
    client: TestClient, world: Session
) -> None:
    reply(client, "telegram", "4242", "Дупка на патот кај училиштето.")
    (case,) = _cases(world)
    assert case.person_id is None
    assert (case.contact_channel, case.contact_address) == ("telegram", "4242")


def test_an_answer_to_an_appointment_or_stop__no_case(client: TestClient, world: Session) -> None:
    number = phone()
    factories.person(world, phone=number)
    world.commit()
    reply(client, "sms", number, "STOP")
    assert _cases(world) == []


def test_a_reply_on_the_website__stays_in_the_conversation(
    client: TestClient, world: Session
) -> None:
    from tests.web.support import as_citizen, csrf

    person = factories.person(world)
    world.commit()
    as_citizen(client, world, person)
    page = client.get("/me/messages").text
    reply_id = __import__("re").search(r'name="reply_id" value="([^"]+)"', page).group(1)
    client.post("/me/messages", data={"csrf_token": csrf(page), "text": "Прашање",
                                      "reply_id": reply_id})  # fmt: skip
    assert _cases(world) == []


def _close(session: Session, case: Case, *, window: timedelta = timedelta(days=14)) -> None:
    now = clock.now()
    case.status, case.closed_at, case.updated_at = "closed", now, now
    case.reopen_until = now + window
    session.commit()


def test_a_number_after_the_closing_message__rates_the_case(
    client: TestClient, world: Session
) -> None:
    """The closing message asks "reply with a number 1–5": the reply rates, makes no case."""
    number = phone()
    factories.person(world, phone=number)
    world.commit()
    reply(client, "sms", number, "Улицата е темна.")
    (case,) = _cases(world)
    _close(world, case)
    reply(client, "sms", number, " 4 ")
    (rated,) = _cases(world)
    assert rated.rating == 4
    kinds = world.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert "rated" in kinds
    # rated once: a second number is an ordinary message (a new matter)
    reply(client, "sms", number, "5")
    assert [c.rating for c in _cases(world)] == [4, None]


def test_an_anonymous_sender_rates_their_own_case_by_reply(
    client: TestClient, world: Session
) -> None:
    reply(client, "telegram", "777", "Дупка на патот кај училиштето.")
    (case,) = _cases(world)
    _close(world, case)
    reply(client, "telegram", "888", "2")  # someone else's "2" rates nothing of theirs
    reply(client, "telegram", "777", "3.")
    cases = _cases(world)
    assert cases[0].rating == 3
    assert len(cases) == 2  # the stranger's "2" became a request of its own


def test_a_number_after_the_window__an_ordinary_message(client: TestClient, world: Session) -> None:
    number = phone()
    factories.person(world, phone=number)
    world.commit()
    reply(client, "sms", number, "Улицата е темна.")
    (case,) = _cases(world)
    _close(world, case, window=timedelta(days=1))
    with clock.frozen(clock.now() + timedelta(days=2)):
        reply(client, "sms", number, "5")
    cases = _cases(world)
    assert cases[0].rating is None
    assert len(cases) == 2
