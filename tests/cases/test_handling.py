"""Handling a case, through the actions: the whole journey, every refusal, and the citizen told
of each public step in their language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.cases import actions, calendar, handling, queries
from navreme.cases.models import Case, CaseEvent, CaseTask
from navreme.catalogue.actions import load_demo_catalogue
from navreme.identity.principal import Principal
from navreme.messaging.models import ConversationItem, Message
from navreme.registry.models import ConsentEvent, Person
from tests import factories

SYSTEM = Principal(kind="system")  # type: ignore[arg-type]
MONDAY_10 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Skopje


@pytest.fixture
def world(db_session: Session) -> Session:
    load_demo_catalogue(db_session)
    actions.load_categories(db_session)
    factories.municipality(db_session)
    db_session.commit()
    return db_session


def officer(session: Session, code: str, *roles: str) -> Principal:
    department = factories.department(session, code)
    return Principal(kind="officer", id=uuid.uuid4(), department_id=department.id,
                     roles=frozenset(roles or ("officer",)))  # fmt: skip


def citizen(session: Session, language: str = "sq") -> tuple[Person, Principal]:
    person = factories.person(
        session, language=language, phone=f"+3897{uuid.uuid4().int % 10**7:07d}"
    )
    session.add(ConsentEvent(person_id=person.id, purpose="case_updates", channel="any",
                             granted=True, source="test", actor="test"))  # fmt: skip
    with clock.frozen(MONDAY_10 - timedelta(days=7)):  # given before the frozen Monday, whatever
        session.flush()  # the real time of day (after 09:00 UTC on that date it was "later")
    return person, Principal(kind="citizen", id=person.id)


def new_case(session: Session, person: Person | None = None, **overrides: object) -> Case:
    values: dict[str, object] = {
        "text": "Контејнерот на нашата улица не е празнет две недели.", "channel": "web",
        "category_code": "waste", "municipality_code": "MK-101",
        "person_id": person.id if person else None,
    }  # fmt: skip
    values.update(overrides)
    return actions.receive(session, actions.Submission(**values), actor=SYSTEM).case  # type: ignore[arg-type]


def told(session: Session, case: Case) -> list[tuple[str, str]]:
    messages = session.scalars(
        select(Message).where(Message.subject_id == case.id).order_by(Message.created_at)
    )
    return [(m.template, m.language) for m in messages]


def kinds(session: Session, case: Case) -> list[str]:
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
    return sorted(e.kind for e in events)


def test_journey__receive_to_rating__each_public_step_told_in_the_citizens_language(
    world: Session,
) -> None:
    person, me = citizen(world, "sq")
    opst = officer(world, "OPST")
    mvr = officer(world, "MVR")
    supervisor = officer(world, "OPST", "officer", "supervisor")
    with clock.frozen(MONDAY_10):
        case = new_case(world, person)
        handling.accept(world, case, actor=opst)
        task = handling.add_task(world, case, actor=opst, department_id=mvr.department_id,
                                 title="Check the parked cars blocking the truck", due_days=2)  # fmt: skip
        assert case.status == "in_progress"
        # the task's department now sees the case, and completes its part
        assert queries.get_case_for(world, mvr, case.id) is case
        with pytest.raises(handling.NotAllowed):
            handling.resolve(world, case, actor=mvr, resolution="not theirs to say")
        with pytest.raises(handling.WrongStatus, match="Sub-tasks"):
            handling.resolve(world, case, actor=opst, resolution="Emptied.")
        handling.complete_task(world, case, task, actor=mvr, note="Cars moved.")
        handling.add_note(world, case, actor=opst, text="Truck comes Tuesday.", public=True)
        handling.add_note(world, case, actor=opst, text="Driver was ill.", public=False)
        handling.resolve(world, case, actor=opst, resolution="The container was emptied.")
        with pytest.raises(handling.NotAllowed):
            handling.review(world, case, actor=opst, approve=True)
        handling.review(world, case, actor=supervisor, approve=True)
        handling.rate(world, case, actor=me, rating=4, comment="Fast enough.")
    assert task.status == "done"
    assert task.due_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 2 working days
    assert case.status == "closed"
    assert case.rating == 4
    assert case.reopen_until == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10 working days
    assert told(world, case) == [
        ("case_received", "sq"), ("case_accepted", "sq"), ("case_note", "sq"),
        ("case_resolved", "sq"), ("case_closed", "sq"),
    ]  # fmt: skip
    closing = world.scalars(select(Message).where(Message.template == "case_closed")).one()
    assert closing.context["link"] == f"/me/cases/{case.reference}"
    assert kinds(world, case) == sorted([
        "received", "classified", "routed", "accepted", "task_added", "task_done", "note",
        "note", "resolved", "reviewed", "closed", "rated",
    ])  # fmt: skip
    audited = world.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(case.id)))
    assert {"case.accepted", "case.resolved", "case.closed", "case.rated"} <= set(audited)


def test_closed_message_asks_for_a_rating_in_every_language(world: Session) -> None:
    from navreme.messaging import templates

    context = {"reference": "NV-ABCD2345", "category": "", "department": "", "note": "",
               "link": "/me/cases/NV-ABCD2345"}  # fmt: skip
    for language, ask in (("mk", "1–5"), ("sq", "1–5"), ("en", "Reply with a number 1–5")):
        text = templates.render("case_closed", channel="sms", language=language, context=context)
        assert ask in text.text
        assert "/me/cases/NV-ABCD2345" in text.text


def test_reject__needs_a_reason__the_citizen_is_told_it(world: Session) -> None:
    person, _ = citizen(world, "en")
    opst = officer(world, "OPST")
    case = new_case(world, person)
    with pytest.raises(handling.HandlingError, match="reason"):
        handling.reject(world, case, actor=opst, reason="  ")
    handling.reject(world, case, actor=opst, reason="This is the state road agency's.")
    assert case.status == "rejected"
    rejected = world.scalars(select(Message).where(Message.template == "case_rejected")).one()
    assert rejected.context["note"] == "This is the state road agency's."
    assert rejected.language == "en"
    with pytest.raises(handling.WrongStatus):
        handling.accept(world, case, actor=opst)


def test_transfer__the_case_and_its_visibility_move__accept_clock_restarts(world: Session) -> None:
    person, _ = citizen(world, "mk")
    opst, mvr = officer(world, "OPST"), officer(world, "MVR")
    with clock.frozen(MONDAY_10):
        case = new_case(world, person)
        resolve_due = case.resolve_due_at
    with clock.frozen(MONDAY_10 + timedelta(hours=3)):
        handling.accept(world, case, actor=opst)
        with pytest.raises(handling.HandlingError, match="note"):
            handling.transfer(world, case, actor=opst, department_id=mvr.department_id, note="")
        handling.transfer(world, case, actor=opst, department_id=mvr.department_id,
                          note="Parked cars: police matter.")  # fmt: skip
    assert case.status == "new"
    assert case.department_id == mvr.department_id
    assert case.accept_due_at == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 8h from 13:00
    assert case.resolve_due_at == resolve_due
    assert queries.get_case_for(world, opst, case.id) is None
    assert queries.get_case_for(world, mvr, case.id) is case
    with pytest.raises(handling.NotAllowed):
        handling.accept(world, case, actor=opst)
    handling.accept(world, case, actor=mvr)
    assert ("case_transferred", "mk") in told(world, case)


def test_classify_from_triage__routing_by_data_or_a_department_directly(world: Session) -> None:
    supervisor = officer(world, "OPST", "officer", "supervisor")
    plain = officer(world, "OPST")
    with clock.frozen(MONDAY_10):
        case = new_case(world, category_code="other")
    assert case.status == "triage"
    with pytest.raises(handling.NotAllowed):
        handling.classify(world, case, actor=plain, category_code="waste")
    with pytest.raises(handling.HandlingError, match="No department"):
        handling.classify(world, case, actor=supervisor, category_code="other")
    with clock.frozen(MONDAY_10 + timedelta(days=1)):
        handling.classify(world, case, actor=supervisor, category_code="waste")
    assert case.status == "new"
    assert case.department_id == factories.department(world, "OPST").id
    assert case.classified_by == "officer"
    # waste's policy, counted from receipt: the day in triage counts against the department
    assert case.accept_due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    other = new_case(world, category_code="other")
    mvr = factories.department(world, "MVR")
    handling.classify(world, other, actor=supervisor, department_id=mvr.id)
    assert other.department_id == mvr.id


def test_reopen__inside_the_window_back_to_accepted__after_it_refused(world: Session) -> None:
    person, me = citizen(world, "mk")
    opst = officer(world, "OPST")
    supervisor = officer(world, "OPST", "officer", "supervisor")
    stranger = Principal(kind="citizen", id=uuid.uuid4())
    with clock.frozen(MONDAY_10):
        case = new_case(world, person)
        handling.accept(world, case, actor=opst)
        handling.resolve(world, case, actor=opst, resolution="Emptied.")
        handling.review(world, case, actor=supervisor, approve=True)
        handling.rate(world, case, actor=me, rating=1)
        with pytest.raises(handling.WrongStatus, match="already rated"):
            handling.rate(world, case, actor=me, rating=5)
    until = case.reopen_until
    assert until is not None
    with clock.frozen(until - timedelta(minutes=1)):
        with pytest.raises(handling.NotAllowed):
            handling.reopen(world, case, actor=stranger, reason="not mine")
        handling.reopen(world, case, actor=me, reason="It is full again the next day.")
        assert case.status == "accepted"
        assert case.rating is None
        # a fresh resolve window: waste's 5 working days from the re-opening
        assert case.resolve_due_at == calendar.add_working_days(
            until - timedelta(minutes=1), 5, zone="Europe/Skopje", country="MK"
        )
        handling.resolve(world, case, actor=opst, resolution="Emptied twice a week now.")
        handling.review(world, case, actor=supervisor, approve=True)
    late = case.reopen_until
    assert late is not None
    with clock.frozen(late + timedelta(seconds=1)), pytest.raises(handling.WrongStatus):
        handling.reopen(world, case, actor=me, reason="again")
    assert ("case_reopened", "mk") in told(world, case)


def test_review__sent_back__in_progress_with_a_note(world: Session) -> None:
    opst = officer(world, "OPST")
    supervisor = officer(world, "OPST", "officer", "supervisor")
    case = new_case(world)
    handling.accept(world, case, actor=opst)
    handling.resolve(world, case, actor=opst, resolution="Done.")
    with pytest.raises(handling.HandlingError, match="note"):
        handling.review(world, case, actor=supervisor, approve=False)
    handling.review(world, case, actor=supervisor, approve=False, note="Attach the photo.")
    assert case.status == "in_progress"
    assert case.resolved_at is None


def test_merge__same_person__events_and_tasks_move_survivor_keeps_both_texts(
    world: Session,
) -> None:
    person, _ = citizen(world, "mk")
    opst, mvr = officer(world, "OPST"), officer(world, "MVR")
    survivor = new_case(world, person, text="Контејнерот е полн.")
    duplicate = new_case(world, person, text="Пак за контејнерот: смрди.")
    handling.accept(world, duplicate, actor=opst)
    task = handling.add_task(world, duplicate, actor=opst, department_id=mvr.department_id,
                             title="Inspect", due_days=1)  # fmt: skip
    other_person, _ = citizen(world, "mk")
    foreign = new_case(world, other_person)
    with pytest.raises(handling.HandlingError, match="same person"):
        handling.merge(world, foreign, into=survivor, actor=opst)
    handling.merge(world, duplicate, into=survivor, actor=opst)
    world.expire_all()
    assert duplicate.status == "merged"
    assert duplicate.merged_into_id == survivor.id
    assert "Контејнерот е полн." in survivor.text
    assert "Пак за контејнерот: смрди." in survivor.text
    assert world.get_one(CaseTask, task.id).case_id == survivor.id
    assert "accepted" in kinds(world, survivor)
    assert kinds(world, duplicate) == ["merged"]
    with pytest.raises(handling.WrongStatus):
        handling.merge(world, duplicate, into=survivor, actor=opst)


def test_wrong_transitions_refused_nothing_written(world: Session) -> None:
    person, me = citizen(world, "mk")
    opst = officer(world, "OPST")
    case = new_case(world, person)
    for step in (
        lambda: handling.resolve(world, case, actor=opst, resolution="x"),
        lambda: handling.add_task(world, case, actor=opst, department_id=opst.department_id,
                                  title="x", due_days=1),
        lambda: handling.reopen(world, case, actor=me, reason="x"),
        lambda: handling.rate(world, case, actor=me, rating=5),
    ):  # fmt: skip
        with pytest.raises(handling.WrongStatus):
            step()
    with pytest.raises(handling.NotAllowed):
        handling.accept(world, case, actor=me)
    editor = officer(world, "OPST", "catalogue_editor")
    with pytest.raises(handling.NotAllowed):
        handling.accept(world, case, actor=editor)
    assert kinds(world, case) == ["classified", "received", "routed"]


def test_anonymous_contact_told_on_its_address__nobody_to_tell_nothing(world: Session) -> None:
    opst = officer(world, "OPST")
    reachable = new_case(world, contact_channel="email", contact_address="a@example.org")
    silent = new_case(world)
    handling.accept(world, reachable, actor=opst)
    handling.accept(world, silent, actor=opst)
    assert [t for t, _ in told(world, reachable)] == ["case_received", "case_accepted"]
    assert told(world, silent) == []
    first = world.scalars(select(Message).where(Message.subject_id == reachable.id)).first()
    assert first is not None
    assert first.ladder[0] == ["email", "a@example.org"]


def test_person_without_consent_to_case_updates__no_message_no_outreach(world: Session) -> None:
    person = factories.person(world, phone="+38970999888")
    case = new_case(world, person)
    handling.accept(world, case, actor=officer(world, "OPST"))
    assert told(world, case) == []
    assert world.scalars(select(ConversationItem)).all() == []
