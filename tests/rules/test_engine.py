"""The engine around the triggers: who is never offered, opt-outs, prerequisites, runs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from navreme.identity.principal import Principal
from navreme.rules import actions
from navreme.rules.models import Offer, ProactiveOptOut, Rule
from tests import factories
from tests.rules import factories as rf

AS_OF = date(2026, 11, 22)


def run(session: Session, rule: Rule, as_of: date = AS_OF) -> list[Offer]:
    actions.run_rule(session, rule, as_of=as_of)
    session.flush()
    return rf.offers(session, rule)


def _decline(session: Session, person_id: object, service: str) -> int:
    citizen = Principal(kind="citizen", id=person_id)  # type: ignore[arg-type]
    declined = actions.decline_proactive(
        session,
        person_id=person_id,
        service_code=service,
        actor=citizen,  # type: ignore[arg-type]
    )
    session.flush()
    return declined


# --- the deceased ------------------------------------------------------------------------


def _fact_for(session: Session, kind: str, person: object) -> None:
    if kind == "document_expiry":
        rf.document(session, person, expires_on=AS_OF + timedelta(days=20))  # type: ignore[arg-type]
    elif kind == "mandated_replacement":
        rf.document(session, person, kind="id_card", issued_on=date(2015, 1, 1),  # type: ignore[arg-type]
                    expires_on=date(2029, 1, 1))  # fmt: skip
    elif kind == "life_event":
        rf.life_event(session, person, kind="birth", occurred_on=AS_OF - timedelta(days=3))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(rf.TRIGGERS))
@pytest.mark.parametrize(("died_days_before", "offered"), [(0, False), (400, False), (None, True)])
def test_every_trigger__deceased_person__never_offered(
    db_session: Session,
    request: pytest.FixtureRequest,
    kind: str,
    died_days_before: int | None,
    offered: bool,
) -> None:
    rule = rf.published_rule(db_session, kind)
    born = date(2008, 12, 10) if kind == "age_reached" else date(1980, 6, 1)
    person = factories.person(db_session, born=born)
    _fact_for(db_session, kind, person)
    if died_days_before is not None:
        person.death_date = AS_OF - timedelta(days=died_days_before)
        db_session.flush()

    assert len(run(db_session, rule)) == int(offered)


# --- opt-out -----------------------------------------------------------------------------


def test_opt_out__declined_proactive__no_new_offers(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")  # passport
    person, other = factories.person(db_session), factories.person(db_session)
    for who in (person, other):
        rf.document(db_session, who, expires_on=AS_OF + timedelta(days=30))

    _decline(db_session, person.id, "passport")
    run(db_session, rule)
    run(db_session, rule, AS_OF + timedelta(days=25))

    assert rf.offers(db_session, rule, person=person) == []
    assert len(rf.offers(db_session, rule, person=other)) == 1


def test_opt_out__eligibility_rule__no_new_offers(
    db_session: Session, request: pytest.FixtureRequest
) -> None:
    rule = rf.published_rule(db_session, "eligibility")  # child-benefit, yearly
    person, other = factories.person(db_session), factories.person(db_session)

    _decline(db_session, person.id, "child-benefit")
    run(db_session, rule)
    run(db_session, rule, date(2027, 1, 1))

    assert rf.offers(db_session, rule, person=person) == []
    assert len(rf.offers(db_session, rule, person=other)) == 2


def test_opt_out__open_offer__declined_and_not_made_again(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    person = factories.person(db_session)
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=60))
    [offer] = run(db_session, rule)

    assert _decline(db_session, person.id, "passport") == 1
    run(db_session, rule, AS_OF + timedelta(days=40))

    [again] = rf.offers(db_session, rule)
    assert (again.id, again.status) == (offer.id, "declined")


def test_opt_out__other_service__still_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    person = factories.person(db_session)
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=30))

    _decline(db_session, person.id, "id-card")

    assert len(run(db_session, rule)) == 1


def test_opt_out__declined_twice__one_opt_out_row(db_session: Session) -> None:
    person = factories.person(db_session)
    rf.catalogue(db_session)

    _decline(db_session, person.id, "passport")
    _decline(db_session, person.id, "passport")

    rows = db_session.scalars(select(ProactiveOptOut).where(ProactiveOptOut.person_id == person.id))
    assert len(list(rows)) == 1


# --- prerequisites -----------------------------------------------------------------------


def _id_and_passport_rules(session: Session) -> tuple[Rule, Rule]:
    id_rule = rf.published_rule(session, "document_expiry", service="id-card",
                                trigger={"document": "id_card", "horizons_days": [90]})  # fmt: skip
    passport_rule = rf.published_rule(session, "document_expiry", prerequisites=["id-card"])
    return id_rule, passport_rule


def test_prerequisites__passport_offer__waits_on_same_persons_open_id_card_offer(
    db_session: Session,
) -> None:
    id_rule, passport_rule = _id_and_passport_rules(db_session)
    person, neighbour = factories.person(db_session), factories.person(db_session)
    for who in (person, neighbour):
        rf.document(db_session, who, kind="id_card", expires_on=AS_OF + timedelta(days=50))
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=60))

    run(db_session, id_rule)
    [id_offer] = rf.offers(db_session, id_rule, person=person)
    [passport_offer] = run(db_session, passport_rule)

    assert passport_offer.person_id == person.id
    assert passport_offer.waits_on_offer_id == id_offer.id


def test_prerequisites__no_open_id_card_offer__waits_on_nothing(db_session: Session) -> None:
    _, passport_rule = _id_and_passport_rules(db_session)
    person = factories.person(db_session)
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=60))

    [passport_offer] = run(db_session, passport_rule)

    assert passport_offer.waits_on_offer_id is None


def test_prerequisites__id_card_offer_completed__waits_on_nothing(db_session: Session) -> None:
    id_rule, passport_rule = _id_and_passport_rules(db_session)
    person = factories.person(db_session)
    rf.document(db_session, person, kind="id_card", expires_on=AS_OF + timedelta(days=50))
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=60))
    [id_offer] = run(db_session, id_rule)
    id_offer.status = "completed"
    db_session.flush()

    [passport_offer] = run(db_session, passport_rule)

    assert passport_offer.waits_on_offer_id is None


def test_prerequisites__rerun__existing_link_kept(db_session: Session) -> None:
    id_rule, passport_rule = _id_and_passport_rules(db_session)
    person = factories.person(db_session)
    rf.document(db_session, person, kind="id_card", expires_on=AS_OF + timedelta(days=50))
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=60))
    [id_offer] = run(db_session, id_rule)
    run(db_session, passport_rule)

    [passport_offer] = run(db_session, passport_rule, AS_OF + timedelta(days=1))

    assert passport_offer.waits_on_offer_id == id_offer.id


# --- runs and versions -------------------------------------------------------------------


def test_run_rule__records_matched__rerun_makes_no_second_offer(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    for _ in range(3):
        rf.document(db_session, factories.person(db_session), expires_on=AS_OF)

    first = actions.run_rule(db_session, rule, as_of=AS_OF, trigger="manual")
    second = actions.run_rule(db_session, rule, as_of=AS_OF, trigger="manual")

    assert (first.matched, second.matched) == (3, 3)
    assert (first.trigger, first.as_of, first.rule_id) == ("manual", AS_OF, rule.id)
    assert first.finished_at is not None
    assert len(rf.offers(db_session, rule)) == 3
    assert {o.run_id for o in rf.offers(db_session, rule)} == {first.id}


def test_run_rule__created__counts_only_new_offers(
    db_session: Session, request: pytest.FixtureRequest, backend: str
) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    for _ in range(3):
        rf.document(db_session, factories.person(db_session), expires_on=AS_OF)

    first = actions.run_rule(db_session, rule, as_of=AS_OF)
    rf.document(db_session, factories.person(db_session), expires_on=AS_OF)
    second = actions.run_rule(db_session, rule, as_of=AS_OF)

    assert (first.matched, first.created) == (3, 3)
    assert (second.matched, second.created) == (4, 1)


def test_run_rule__two_matches_for_one_period__matched_twice_offered_once(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "mandated_replacement")  # id cards issued before 2019
    person = factories.person(db_session)
    for issued in (date(2012, 5, 1), date(2016, 3, 1)):
        rf.document(db_session, person, kind="id_card", issued_on=issued,
                    expires_on=issued + timedelta(days=3650))  # fmt: skip

    run = actions.run_rule(db_session, rule, as_of=AS_OF)

    assert (run.matched, run.created) == (2, 1)
    assert len(rf.offers(db_session, rule)) == 1


def test_run_rule__on_postgresql__rule_statements_run_without_jit(
    db_session: Session, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("JIT compilation is PostgreSQL's")
    rule = rf.published_rule(db_session, "eligibility")

    actions.run_rule(db_session, rule, as_of=AS_OF)

    assert db_session.scalar(text("SHOW jit")) == "off"


def test_run_rule__draft_version__refused(db_session: Session) -> None:
    rf.catalogue(db_session)
    draft = actions.create_rule_version(db_session, rf.definition("document_expiry"), actor=None)

    with pytest.raises(actions.RuleNotPublished):
        actions.run_rule(db_session, draft, as_of=AS_OF)


def test_publish__new_version__retires_old_and_keeps_offers_once(db_session: Session) -> None:
    first = rf.published_rule(db_session, "document_expiry")
    rf.document(db_session, factories.person(db_session), expires_on=AS_OF)
    run(db_session, first)

    data = rf.definition("document_expiry", code=first.code)
    second = actions.create_rule_version(db_session, data, actor=None)
    actions.publish_rule(db_session, second, actor=None)
    db_session.flush()
    db_session.refresh(first)
    runs = actions.run_published(db_session, as_of=AS_OF)

    assert (first.status, second.version) == ("retired", 2)
    assert [r.rule_id for r in runs] == [second.id]
    assert len(rf.offers(db_session, first.code)) == 1


def test_days_to_catch_up__never_ran__only_today(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")

    assert actions.days_to_catch_up(db_session, rule, until=AS_OF) == [AS_OF]


def test_days_to_catch_up__ran_today__nothing(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    actions.run_rule(db_session, rule, as_of=AS_OF)

    assert actions.days_to_catch_up(db_session, rule, until=AS_OF) == []


def test_days_to_catch_up__long_downtime__at_most_a_month_back(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    actions.run_rule(db_session, rule, as_of=AS_OF - timedelta(days=100))

    days = actions.days_to_catch_up(db_session, rule, until=AS_OF)

    assert days[0] == AS_OF - timedelta(days=actions.CATCH_UP_LIMIT_DAYS)
    assert days[-1] == AS_OF
    assert len(days) == actions.CATCH_UP_LIMIT_DAYS + 1


# --- the deceased around a living person (bugs documented, see the reasons) ---------------


def test_guardian_deceased__offer_goes_to_the_living_guardian(
    db_session: Session, request: pytest.FixtureRequest
) -> None:
    rule = rf.published_rule(db_session, "life_event", trigger={"event": "birth"})
    first, second = (factories.person(db_session, born=date(1990, 1, 1)) for _ in range(2))
    dead, living = sorted((first, second), key=lambda p: p.id)
    dead.death_date = AS_OF - timedelta(days=2)
    child = factories.person(db_session, born=AS_OF - timedelta(days=5))
    rf.guardian(db_session, dead, child)
    rf.guardian(db_session, living, child)
    rf.life_event(db_session, child, kind="birth", occurred_on=child.birth_date)

    [offer] = run(db_session, rule)

    assert offer.recipient_id == living.id


def test_has_child_under__only_child_deceased__not_eligible(
    db_session: Session, request: pytest.FixtureRequest
) -> None:
    rule = rf.published_rule(db_session, "eligibility", target={"has_child_under": 18},
                             guardians_for_minors=False)  # fmt: skip
    parent = factories.person(db_session, born=date(1985, 1, 1))
    child = factories.person(db_session, born=date(2021, 6, 1))
    child.death_date = date(2026, 1, 10)
    rf.guardian(db_session, parent, child)

    run(db_session, rule)

    assert rf.offers(db_session, rule, person=parent) == []


def test_household_min_size__deceased_member__not_counted(
    db_session: Session, request: pytest.FixtureRequest
) -> None:
    rule = rf.published_rule(db_session, "eligibility", target={"household_min_size": 3},
                             guardians_for_minors=False)  # fmt: skip
    members = [factories.person(db_session) for _ in range(3)]
    members[0].death_date = date(2025, 5, 5)
    rf.household(db_session, *members)

    assert run(db_session, rule) == []
