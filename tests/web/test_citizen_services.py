"""Citizen pages end to end, the way a browser without JavaScript uses them: "My services"
(documents, offers with their reasons, the plan, appointments), declining proactive handling,
booking from an offer for one or several people, confirming, moving and cancelling."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.config import get_settings
from navreme.identity.principal import Principal
from navreme.registry.models import Person
from navreme.rules.models import Offer, ProactiveOptOut
from navreme.scheduling import actions
from navreme.scheduling.models import Appointment, AppointmentItem, SlotClaim
from navreme.scheduling.queries import VisitItem
from tests import factories
from tests.rules.factories import guardian
from tests.rules_support import published_expiry_rule
from tests.scheduling.support import Setup, at, next_working_day, setup
from tests.web.support import as_citizen, csrf, submit


def _offer(session: Session, person: Person, *, expires_in: int = 40) -> Offer:
    """A passport offer to `person` about their passport expiring in `expires_in` days."""
    rule = published_expiry_rule(session)
    factories.document(session, person, kind="id_card", issued=date(2024, 1, 2),
                       expires=clock.today() + timedelta(days=3000))  # fmt: skip
    passport = factories.document(
        session, person, kind="passport", issued=date(2016, 1, 4),
        expires=clock.today() + timedelta(days=expires_in),
    )  # fmt: skip
    offer = Offer(
        rule_id=rule.id, rule_code=rule.code, person_id=person.id, recipient_id=person.id,
        period="test-passport", service_code="passport", level="offer", status="notified",
        fact_kind="document", fact_id=passport.id, fact_date=passport.expires_on,
        as_of=clock.today(),
    )  # fmt: skip
    session.add(offer)
    session.commit()
    return offer


def _slots(html: str) -> list[str]:
    return re.findall(r'name="slot" id="[^"]+" value="([^"]+)"', html)


def _booked(s: Setup, session: Session, person: Person | None = None, *, hold: bool = False,
            hour: int = 9) -> Appointment:  # fmt: skip
    who = person or s.citizen
    principal = Principal(kind="citizen", id=who.id)
    made = actions.make_appointment(
        session, get_settings(), principal, office=s.office,
        starts_at=at(next_working_day(skip=1), hour), items=[VisitItem(who.id, "id-card")],
        hold_for=timedelta(minutes=30) if hold else None,
    )  # fmt: skip
    session.commit()
    return made


def _status(session: Session, appointment: Appointment) -> str:
    session.expire_all()
    return session.get_one(Appointment, appointment.id).status


# --- My services --------------------------------------------------------------------------------


def test_my_services__documents_offer_reason_plan_and_appointments__in_english_and_macedonian(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    _offer(db_session, s.citizen, expires_in=40)
    booked = _booked(s, db_session)
    as_citizen(client, db_session, s.citizen)

    page = client.get("/me?lang=en")
    assert page.status_code == 200
    html = page.text
    assert "Passport" in html
    assert "Expires in 40 days" in html
    assert "Law on Travel Documents" in html  # the legal basis
    assert "Offer: you confirm" in html
    assert "We told you" in html
    assert "valid until" in html
    assert "Checked on" in html
    assert "Decline proactive handling" in html
    assert re.search(r'href="/me/appointments/new\?offer=[0-9a-f-]{36}"', html)
    assert "Visit 1" in html  # the plan: the passport needs one visit
    assert f'href="/me/appointments/{booked.id}"' in html  # upcoming appointment

    mk = client.get("/me?lang=mk").text
    assert "Истекува за 40 дена" in mk
    assert "Одбиј проактивно постапување" in mk
    assert "Посета 1" in mk


def test_my_services__expired_document_said_in_words(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session)
    factories.document(db_session, person, kind="passport", issued=date(2014, 1, 1),
                       expires=clock.today() - timedelta(days=3))  # fmt: skip
    db_session.commit()
    as_citizen(client, db_session, person)
    html = client.get("/me?lang=sq").text
    assert "I skaduar" in html
    assert "3 ditë më parë" in html


def test_decline__declines_the_offer_records_opt_out_and_audits(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    offer = _offer(db_session, s.citizen)
    as_citizen(client, db_session, s.citizen)
    home = client.get("/me?lang=en").text
    done = submit(client, home, f"/me/offers/{offer.id}/decline")
    assert done.url.path == "/me"
    assert "We will not handle this service" in done.text
    db_session.expire_all()
    assert db_session.get_one(Offer, offer.id).status == "declined"
    assert db_session.scalar(select(ProactiveOptOut.service_code)) == "passport"
    actions_logged = db_session.scalars(select(AuditEntry.action)).all()
    assert "offer.decline_proactive" in actions_logged


def test_decline__without_csrf__403_and_nothing_changes(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    offer = _offer(db_session, s.citizen)
    as_citizen(client, db_session, s.citizen)
    refused = client.post(f"/me/offers/{offer.id}/decline", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    db_session.expire_all()
    assert db_session.get_one(Offer, offer.id).status == "notified"
    assert db_session.scalar(select(func.count()).select_from(ProactiveOptOut)) == 0


def test_decline__another_persons_offer__404(client: TestClient, db_session: Session) -> None:
    s = setup(db_session)
    offer = _offer(db_session, s.citizen)
    stranger = factories.person(db_session)
    as_citizen(client, db_session, stranger)
    home = client.get("/me").text
    assert submit(client, home, f"/me/offers/{offer.id}/decline").status_code == 404
    assert client.get(f"/me/appointments/new?offer={offer.id}").status_code == 404
    db_session.expire_all()
    assert db_session.get_one(Offer, offer.id).status == "notified"


# --- booking ------------------------------------------------------------------------------------


def test_book_from_offer__choose_a_slot__booked_and_offer_accepted__in_albanian(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    offer = _offer(db_session, s.citizen)
    as_citizen(client, db_session, s.citizen)
    home = client.get("/me?lang=sq").text
    book_url = re.search(r'href="(/me/appointments/new\?offer=[^"]+)"', home).group(1)  # type: ignore[union-attr]
    page = client.get(book_url)
    assert page.status_code == 200
    assert "Zgjidhni një orar" in page.text
    slot = _slots(page.text)[0]
    done = submit(client, page.text, "/me/appointments", service="passport",
                  offer=str(offer.id), person=str(s.citizen.id), slot=slot)  # fmt: skip
    assert done.status_code == 200
    assert re.fullmatch(r"/me/appointments/[0-9a-f-]{36}", done.url.path)
    assert "Takimi juaj u rezervua." in done.text
    made = db_session.scalars(select(Appointment)).one()
    assert made.status == "booked"
    assert made.office_id == s.office.id
    item = db_session.scalars(select(AppointmentItem)).one()
    assert (item.person_id, item.service_code, item.offer_id) == (
        s.citizen.id,
        "passport",
        offer.id,
    )
    db_session.expire_all()
    assert db_session.get_one(Offer, offer.id).status == "accepted"


def test_book__family_visit__one_appointment_for_parent_and_child(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    child = factories.person(db_session, born=clock.today().replace(year=clock.today().year - 9))
    guardian(db_session, s.citizen, child)
    db_session.commit()
    as_citizen(client, db_session, s.citizen)
    first = client.get("/me/appointments/new?service=passport&lang=en").text
    assert 'type="checkbox" name="person"' in first
    assert "(you)" in first
    both = client.get(
        f"/me/appointments/new?service=passport&who=1&person={s.citizen.id}&person={child.id}"
    ).text
    assert "One visit for 2 people" in both
    slot = _slots(both)[0]
    response = client.post(
        "/me/appointments",
        data={"csrf_token": csrf(both), "service": "passport", "slot": slot,
              "person": [str(s.citizen.id), str(child.id)]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    made = db_session.scalars(select(Appointment)).one()
    items = db_session.scalars(select(AppointmentItem)).all()
    assert {i.person_id for i in items} == {s.citizen.id, child.id}
    assert made.ends_at - made.starts_at == timedelta(minutes=30)  # two passports, 15 min each
    # The child's booking shows on the parent's list.
    listing = client.get("/me/appointments?lang=en").text
    assert f"/me/appointments/{made.id}" in listing
    assert child.given_name in listing


def test_book__no_slot_or_nobody_chosen_or_unknown_service__422_nothing_booked(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    as_citizen(client, db_session, s.citizen)
    page = client.get("/me/appointments/new?service=passport&lang=en").text
    no_slot = submit(client, page, "/me/appointments", service="passport",
                     person=str(s.citizen.id))  # fmt: skip
    assert no_slot.status_code == 422
    assert "Please choose one of the free times." in no_slot.text
    assert 'role="alert"' in no_slot.text
    nobody = submit(client, page, "/me/appointments", service="passport",
                    slot=_slots(page)[0])  # fmt: skip
    assert nobody.status_code == 422
    assert "at least one person" in nobody.text
    unknown = client.get("/me/appointments/new?service=no-such-thing&lang=en")
    assert unknown.status_code == 422
    assert "Please choose a service" in unknown.text
    assert db_session.scalar(select(func.count()).select_from(Appointment)) == 0


def test_book__without_csrf__403_and_nothing_booked(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    as_citizen(client, db_session, s.citizen)
    page = client.get("/me/appointments/new?service=passport").text
    refused = client.post("/me/appointments", data={
        "csrf_token": "forged", "service": "passport", "person": str(s.citizen.id),
        "slot": _slots(page)[0]})  # fmt: skip
    assert refused.status_code == 403
    assert db_session.scalar(select(func.count()).select_from(Appointment)) == 0


def test_book__slot_taken_meanwhile__409_with_fresh_slots_and_nothing_half_written(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    as_citizen(client, db_session, s.citizen)
    page = client.get("/me/appointments/new?service=id-card&lang=en").text
    slot = _slots(page)[0]
    other = factories.person(db_session)
    code, _, moment = slot.partition("|")
    from datetime import datetime

    actions.make_appointment(
        db_session, get_settings(), Principal(kind="citizen", id=other.id), office=s.office,
        starts_at=datetime.fromisoformat(moment), items=[VisitItem(other.id, "id-card")],
    )  # fmt: skip
    db_session.commit()
    lost = submit(client, page, "/me/appointments", service="id-card",
                  person=str(s.citizen.id), slot=slot)  # fmt: skip
    assert lost.status_code == 409
    assert "Someone else just took that time" in lost.text
    assert slot not in _slots(lost.text)
    assert _slots(lost.text)
    assert db_session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_book__show_later_free_times_pages_by_date(client: TestClient, db_session: Session) -> None:
    s = setup(db_session)
    as_citizen(client, db_session, s.citizen)
    first = client.get("/me/appointments/new?service=id-card&lang=en").text
    later = re.search(r'href="(/me/appointments/new\?[^"]*from=(\d{4}-\d{2}-\d{2}))"', first)
    assert later, "no link to later free times"
    page = client.get(later.group(1).replace("&amp;", "&")).text
    from_day = date.fromisoformat(later.group(2))
    starts = [clock.local(_start(v)).date() for v in _slots(page)]
    assert starts
    assert min(starts) >= from_day
    assert set(_slots(first)).isdisjoint(_slots(page))


def _start(value: str):  # noqa: ANN202
    from datetime import datetime

    return datetime.fromisoformat(value.partition("|")[2])


# --- one appointment ----------------------------------------------------------------------------


def test_held_appointment__confirm__booked(client: TestClient, db_session: Session) -> None:
    s = setup(db_session)
    held = _booked(s, db_session, hold=True)
    as_citizen(client, db_session, s.citizen)
    page = client.get(f"/me/appointments/{held.id}?lang=en").text
    assert "Held for you" in page
    assert "Confirm this appointment" in page
    done = submit(client, page, f"/me/appointments/{held.id}/confirm")
    assert done.url.path == f"/me/appointments/{held.id}"
    assert "Your appointment is confirmed." in done.text
    assert _status(db_session, held) == "booked"


def test_held_appointment__lapsed__409_said_plainly_with_a_way_to_book_again(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    held = _booked(s, db_session, hold=True)
    as_citizen(client, db_session, s.citizen)
    page = client.get(f"/me/appointments/{held.id}?lang=en").text
    past = clock.now() - timedelta(minutes=1)
    db_session.execute(update(Appointment).where(Appointment.id == held.id).values(held_until=past))
    db_session.execute(update(SlotClaim).where(SlotClaim.appointment_id == held.id)
                       .values(held_until=past))  # fmt: skip
    db_session.commit()
    lapsed = submit(client, page, f"/me/appointments/{held.id}/confirm")
    assert lapsed.status_code == 409
    assert "has lapsed" in lapsed.text
    assert "Book a new time" in lapsed.text
    assert _status(db_session, held) == "expired"


def test_move__to_a_shown_free_time__same_appointment_new_time(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    booked = _booked(s, db_session)
    as_citizen(client, db_session, s.citizen)
    page = client.get(f"/me/appointments/{booked.id}?lang=mk").text
    assert "Премести во избраниот термин" in page
    target, sequence = _slots(page)[-1], booked.sequence
    moved = submit(client, page, f"/me/appointments/{booked.id}/move", slot=target)
    assert moved.url.path == f"/me/appointments/{booked.id}"
    db_session.expire_all()
    after = db_session.get_one(Appointment, booked.id)
    assert after.starts_at == _start(target)
    assert after.sequence == sequence + 1


def test_move__slot_taken_meanwhile__409_old_time_kept(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session, counters=1)
    booked = _booked(s, db_session)
    as_citizen(client, db_session, s.citizen)
    page = client.get(f"/me/appointments/{booked.id}?lang=en").text
    target = _slots(page)[0]
    other = factories.person(db_session)
    actions.make_appointment(
        db_session, get_settings(), Principal(kind="citizen", id=other.id), office=s.office,
        starts_at=_start(target), items=[VisitItem(other.id, "id-card")],
    )  # fmt: skip
    db_session.commit()
    lost = submit(client, page, f"/me/appointments/{booked.id}/move", slot=target)
    assert lost.status_code == 409
    assert "Someone else just took that time" in lost.text
    assert target not in _slots(lost.text)
    db_session.expire_all()
    assert db_session.get_one(Appointment, booked.id).starts_at == booked.starts_at


def test_cancel__confirmation_step_then_cancelled(client: TestClient, db_session: Session) -> None:
    s = setup(db_session)
    booked = _booked(s, db_session)
    as_citizen(client, db_session, s.citizen)
    detail = client.get(f"/me/appointments/{booked.id}?lang=en").text
    assert f'href="/me/appointments/{booked.id}/cancel"' in detail
    ask = client.get(f"/me/appointments/{booked.id}/cancel?lang=en").text
    assert "Yes, cancel the appointment" in ask
    assert _status(db_session, booked) == "booked"  # asking changes nothing
    done = submit(client, ask, f"/me/appointments/{booked.id}/cancel")
    assert done.url.path == "/me/appointments"
    assert "Your appointment is cancelled." in done.text
    assert _status(db_session, booked) == "cancelled"


def test_cancel__without_csrf__403_and_still_booked(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    booked = _booked(s, db_session)
    as_citizen(client, db_session, s.citizen)
    for what in ("cancel", "confirm", "move"):
        refused = client.post(f"/me/appointments/{booked.id}/{what}", data={"csrf_token": "x"})
        assert refused.status_code == 403, what
    assert _status(db_session, booked) == "booked"


def test_another_persons_appointment__404_everywhere_and_audited(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    booked = _booked(s, db_session)
    stranger = factories.person(db_session)
    as_citizen(client, db_session, stranger)
    token = csrf(client.get("/me").text)
    for path in ("", "/cancel", "/invite.ics"):
        assert client.get(f"/me/appointments/{booked.id}{path}").status_code == 404, path
    for what in ("cancel", "confirm", "move"):
        refused = client.post(f"/me/appointments/{booked.id}/{what}", data={"csrf_token": token})
        assert refused.status_code == 404, what
    assert client.get("/me/appointments/not-a-uuid").status_code == 404
    assert _status(db_session, booked) == "booked"
    denied = db_session.scalars(
        select(AuditEntry).where(AuditEntry.outcome == "denied", AuditEntry.actor_id == stranger.id)
    ).all()
    assert {e.object_id for e in denied} == {str(booked.id), "not-a-uuid"}
    assert f"/me/appointments/{booked.id}" not in client.get("/me/appointments").text


def test_invite__an_icalendar_file_for_the_appointment(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    booked = _booked(s, db_session)
    as_citizen(client, db_session, s.citizen)
    ics = client.get(f"/me/appointments/{booked.id}/invite.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in ics.text
    assert f"{booked.id}@navreme" in ics.text


def test_plan__hold_a_time_for_every_visit__then_confirm_from_my_services(
    client: TestClient, db_session: Session
) -> None:
    s = setup(db_session)
    _offer(db_session, s.citizen)
    as_citizen(client, db_session, s.citizen)
    home = client.get("/me?lang=en").text
    assert "No time held yet." in home
    held = submit(client, home, "/me/plan/hold")
    assert held.url.path == "/me"
    assert "Confirm or change visit 1" in held.text
    made = db_session.scalars(select(Appointment)).one()
    assert made.status == "held"


def test_signed_out__sent_to_sign_in(client: TestClient, db_session: Session) -> None:
    for path in ("/me/appointments", "/me/appointments/new?service=passport"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login/citizen"
