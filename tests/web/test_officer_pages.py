"""Officer pages end to end: the counter's day and its marks, waiting work, finding a person,
the supervisors' dashboard — through the pages, with their forms and CSRF tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.config import get_settings
from navreme.messaging.models import Conversation, ConversationItem, Delivery, Message
from navreme.registry.models import Person
from navreme.rules.models import Offer
from navreme.scheduling import actions
from navreme.scheduling.models import Appointment, Office
from navreme.scheduling.queries import VisitItem
from tests import factories
from tests.rules_support import published_expiry_rule
from tests.web.support import as_citizen, as_officer, submit

DAY = date(2026, 3, 2)  # a Monday, no public holiday


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return clock.local_midnight(day) + timedelta(hours=hour, minutes=minute)


@pytest.fixture(autouse=True)
def ten_o_clock() -> Iterator[None]:
    """Every test runs on DAY at 10:00 local time (the pages and the test share the clock)."""
    with clock.frozen(at(10)):
        yield


def book(session: Session, office: Office, person: Person, hour: int) -> Appointment:
    with clock.frozen(at(7)):
        made = actions.make_appointment(
            session, get_settings(), None, office=office, starts_at=at(hour),
            items=[VisitItem(person.id, "id-card")],
        )  # fmt: skip
    session.commit()
    return made


def audited(session: Session, action: str, outcome: str = "ok") -> list[AuditEntry]:
    session.expire_all()
    query = select(AuditEntry).where(AuditEntry.action == action, AuditEntry.outcome == outcome)
    return list(session.scalars(query))


def status_of(session: Session, appointment: Appointment) -> str:
    session.expire_all()
    return session.get_one(Appointment, appointment.id).status


# --- Today ----------------------------------------------------------------------------------


def test_today__lists_visits_by_counter__check_in_then_done__audited(
    client: TestClient, db_session: Session
) -> None:
    office = factories.office(db_session)
    person = factories.person(db_session)
    visit = book(db_session, office, person, 9)
    login = as_officer(client, db_session)
    page = client.get("/officer?lang=en")
    assert page.status_code == 200
    assert "Марија Петровска" in page.text
    assert "Counter 1" in page.text
    assert f"/officer/persons/{person.id}" in page.text
    checked = submit(client, page.text, f"/officer/appointments/{visit.id}/check-in")
    assert checked.status_code == 200
    assert checked.url.path == "/officer"
    assert "Checked in." in checked.text
    assert status_of(db_session, visit) == "checked_in"
    [entry] = audited(db_session, "appointment.check_in")
    assert entry.actor_id == login.officer.id
    assert entry.object_id == str(visit.id)
    done = submit(client, checked.text, f"/officer/appointments/{visit.id}/done")
    assert "Marked done." in done.text
    assert status_of(db_session, visit) == "done"


def test_me__an_officer_lands_on_today__department_and_colleagues_shown(
    client: TestClient, db_session: Session
) -> None:
    factories.officer(db_session, username="colleague.mvr")
    factories.office(db_session)
    as_officer(client, db_session)
    page = client.get("/me?lang=mk")
    assert page.url.path == "/officer"
    assert "MVR мк" in page.text
    assert page.text.count("Test Officer") == 3
    assert "Шалтер 1" not in page.text  # no visits booked: no counter tables
    assert "Нема закажани посети за овој ден." in page.text


def test_no_show_before_the_start__409_with_a_clear_message__nothing_changed(
    client: TestClient, db_session: Session
) -> None:
    office = factories.office(db_session)
    later = book(db_session, office, factories.person(db_session), 14)
    as_officer(client, db_session)
    page = client.get("/officer?lang=mk")
    refused = submit(client, page.text, f"/officer/appointments/{later.id}/no-show")
    assert refused.status_code == 409
    assert "Оваа посета сè уште не започнала" in refused.text
    assert 'role="alert"' in refused.text
    assert status_of(db_session, later) == "booked"
    assert audited(db_session, "appointment.no_show") == []


def test_no_show__marked_and_the_person_is_offered_a_new_slot(
    client: TestClient, db_session: Session
) -> None:
    office = factories.office(db_session)
    missed = book(db_session, office, factories.person(db_session), 9)
    as_officer(client, db_session)
    page = client.get("/officer?lang=sq")
    marked = submit(client, page.text, f"/officer/appointments/{missed.id}/no-show")
    assert marked.status_code == 200
    assert "i është ofruar një termin i ri" in marked.text
    assert status_of(db_session, missed) == "no_show"
    again = db_session.scalar(select(Appointment).where(Appointment.replaces_id == missed.id))
    assert again is not None
    assert again.status == "held"


def test_marks__another_departments_visit__404_audited_and_unchanged(
    client: TestClient, db_session: Session
) -> None:
    theirs = factories.office(db_session, "MK-101", department_code="UMEV")
    visit = book(db_session, theirs, factories.person(db_session), 9)
    as_officer(client, db_session)
    page = client.get("/officer?lang=en")
    assert theirs.code not in page.text  # the office is not offered to choose
    refused = submit(client, page.text, f"/officer/appointments/{visit.id}/check-in")
    assert refused.status_code == 404
    assert status_of(db_session, visit) == "booked"
    assert len(audited(db_session, "appointment.check_in", "denied")) == 1
    assert client.get(f"/officer?office={theirs.code}").status_code == 404


def test_marks__without_csrf__403_and_nothing_changed(
    client: TestClient, db_session: Session
) -> None:
    visit = book(db_session, factories.office(db_session), factories.person(db_session), 9)
    as_officer(client, db_session)
    refused = client.post(f"/officer/appointments/{visit.id}/check-in", data={"csrf_token": "x"})
    assert refused.status_code == 403
    assert (
        "The form expired"
        in client.post(f"/officer/appointments/{visit.id}/check-in?lang=en", data={}).text
    )
    assert status_of(db_session, visit) == "booked"
    assert audited(db_session, "appointment.check_in") == []


def test_today__another_day_and_a_bad_date(client: TestClient, db_session: Session) -> None:
    office = factories.office(db_session)
    person = factories.person(db_session)
    with clock.frozen(at(7)):
        actions.make_appointment(
            db_session, get_settings(), None, office=office,
            starts_at=at(9, day=DAY + timedelta(days=1)), items=[VisitItem(person.id, "id-card")],
        )  # fmt: skip
    db_session.commit()
    as_officer(client, db_session)
    assert "Марија" not in client.get("/officer?lang=en").text
    tomorrow = client.get(f"/officer?office={office.code}&day=2026-03-03&lang=en")
    assert "Марија Петровска" in tomorrow.text
    bad = client.get("/officer?day=03/03/2026&lang=en")
    assert bad.status_code == 422
    assert "year-month-day" in bad.text
    assert 'aria-describedby="day-error"' in bad.text


def test_officer_pages__citizens_and_visitors_are_sent_to_the_officer_sign_in(
    client: TestClient, db_session: Session
) -> None:
    for path in ("/officer", "/officer/waiting", "/officer/persons", "/officer/dashboard"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/login/officer"
    as_citizen(client, db_session, factories.person(db_session))
    answer = client.get("/officer/persons", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login/officer"


# --- Waiting for a person -------------------------------------------------------------------


def _conversation(session: Session, person: Person) -> Conversation:
    row = Conversation(person_id=person.id, created_at=clock.now(), last_activity_at=clock.now())
    session.add(row)
    session.flush()
    return row


def _outreach_about(session: Session, office: Office, person: Person) -> ConversationItem:
    visit = book(session, office, person, 15)
    message = Message(
        person_id=person.id, purpose="proactive_offers", template="appointment-invitation",
        language="mk", subject_kind="appointment", subject_id=visit.id, status="exhausted",
    )  # fmt: skip
    session.add(message)
    session.flush()
    item = ConversationItem(
        conversation_id=_conversation(session, person).id, direction="out", channel="outreach",
        message_id=message.id, needs_officer=True, text="Reach the person", created_at=at(8),
    )  # fmt: skip
    session.add(item)
    session.commit()
    return item


def test_waiting__written_and_outreach_items__mark_handled__audited(
    client: TestClient, db_session: Session
) -> None:
    office = factories.office(db_session)
    reached_nobody = _outreach_about(db_session, office, factories.person(db_session))
    writer = factories.person(db_session, born=date(1985, 1, 2))
    wrote = ConversationItem(
        conversation_id=_conversation(db_session, writer).id, direction="in", channel="sms",
        needs_officer=True, text="Дали можам да дојдам порано?", created_at=at(9),
    )  # fmt: skip
    db_session.add(wrote)
    db_session.commit()
    login = as_officer(client, db_session)
    page = client.get("/officer/waiting?lang=sq")
    assert page.status_code == 200
    assert "Дали можам да дојдам порано?" in page.text
    assert 'lang="mk"' in page.text
    assert "nuk arriti në asnjë kanal" in page.text
    assert office.name in page.text
    assert f"/officer/persons/{writer.id}" in page.text
    handled = submit(client, page.text, f"/officer/conversation-items/{wrote.id}/handled")
    assert handled.status_code == 200
    assert handled.url.path == "/officer/waiting"
    assert "Дали можам да дојдам порано?" not in handled.text
    db_session.expire_all()
    assert db_session.get_one(ConversationItem, wrote.id).handled_at is not None
    assert db_session.get_one(ConversationItem, reached_nobody.id).handled_at is None
    [entry] = audited(db_session, "conversation_item.handled")
    assert entry.actor_id == login.officer.id


def test_waiting__outreach_of_another_department__neither_listed_nor_handled(
    client: TestClient, db_session: Session
) -> None:
    theirs = factories.office(db_session, department_code="UMEV")
    item = _outreach_about(db_session, theirs, factories.person(db_session))
    as_officer(client, db_session)
    page = client.get("/officer/waiting?lang=en")
    assert f"item-{item.id}" not in page.text
    assert "Nobody is waiting to be contacted." in page.text
    refused = submit(client, page.text, f"/officer/conversation-items/{item.id}/handled")
    assert refused.status_code == 404
    db_session.expire_all()
    assert db_session.get_one(ConversationItem, item.id).handled_at is None


def test_waiting__without_csrf_403__catalogue_editor_403(
    client: TestClient, db_session: Session
) -> None:
    item = _outreach_about(db_session, factories.office(db_session), factories.person(db_session))
    as_officer(client, db_session)
    refused = client.post(f"/officer/conversation-items/{item.id}/handled", data={})
    assert refused.status_code == 403
    db_session.expire_all()
    assert db_session.get_one(ConversationItem, item.id).handled_at is None
    as_officer(client, db_session, roles=("catalogue_editor",))
    assert client.get("/officer/waiting").status_code == 403
    assert len(audited(db_session, "access.waiting", "denied")) == 1


# --- Find a person --------------------------------------------------------------------------


def test_find_by_personal_number__the_record__never_in_a_url__audited(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone="+38970111222")
    factories.document(db_session, person, kind="passport", issued=date(2020, 1, 1),
                       expires=date(2030, 1, 1))  # fmt: skip
    book(db_session, factories.office(db_session), person, 15)
    as_officer(client, db_session)
    form = client.get("/officer/persons?lang=en")
    found = submit(client, form.text, "/officer/persons", national_id=person.national_id)
    assert found.status_code == 200
    assert found.url.path == f"/officer/persons/{person.id}"
    assert all(person.national_id not in str(r.url) for r in [*found.history, found])
    assert "Марија Петровска" in found.text
    assert "Passport" in found.text
    assert "+38970111222" in found.text
    assert "Veles" in found.text  # where the person lives, by name
    assert "Booked" in found.text
    [lookup] = audited(db_session, "person.lookup")
    assert lookup.object_id == str(person.id)
    assert lookup.details == {"found": True}
    sections = {e.details["section"] for e in audited(db_session, "person.view")}
    assert {"person", "offers", "appointments", "conversation"} <= sections


def test_find__invalid_number_422_form_kept__unknown_number_404_audited(
    client: TestClient, db_session: Session
) -> None:
    as_officer(client, db_session)
    form = client.get("/officer/persons?lang=mk")
    bad = submit(client, form.text, "/officer/persons", national_id="123")
    assert bad.status_code == 422
    assert "точно 13 цифри" in bad.text
    assert 'value="123"' in bad.text
    assert 'aria-describedby="find-error"' in bad.text
    unknown = factories.national_id(date(1970, 1, 1))
    missing = submit(client, form.text, "/officer/persons", national_id=unknown)
    assert missing.status_code == 404
    assert unknown in missing.text
    [lookup] = audited(db_session, "person.lookup")
    assert lookup.details == {"found": False}


def test_find_by_name_and_birth_date__ignores_case__lists_matches(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, born=date(1990, 5, 17))
    factories.person(db_session, born=date(1991, 5, 17))  # same name, another birthday
    as_officer(client, db_session)
    form = client.get("/officer/persons?lang=sq")
    found = submit(client, form.text, "/officer/persons", given_name="марија",
                   family_name="ПЕТРОВСКА", birth_date="1990-05-17")  # fmt: skip
    assert found.status_code == 200
    assert re.findall(r'href="/officer/persons/([0-9a-f-]+)"', found.text) == [str(person.id)]
    assert "1 person u gjet" in found.text
    nobody = submit(client, form.text, "/officer/persons", given_name="Ана",
                    family_name="Петровска", birth_date="1990-05-17")  # fmt: skip
    assert nobody.status_code == 404
    bad = submit(client, form.text, "/officer/persons", given_name="Ана",
                 family_name="Петровска", birth_date="17.05.1990")  # fmt: skip
    assert bad.status_code == 422
    [first, second] = audited(db_session, "person.search")
    assert (first.details["found"], second.details["found"]) == (1, 0)


def test_person_page__unknown_id_404__audited(client: TestClient, db_session: Session) -> None:
    as_officer(client, db_session)
    missing = client.get("/officer/persons/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert len(audited(db_session, "person.view", "denied")) == 1


# --- Dashboard ------------------------------------------------------------------------------


def _delivery(
    session: Session, person: Person, *, channel: str, status: str, when: datetime
) -> None:
    message = Message(person_id=person.id, purpose="service", template="t", language="mk",
                      created_at=when, updated_at=when)  # fmt: skip
    session.add(message)
    session.flush()
    session.add(Delivery(message_id=message.id, channel=channel, address="a", lane="bulk",
                         status=status, created_at=when, updated_at=when))  # fmt: skip


def test_dashboard__supervisor_sees_figures_as_charts_and_tables(
    client: TestClient, db_session: Session
) -> None:
    rule = published_expiry_rule(db_session)
    office = factories.office(db_session, counters=2)
    theirs = factories.office(db_session, "MK-101", department_code="UMEV")
    person = factories.person(db_session)
    missed = book(db_session, office, person, 9)
    book(db_session, office, person, 11)
    actions.mark(db_session, get_settings(), as_officer_principal(db_session), missed, "no_show")
    _delivery(db_session, person, channel="sms", status="delivered", when=at(9))
    _delivery(
        db_session,
        person,
        channel="sms",
        status="delivered",
        when=at(9, day=DAY - timedelta(days=3)),
    )
    _delivery(db_session, person, channel="email", status="permanent-failure", when=at(8))
    offers = (("a", "pending", "passport"), ("b", "pending", "passport"),
              ("c", "completed", "passport"), ("d", "declined", "birth-certificate"))  # fmt: skip
    for period, status, service in offers:
        db_session.add(Offer(rule_id=rule.id, rule_code=rule.code, person_id=person.id,
                             recipient_id=person.id, period=period, service_code=service,
                             level="offer", status=status, fact_kind="person", as_of=DAY))  # fmt: skip
    db_session.commit()
    as_officer(client, db_session, roles=("supervisor",))
    page = client.get("/officer/dashboard?lang=en")
    assert page.status_code == 200, page.text
    assert page.text.count('src="data:image/png;base64,') == 4
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    # Mon 08–16, 15-minute slots: 32 a counter, 2 counters; the held new slot is tomorrow.
    assert f"{office.name} 2 64 3 %" in text
    assert f"{office.name} 1 1" in text  # no-shows today, this week
    assert "SMS Delivered 1 2" in text
    assert "E-mail Address does not work 1 1" in text
    assert "Not yet sent 2" in text
    assert "Completed 1" in text
    assert "Declined by the person 0" in text  # another department's service
    assert theirs.name not in text


def as_officer_principal(session: Session):  # noqa: ANN201
    from navreme.identity.actions import start_session
    from navreme.identity.queries import principal_for_session

    login = factories.officer(session)
    started = start_session(session, subject_kind="officer", subject_id=login.officer.id,
                            replaces=None)  # fmt: skip
    return principal_for_session(session, started.token, via="cookie")


def test_dashboard__officers_refused_403__audited(client: TestClient, db_session: Session) -> None:
    as_officer(client, db_session, roles=("officer",))
    refused = client.get("/officer/dashboard?lang=en")
    assert refused.status_code == 403
    assert "Only supervisors" in refused.text
    assert len(audited(db_session, "access.dashboard", "denied")) == 1
    assert 'href="/officer/dashboard"' not in refused.text
