"""One seeded citizen, ward, officer and supervisor with everything the pages show.

Built through the same actions the product uses (rules run, appointments made, consents
changed), so the browser tests, the screenshots and the page benchmark look at real rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.cases import actions
from navreme.cases.models import Case
from navreme.config import get_settings
from navreme.identity.principal import Principal
from navreme.messaging.conversations import add_item, person_conversation
from navreme.messaging.models import ConversationItem
from navreme.registry.actions import change_consent
from navreme.registry.models import ContactEndpoint, GuardianLink, Person
from navreme.registry.schemas import ConsentChange
from navreme.rules.actions import run_rule
from navreme.rules.models import Offer
from navreme.scheduling.actions import make_appointment
from navreme.scheduling.models import Appointment, Office
from navreme.scheduling.queries import VisitItem
from tests import factories
from tests.rules_support import published_expiry_rule
from tests.scheduling.support import at, next_working_day


@dataclass
class World:
    citizen: Person
    ward: Person
    stranger: Person  # another citizen: their things are foreign to `citizen`
    officer: factories.OfficerLogin
    supervisor: factories.OfficerLogin
    office: Office
    offer: Offer
    held: Appointment
    booked: Appointment
    foreign: Appointment  # the stranger's
    question: ConversationItem  # the citizen's, waiting for an officer
    case: Case  # the citizen's request, routed to the officer's department

    def ids(self) -> dict[str, str]:
        """Path parameters by their usual names, for pages that take one."""
        return {
            "person_id": str(self.citizen.id), "ward_id": str(self.ward.id),
            "appointment_id": str(self.held.id), "offer_id": str(self.offer.id),
            "office_code": self.office.code, "service": self.offer.service_code,
            "reference": self.case.reference, "case_id": str(self.case.id),
        }  # fmt: skip


def _person(
    session: Session, name: tuple[str, str], *, born: date, phone: str, language: str = "mk"
) -> Person:
    row = factories.person(session, born=born, phone=phone, language=language)
    row.given_name, row.family_name = name
    session.flush()
    return row


def _contacts_and_consents(session: Session, citizen: Person) -> None:
    session.add(
        ContactEndpoint(person_id=citizen.id, channel="email", address="marija@example.org",
                        preference=2, verified_at=clock.now())
    )  # fmt: skip
    herself = Principal(kind="citizen", id=citizen.id)
    for purpose, granted in (("proactive_offers", True), ("reminders", True), ("surveys", False)):
        change = ConsentChange(purpose=purpose, channel="any", granted=granted)
        change_consent(session, person=citizen, change=change, actor=herself, source="web")


def _conversation(session: Session, citizen: Person) -> ConversationItem:
    conversation = person_conversation(session, citizen.id)
    add_item(session, conversation, direction="out", channel="sms",
             text="Your passport expires soon. We have held a slot for you.")  # fmt: skip
    return add_item(session, conversation, direction="in", channel="sms",
                    text="Can I come in the afternoon instead?", needs_officer=True)  # fmt: skip


def _appointments(
    session: Session, office: Office, citizen: Person, stranger: Person, offer: Offer
) -> tuple[Appointment, Appointment, Appointment]:
    settings, day = get_settings(), next_working_day(skip=1)
    offered = VisitItem(citizen.id, offer.service_code, offer_id=offer.id)
    held = make_appointment(session, settings, None, office=office, starts_at=at(day, 9),
                            items=[offered], hold_for=timedelta(days=3))  # fmt: skip
    booked = make_appointment(session, settings, None, office=office, starts_at=at(day, 11),
                              items=[VisitItem(citizen.id, "id-card")])  # fmt: skip
    foreign = make_appointment(session, settings, None, office=office, starts_at=at(day, 12),
                               items=[VisitItem(stranger.id, "id-card")])  # fmt: skip
    return held, booked, foreign


def _office(session: Session) -> Office:
    """Veles' MVR office: the demo country's own when it is seeded (the page benchmark)."""
    found = session.scalar(select(Office).where(Office.code == "MVR-MK-101"))
    return found or factories.office(session)


def build_world(session: Session) -> World:
    """Seed the world into a migrated database (empty, or holding the demo country); commit."""
    today = clock.today()
    rule = published_expiry_rule(session)  # also loads the demo catalogue
    office = _office(session)
    citizen = _person(session, ("Марија", "Петровска"), born=date(1988, 3, 14),
                      phone="+38970111222")  # fmt: skip
    stranger = _person(session, ("Arben", "Xhaferi"), born=date(1979, 9, 2),
                       phone="+38970333444", language="sq")  # fmt: skip
    ward = _person(session, ("Ана", "Петровска"), born=today.replace(year=today.year - 9),
                   phone="+38970555666")  # fmt: skip
    session.add(GuardianLink(guardian_id=citizen.id, ward_id=ward.id, kind="parent"))
    factories.document(session, citizen, kind="passport", issued=today - timedelta(days=3600),
                       expires=today + timedelta(days=60))  # fmt: skip
    factories.document(session, citizen, kind="id_card", issued=today - timedelta(days=1000),
                       expires=today + timedelta(days=2600))  # fmt: skip
    factories.document(session, ward, kind="passport", issued=today - timedelta(days=400),
                       expires=today + timedelta(days=1400))  # fmt: skip
    run_rule(session, rule, as_of=today)
    mine = select(Offer).where(Offer.person_id == citizen.id, Offer.rule_code == rule.code)
    offer = session.scalars(mine).one()
    _contacts_and_consents(session, citizen)
    question = _conversation(session, citizen)
    held, booked, foreign = _appointments(session, office, citizen, stranger, offer)
    officer = factories.officer(session, username="officer.browser", roles=("officer",))
    supervisor = factories.officer(
        session, username="supervisor.browser", roles=("officer", "supervisor")
    )
    case = _cases(session, citizen)
    session.commit()
    return World(citizen, ward, stranger, officer, supervisor, office, offer, held, booked,
                 foreign, question, case)  # fmt: skip


def _cases(session: Session, citizen: Person) -> Case:
    """A request of the citizen's for the officer's department, and one waiting in triage."""
    actions.load_categories(session)
    asked = Principal(kind="citizen", id=citizen.id)
    mine = actions.receive(session, actions.Submission(
        text="Го закажав терминот за пасош, но не добив потврда. Дали е закажан?",
        channel="web", person_id=citizen.id, category_code="identity-documents",
        municipality_code="MK-101", idempotency_key="browser-world-1",
    ), actor=asked).case  # fmt: skip
    actions.receive(session, actions.Submission(
        text="Someone left furniture on the pavement outside number 12.", channel="web",
        person_id=citizen.id, category_code="other", idempotency_key="browser-world-2",
    ), actor=asked)  # fmt: skip
    return mine


def new_id() -> str:
    """An id that names nothing: for 'not found' pages."""
    return str(uuid.uuid4())
