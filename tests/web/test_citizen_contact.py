"""Citizen pages: the conversation and the web reply, contact order and consent, quiet hours,
and "what we hold" — end to end through the pages, as a browser without JavaScript uses them."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.identity.principal import Principal
from navreme.messaging import conversations
from navreme.messaging.models import (
    ContactSettings,
    ConversationItem,
    Delivery,
    InboundMessage,
    Message,
)
from navreme.registry import actions
from navreme.registry.models import ConsentEvent, ContactEndpoint, GuardianLink, Person
from navreme.registry.schemas import ConsentChange
from navreme.scheduling.models import Appointment, AppointmentItem, Counter
from tests import factories
from tests.web.support import as_citizen, as_officer, field, submit


def _citizen(client: TestClient, session: Session, **kwargs: object) -> Person:
    person = factories.person(session, **kwargs)  # type: ignore[arg-type]
    as_citizen(client, session, person)
    return person


def _items(session: Session) -> list[ConversationItem]:
    session.expire_all()
    return list(session.scalars(select(ConversationItem).order_by(ConversationItem.created_at)))


def _audited(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).where(AuditEntry.action == action)) or 0


def _we_wrote(session: Session, person: Person, text: str, status: str) -> None:
    conversation = conversations.person_conversation(session, person.id)
    message = Message(person_id=person.id, purpose="service", template="reply_received",
                      language="mk", lane="priority")  # fmt: skip
    session.add(message)
    session.flush()
    session.add(Delivery(message_id=message.id, step=0, channel="sms", address="+38970111222",
                         lane="priority", status=status))  # fmt: skip
    conversations.add_item(session, conversation, direction="out", channel="sms", text=text,
                           message_id=message.id)  # fmt: skip


# --- conversation ---


def test_pages__signed_out_or_officer__go_to_the_citizen_sign_in(
    client: TestClient, db_session: Session
) -> None:
    for path in ("/me/messages", "/me/settings", "/me/data"):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login/citizen")
    as_officer(client, db_session)
    answer = client.get("/me/messages", follow_redirects=False)
    assert answer.status_code == 303


def test_messages__both_directions_oldest_first__with_delivery_status(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session)
    _we_wrote(db_session, person, "Your passport expires soon.", "delivered")
    conversation = conversations.person_conversation(db_session, person.id)
    conversations.add_item(db_session, conversation, direction="in", channel="telegram",
                           text="When can I come?", needs_officer=True)  # fmt: skip
    db_session.commit()

    page = client.get("/me/messages?lang=en").text
    assert page.index("Your passport expires soon.") < page.index("When can I come?")
    assert "We wrote" in page
    assert "You wrote" in page
    assert "Delivery: Delivered" in page
    assert "Telegram" in page
    assert "Waiting for an officer." in page
    assert 'href="#reply"' in page
    assert '<label for="text">' in page

    page = client.get("/me/messages?lang=mk").text
    assert "Ние напишавме" in page
    assert "Испорака: Доставено" in page


def test_messages__a_long_conversation__is_paged_without_gaps_or_repeats(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session)
    conversation = conversations.person_conversation(db_session, person.id)
    start = clock.now() - timedelta(days=10)
    for n in range(120):
        db_session.add(ConversationItem(conversation_id=conversation.id, direction="in",
                                        channel="sms", text=f"note-{n:03d}",
                                        created_at=start + timedelta(minutes=n)))  # fmt: skip
    db_session.commit()

    seen: list[str] = []
    page = client.get("/me/messages?lang=en").text
    for _ in range(5):
        seen = re.findall(r"note-\d{3}", page) + seen
        older = re.search(r'href="(/me/messages\?before=[^"]+)"', page)
        if older is None:
            break
        page = client.get(older.group(1).replace("&amp;", "&")).text
    assert seen == [f"note-{n:03d}" for n in range(120)]
    assert "Back to the newest messages" in page


def test_messages__bad_cursor__is_a_clear_error_not_a_crash(
    client: TestClient, db_session: Session
) -> None:
    _citizen(client, db_session)
    assert client.get("/me/messages?before=yesterday").status_code == 400


def test_reply__joins_the_conversation_on_the_web__for_an_officer(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session)
    page = client.get("/me/messages?lang=sq").text
    sent = submit(client, page, "/me/messages", text="Can I bring my son?",
                  reply_id=field(page, "reply_id"))  # fmt: skip
    assert sent.status_code == 200
    assert "done=sent" in str(sent.url)
    assert "Faleminderit" in sent.text
    assert "Can I bring my son?" in sent.text

    (item,) = _items(db_session)
    assert (item.direction, item.channel, item.needs_officer) == ("in", "web", True)
    assert [i.id for i, _ in conversations.open_items(db_session)] == [item.id]
    inbound = db_session.get_one(InboundMessage, item.inbound_id)
    assert (inbound.channel, inbound.person_id, inbound.outcome) == (
        "web",
        person.id,
        "conversation",
    )
    assert _audited(db_session, "inbound.receive") == 1


def test_reply__short_answers_like_stop_or_cancel__change_nothing_but_wait_for_a_human(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session)
    actions.change_consent(
        db_session, person=person, actor=Principal(kind="citizen", id=person.id),
        change=ConsentChange(purpose="reminders", channel="any", granted=True),
    )  # fmt: skip
    db_session.commit()
    for word in ("STOP", "3"):
        page = client.get("/me/messages").text
        submit(client, page, "/me/messages", text=word, reply_id=field(page, "reply_id"))
    assert [i.needs_officer for i in _items(db_session)] == [True, True]
    assert db_session.scalar(select(func.count()).select_from(ConsentEvent)) == 1


def test_reply__empty_or_too_long__422_with_the_text_kept_and_nothing_stored(
    client: TestClient, db_session: Session
) -> None:
    _citizen(client, db_session)
    page = client.get("/me/messages?lang=en").text
    empty = submit(client, page, "/me/messages", text="   ", reply_id=field(page, "reply_id"))
    assert empty.status_code == 422
    assert 'role="alert"' in empty.text
    assert "Please write your message" in empty.text
    long_text = "ж" * 2001
    too_long = submit(client, page, "/me/messages", text=long_text,
                      reply_id=field(page, "reply_id"))  # fmt: skip
    assert too_long.status_code == 422
    assert long_text in too_long.text
    assert 'aria-describedby="text-hint text-error"' in too_long.text
    assert _items(db_session) == []


def test_reply__double_submit__stores_one_item(client: TestClient, db_session: Session) -> None:
    _citizen(client, db_session)
    page = client.get("/me/messages").text
    for _ in range(2):  # the same form twice (a double click, a reload of the POST)
        submit(client, page, "/me/messages", text="Hello", reply_id=field(page, "reply_id"))
    fresh = client.get("/me/messages").text  # the same words again from a new form, at once
    submit(client, fresh, "/me/messages", text="Hello", reply_id=field(fresh, "reply_id"))
    assert [i.text for i in _items(db_session)] == ["Hello"]
    later = client.get("/me/messages").text
    submit(client, later, "/me/messages", text="Something else", reply_id=field(later, "reply_id"))
    assert [i.text for i in _items(db_session)] == ["Hello", "Something else"]


def test_reply__without_csrf__403_and_nothing_stored(
    client: TestClient, db_session: Session
) -> None:
    _citizen(client, db_session)
    page = client.get("/me/messages").text
    answer = client.post("/me/messages", data={"text": "Hi", "reply_id": field(page, "reply_id")})
    assert answer.status_code == 403
    assert "Hi</textarea>" in answer.text
    assert _items(db_session) == []


# --- contact order, consent, quiet hours ---


def _endpoint(session: Session, person: Person, channel: str, address: str, rank: int) -> None:
    session.add(ContactEndpoint(person_id=person.id, channel=channel, address=address,
                                preference=rank, verified_at=clock.now()))  # fmt: skip
    session.flush()


def _order(session: Session, person: Person) -> list[str]:
    session.expire_all()
    query = select(ContactEndpoint.channel).where(ContactEndpoint.person_id == person.id)
    return list(session.scalars(query.order_by(ContactEndpoint.preference)))


def test_settings__move_a_channel_up__changes_the_ladder(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session, phone="+38970123456")
    _endpoint(db_session, person, "email", "marija@example.org", 2)
    db_session.commit()
    page = client.get("/me/settings?lang=en").text
    assert page.index("SMS") < page.index("E-mail")
    assert "m***@example.org" in page
    email = db_session.scalar(select(ContactEndpoint.id).where(ContactEndpoint.channel == "email"))
    moved = submit(client, page, "/me/settings/order", endpoint=str(email), move="up")
    assert moved.status_code == 200
    assert "Your order of channels is saved." in moved.text
    assert _order(db_session, person) == ["email", "sms"]
    assert re.search(r"Service messages</th>\s*<td[^>]*>\s*1\. E-mail, 2\. SMS", moved.text)
    assert _audited(db_session, "contact.reorder") == 1


def test_settings__someone_elses_channel__404_and_nothing_changed(
    client: TestClient, db_session: Session
) -> None:
    other = factories.person(db_session, born=date(1985, 1, 2), phone="+38970999888")
    person = _citizen(client, db_session, phone="+38970123456")
    _endpoint(db_session, person, "email", "marija@example.org", 2)
    db_session.commit()
    theirs = db_session.scalar(
        select(ContactEndpoint.id).where(ContactEndpoint.person_id == other.id)
    )
    page = client.get("/me/settings").text
    answer = submit(client, page, "/me/settings/order", endpoint=str(theirs), move="down")
    assert answer.status_code == 404
    assert _order(db_session, person) == ["sms", "email"]


def test_settings__give_then_withdraw_consent__one_click_each__ledger_appended(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session, phone="+38970123456")
    page = client.get("/me/settings?lang=sq").text
    given = submit(client, page, "/me/settings/consent", purpose="reminders", granted="yes")
    assert given.status_code == 200
    assert "pëlqimi" in given.text.lower()
    withdrawn = submit(client, given.text, "/me/settings/consent", purpose="reminders",
                       granted="no")  # fmt: skip
    assert withdrawn.status_code == 200
    db_session.expire_all()
    ledger = db_session.scalars(
        select(ConsentEvent).where(ConsentEvent.person_id == person.id)
        .order_by(ConsentEvent.recorded_at)
    ).all()  # fmt: skip
    assert [(e.purpose, e.channel, e.granted, e.source) for e in ledger] == [
        ("reminders", "any", True, "web"), ("reminders", "any", False, "web"),
    ]  # fmt: skip
    page = client.get("/me/settings?lang=mk").text
    assert "Дајте согласност за „Потсетници за термини“" in page
    assert "Сега: не." in page
    assert _audited(db_session, "consent.change") == 2


def test_settings__consent_without_csrf_or_for_an_unknown_purpose__nothing_recorded(
    client: TestClient, db_session: Session
) -> None:
    _citizen(client, db_session)
    page = client.get("/me/settings").text
    forged = client.post("/me/settings/consent", data={"purpose": "reminders", "granted": "yes"})
    assert forged.status_code == 403
    wrong = submit(client, page, "/me/settings/consent", purpose="marketing", granted="yes")
    assert wrong.status_code == 422
    assert db_session.scalar(select(func.count()).select_from(ConsentEvent)) == 0


def test_settings__quiet_hours__saved_switched_off_and_bad_times_refused(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session)
    page = client.get("/me/settings?lang=en").text
    assert 'value="21:00"' in page
    assert 'value="08:00"' in page
    bad = submit(client, page, "/me/settings/contact", quiet="on", quiet_from="25:99",
                 quiet_until="07:00")  # fmt: skip
    assert bad.status_code == 422
    assert 'id="quiet-error"' in bad.text
    assert 'value="25:99"' in bad.text
    assert db_session.get(ContactSettings, person.id) is None

    saved = submit(client, page, "/me/settings/contact", quiet="on", quiet_from="22:30",
                   quiet_until="07:00")  # fmt: skip
    assert "Your quiet hours are saved." in saved.text
    assert 'value="22:30"' in saved.text
    db_session.expire_all()
    row = db_session.get_one(ContactSettings, person.id)
    assert (row.quiet_from.hour, row.quiet_from.minute, row.quiet_until.hour) == (22, 30, 7)

    submit(client, saved.text, "/me/settings/contact", quiet="off", quiet_from="", quiet_until="")
    db_session.expire_all()
    assert db_session.get_one(ContactSettings, person.id).quiet_from is None
    assert _audited(db_session, "contact_settings.change") == 2


# --- what we hold ---


def _booked(session: Session, person: Person) -> None:
    office = factories.office(session)
    counter = session.scalars(select(Counter).where(Counter.office_id == office.id)).first()
    assert counter is not None
    starts = clock.now() + timedelta(days=3)
    visit = Appointment(office_id=office.id, counter_id=counter.id, starts_at=starts,
                        ends_at=starts + timedelta(minutes=15), status="booked",
                        made_by_kind="citizen", made_by_id=person.id)  # fmt: skip
    session.add(visit)
    session.flush()
    session.add(AppointmentItem(appointment_id=visit.id, person_id=person.id,
                                service_code="passport", minutes=15))  # fmt: skip
    session.flush()


def test_data__everything_held__masked_number__and_who_looked(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session, phone="+38970123456")
    factories.document(db_session, person, kind="passport", issued=date(2020, 1, 1),
                       expires=date(2030, 1, 1))  # fmt: skip
    actions.change_consent(
        db_session, person=person, actor=Principal(kind="citizen", id=person.id),
        change=ConsentChange(purpose="surveys", channel="sms", granted=False),
    )  # fmt: skip
    login = factories.officer(db_session)
    officer = Principal(kind="officer", id=login.officer.id, roles=frozenset({"officer"}))
    actions.record_person_view(db_session, person=person, actor=officer, section="documents")
    _we_wrote(db_session, person, "Reminder", "sent")
    _booked(db_session, person)
    child = factories.person(db_session, born=date(2015, 6, 1))
    db_session.add(GuardianLink(guardian_id=person.id, ward_id=child.id, kind="parent"))
    db_session.commit()

    page = client.get("/me/data?lang=en").text
    assert person.national_id not in page
    assert person.national_id[-3:] in page
    assert "Петровска" in page
    assert "+38970123456" in page
    assert "Passport" in page
    assert "Short surveys about our service" in page
    assert "Every answer you gave" in page
    assert "An officer of MVR en" in page
    assert "Looked at your documents" in page
    assert "1 try to reach you by SMS" in page
    assert 'href="/me/messages"' in page
    assert page.count("Why we hold it:") >= 8
    assert "MVR Veles · Booked" in page
    assert "In your care: Марија Петровска (Parent)" in page

    page = client.get("/me/data?lang=mk").text
    assert "Сè што чуваме за Вас" in page
    assert "Службеник од MVR мк" in page
    assert "Ги прегледа Вашите документи" in page


def test_data__another_persons_looks_and_history__never_show(
    client: TestClient, db_session: Session
) -> None:
    other = factories.person(db_session, born=date(1980, 3, 3))
    login = factories.officer(db_session)
    officer = Principal(kind="officer", id=login.officer.id, roles=frozenset({"officer"}))
    actions.record_person_view(db_session, person=other, actor=officer, section="documents")
    _citizen(client, db_session)
    page = client.get("/me/data?lang=en").text
    assert "No officer has opened your record." in page
    assert "Looked at your documents" not in page


def test_settings__a_channel_of_its_own__shows_as_partly__a_general_no_ends_it(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session, phone="+38970123456")
    me = Principal(kind="citizen", id=person.id)
    for channel, granted in (("any", True), ("sms", False)):
        change = ConsentChange(purpose="reminders", channel=channel, granted=granted)
        actions.change_consent(db_session, person=person, change=change, actor=me)
    db_session.commit()
    page = client.get("/me/settings?lang=en").text
    reminders = page[page.index("<h3>Reminders of appointments") :].split("</li>")[0]
    assert "Now: only partly." in reminders
    assert "No on: SMS" in reminders
    assert "Give consent" not in reminders  # a general yes is in force already

    withdrawn = submit(client, page, "/me/settings/consent", purpose="reminders", granted="no")
    reminders = withdrawn.text[withdrawn.text.index("<h3>Reminders of appointments") :]
    reminders = reminders.split("</li>")[0]
    assert "Now: no." in reminders
    assert "No on:" not in reminders
    assert "Withdraw consent" not in reminders


def test_messages__exactly_one_page__offers_no_older_link(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session)
    conversation = conversations.person_conversation(db_session, person.id)
    for n in range(conversations.PAGE):
        conversations.add_item(db_session, conversation, direction="in", channel="sms",
                               text=f"note-{n:03d}")  # fmt: skip
    db_session.commit()
    page = client.get("/me/messages?lang=en").text
    assert len(re.findall(r"note-\d{3}", page)) == conversations.PAGE
    assert "Show older messages" not in page


def test_settings__addresses_are_masked__a_push_subscription_is_named_not_dumped(
    client: TestClient, db_session: Session
) -> None:
    person = _citizen(client, db_session, phone="+38970123456")
    subscription = '{"endpoint": "https://push.example/abc", "keys": {"p256dh": "' + "k" * 80
    _endpoint(db_session, person, "push", subscription + '"}}', 2)
    db_session.add(ContactEndpoint(person_id=person.id, channel="telegram", address="55512345"))
    db_session.commit()
    page = client.get("/me/settings?lang=en").text
    assert "+38970123456" not in page
    assert "*********456" in page
    assert "push.example" not in page
    assert "a browser on one of your devices" in page
    assert "Not confirmed yet, so not used:" in page
    assert "*****345" in page
