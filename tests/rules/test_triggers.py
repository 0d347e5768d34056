"""Each trigger kind at its boundaries: the day that is in, the day after that is out."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from navreme.rules import actions
from navreme.rules.models import Offer, Rule
from tests import factories
from tests.rules import factories as rf

AS_OF = date(2026, 11, 22)


def run(session: Session, rule: Rule, as_of: date = AS_OF) -> list[Offer]:
    actions.run_rule(session, rule, as_of=as_of)
    session.flush()
    return rf.offers(session, rule)


# --- document expiry ---------------------------------------------------------------------


def test_document_expiry__expires_exactly_on_horizon_day__offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry", trigger={"horizons_days": [90]})
    person = factories.person(db_session)
    passport = rf.document(db_session, person, expires_on=AS_OF + timedelta(days=90))

    [offer] = run(db_session, rule)

    assert (offer.person_id, offer.recipient_id) == (person.id, person.id)
    assert (offer.fact_kind, offer.fact_id, offer.fact_date) == ("document", passport.id,
                                                                 passport.expires_on)  # fmt: skip
    assert offer.horizon_days == 90
    assert offer.period == f"passport:{passport.expires_on.isoformat()}"
    assert (offer.service_code, offer.level, offer.status) == ("passport", "offer", "pending")


def test_document_expiry__expires_one_day_after_horizon__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry", trigger={"horizons_days": [90]})
    rf.document(db_session, factories.person(db_session), expires_on=AS_OF + timedelta(days=91))

    assert run(db_session, rule) == []


@pytest.mark.parametrize(
    ("days_left", "horizon"),
    [(90, 90), (31, 90), (30, 30), (8, 30), (7, 7), (1, 7), (0, 7)],
)
def test_document_expiry__days_left__recorded_with_the_narrowest_horizon_reached(
    db_session: Session, days_left: int, horizon: int
) -> None:
    rule = rf.published_rule(db_session, "document_expiry", trigger={"horizons_days": [7, 90, 30]})
    rf.document(db_session, factories.person(db_session),
                expires_on=AS_OF + timedelta(days=days_left))  # fmt: skip

    [offer] = run(db_session, rule)

    assert offer.horizon_days == horizon


def test_document_expiry__same_document_on_later_horizons__offered_once(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    rf.document(db_session, factories.person(db_session), expires_on=AS_OF + timedelta(days=90))

    for days_later in (0, 1, 60, 83, 90):
        run(db_session, rule, AS_OF + timedelta(days=days_later))

    [offer] = rf.offers(db_session, rule)
    assert (offer.horizon_days, offer.as_of) == (90, AS_OF)


def test_document_expiry__newer_valid_document_of_same_kind__suppresses_offer(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    person = factories.person(db_session)
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=30))
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=3650), issued_on=AS_OF)

    assert run(db_session, rule) == []


def test_document_expiry__newer_document_of_other_kind__does_not_suppress(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    person = factories.person(db_session)
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=30))
    rf.document(db_session, person, kind="id_card", expires_on=AS_OF + timedelta(days=3650))

    assert len(run(db_session, rule)) == 1


def test_document_expiry__newer_document_revoked__does_not_suppress(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    person = factories.person(db_session)
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=30))
    rf.document(db_session, person, expires_on=AS_OF + timedelta(days=3650), status="revoked")

    assert len(run(db_session, rule)) == 1


def test_document_expiry__expired_within_grace__offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry", trigger={"grace_days": 10})
    rf.document(db_session, factories.person(db_session),
                expires_on=AS_OF - timedelta(days=10), status="expired")  # fmt: skip

    [offer] = run(db_session, rule)

    assert offer.fact_date == AS_OF - timedelta(days=10)


def test_document_expiry__expired_beyond_grace__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry", trigger={"grace_days": 10})
    rf.document(db_session, factories.person(db_session),
                expires_on=AS_OF - timedelta(days=11), status="expired")  # fmt: skip

    assert run(db_session, rule) == []


def test_document_expiry__expired_yesterday_without_grace__not_offered(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    rf.document(db_session, factories.person(db_session), expires_on=AS_OF - timedelta(days=1))

    assert run(db_session, rule) == []


@pytest.mark.parametrize("status", ["revoked", "lost", "replaced"])
def test_document_expiry__document_not_valid_or_expired__not_offered(
    db_session: Session, status: str
) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    rf.document(db_session, factories.person(db_session),
                expires_on=AS_OF + timedelta(days=30), status=status)  # fmt: skip

    assert run(db_session, rule) == []


def test_document_expiry__other_document_kind__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "document_expiry")
    rf.document(db_session, factories.person(db_session), kind="driving_licence",
                expires_on=AS_OF + timedelta(days=30))  # fmt: skip

    assert run(db_session, rule) == []


def test_document_expiry__expires_on_leap_day__offered_exactly_90_days_before(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "document_expiry", trigger={"horizons_days": [90]})
    rf.document(db_session, factories.person(db_session), expires_on=date(2028, 2, 29))

    assert run(db_session, rule, date(2027, 11, 30)) == []
    [offer] = run(db_session, rule, date(2027, 12, 1))

    assert (offer.period, offer.horizon_days) == ("passport:2028-02-29", 90)
    assert offer.fact_date == date(2028, 2, 29)


# --- mandated replacement ----------------------------------------------------------------

ISSUED_BEFORE = date(2019, 2, 12)
DEADLINE = date(2027, 6, 30)


def _id_card(session: Session, issued_on: date, **kwargs: object) -> None:
    person = kwargs.pop("person", None) or factories.person(session)
    rf.document(session, person, kind="id_card", issued_on=issued_on,  # type: ignore[arg-type]
                expires_on=issued_on + timedelta(days=3652), **kwargs)  # type: ignore[arg-type]  # fmt: skip


def test_mandated_replacement__issued_day_before_cutoff__offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "mandated_replacement")
    _id_card(db_session, ISSUED_BEFORE - timedelta(days=1))

    [offer] = run(db_session, rule)

    assert offer.period == "replace-2019-02-12:id_card"
    assert (offer.fact_kind, offer.fact_date, offer.horizon_days) == ("document", DEADLINE, None)


def test_mandated_replacement__issued_on_cutoff_day__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "mandated_replacement")
    _id_card(db_session, ISSUED_BEFORE)

    assert run(db_session, rule) == []


def test_mandated_replacement__replacement_issued_after_cutoff__not_offered(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "mandated_replacement")
    person = factories.person(db_session)
    _id_card(db_session, date(2015, 6, 1), person=person)
    _id_card(db_session, date(2021, 3, 4), person=person)

    assert run(db_session, rule) == []


def test_mandated_replacement__on_deadline_day__offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "mandated_replacement")
    _id_card(db_session, date(2015, 6, 1))

    assert len(run(db_session, rule, DEADLINE)) == 1


def test_mandated_replacement__after_deadline__nothing_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "mandated_replacement")
    _id_card(db_session, date(2015, 6, 1))

    assert run(db_session, rule, DEADLINE + timedelta(days=1)) == []


# --- life event --------------------------------------------------------------------------


@pytest.mark.parametrize("days_ago", [0, 1, 30])
def test_life_event__occurred_today_up_to_exactly_within_days_ago__offered(
    db_session: Session, days_ago: int
) -> None:
    rule = rf.published_rule(db_session, "life_event",
                             trigger={"event": "move", "within_days": 30})  # fmt: skip
    person = factories.person(db_session)
    event = rf.life_event(db_session, person, kind="move",
                          occurred_on=AS_OF - timedelta(days=days_ago))  # fmt: skip

    [offer] = run(db_session, rule)

    assert (offer.fact_kind, offer.fact_id, offer.fact_date) == ("life_event", event.id,
                                                                 event.occurred_on)  # fmt: skip
    assert offer.period == f"move:{event.occurred_on.isoformat()}"


def test_life_event__one_day_before_window__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "life_event",
                             trigger={"event": "move", "within_days": 30})  # fmt: skip
    rf.life_event(db_session, factories.person(db_session), kind="move",
                  occurred_on=AS_OF - timedelta(days=31))  # fmt: skip

    assert run(db_session, rule) == []


def test_life_event__recorded_for_a_future_date__not_offered_yet(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "life_event", trigger={"event": "move"})
    rf.life_event(db_session, factories.person(db_session), kind="move",
                  occurred_on=AS_OF + timedelta(days=1))  # fmt: skip

    assert run(db_session, rule) == []


def test_life_event__other_event_kind__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "life_event", trigger={"event": "birth"})
    rf.life_event(db_session, factories.person(db_session), kind="move", occurred_on=AS_OF)

    assert run(db_session, rule) == []


def test_life_event__birth__offer_goes_to_guardian_about_the_child(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "life_event", trigger={"event": "birth"})
    parent = factories.person(db_session, born=date(1992, 3, 3))
    child = factories.person(db_session, born=AS_OF - timedelta(days=5))
    rf.guardian(db_session, parent, child)
    rf.life_event(db_session, child, kind="birth", occurred_on=child.birth_date)

    [offer] = run(db_session, rule)

    assert (offer.person_id, offer.recipient_id) == (child.id, parent.id)


def test_life_event__two_guardians__offer_goes_to_one_stable_guardian(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "life_event", trigger={"event": "birth"})
    first, second = (factories.person(db_session, born=date(1990, 1, 1)) for _ in range(2))
    child = factories.person(db_session, born=AS_OF - timedelta(days=5))
    rf.guardian(db_session, first, child)
    rf.guardian(db_session, second, child)
    rf.life_event(db_session, child, kind="birth", occurred_on=child.birth_date)

    [offer] = run(db_session, rule)

    assert offer.person_id == child.id
    assert offer.recipient_id == min(first.id, second.id)


def test_life_event__minor_without_guardian__offer_goes_to_the_minor(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "life_event", trigger={"event": "birth"})
    child = factories.person(db_session, born=AS_OF - timedelta(days=5))
    rf.life_event(db_session, child, kind="birth", occurred_on=child.birth_date)

    [offer] = run(db_session, rule)

    assert offer.recipient_id == child.id


def test_life_event__guardians_for_minors_off__offer_goes_to_the_minor(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "life_event", trigger={"event": "birth"},
                             guardians_for_minors=False)  # fmt: skip
    parent = factories.person(db_session)
    child = factories.person(db_session, born=AS_OF - timedelta(days=5))
    rf.guardian(db_session, parent, child)
    rf.life_event(db_session, child, kind="birth", occurred_on=child.birth_date)

    [offer] = run(db_session, rule)

    assert offer.recipient_id == child.id


# --- age reached -------------------------------------------------------------------------


def test_age_reached__turns_18_exactly_on_last_day_of_window__offered(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "age_reached")
    person = factories.person(db_session, born=date(2008, 12, 22))  # 18 on AS_OF + 30

    [offer] = run(db_session, rule)

    assert (offer.person_id, offer.recipient_id) == (person.id, person.id)
    assert (offer.period, offer.fact_kind, offer.fact_date) == (
        "age:18",
        "person",
        person.birth_date,
    )


def test_age_reached__turns_18_one_day_after_window__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "age_reached")
    factories.person(db_session, born=date(2008, 12, 23))

    assert run(db_session, rule) == []


def test_age_reached__turned_18_exactly_grace_days_ago__offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "age_reached", trigger={"grace_days": 30})
    factories.person(db_session, born=date(2008, 10, 23))  # 18 on AS_OF - 30

    assert len(run(db_session, rule)) == 1


def test_age_reached__turned_18_one_day_before_grace__not_offered(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "age_reached", trigger={"grace_days": 30})
    factories.person(db_session, born=date(2008, 10, 22))  # 18 on AS_OF - 31

    assert run(db_session, rule) == []


def test_age_reached__still_17_on_as_of__offer_goes_to_the_guardian(
    db_session: Session,
) -> None:
    # Still 17 on as_of, so a minor: with guardians_for_minors the guardian receives it.
    rule = rf.published_rule(db_session, "age_reached")
    parent = factories.person(db_session, born=date(1980, 1, 1))
    teen = factories.person(db_session, born=date(2008, 12, 1))
    rf.guardian(db_session, parent, teen)

    [offer] = run(db_session, rule)

    assert (offer.person_id, offer.recipient_id) == (teen.id, parent.id)


def test_age_reached__born_29_february__not_yet_18_on_28_february(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "age_reached", trigger={"within_days": 0})
    factories.person(db_session, born=date(2008, 2, 29))

    assert run(db_session, rule, date(2026, 2, 28)) == []


def test_age_reached__born_29_february__reaches_18_on_1_march_in_common_year(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "age_reached", trigger={"within_days": 0})
    person = factories.person(db_session, born=date(2008, 2, 29))

    [offer] = run(db_session, rule, date(2026, 3, 1))

    assert offer.person_id == person.id


def test_age_reached__born_29_february__reached_on_first_grace_day__offered(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "age_reached",
                             trigger={"within_days": 0, "grace_days": 30})  # fmt: skip
    factories.person(db_session, born=date(2008, 2, 29))

    assert len(run(db_session, rule, date(2026, 3, 31))) == 1


def test_age_reached__grace_window_starts_on_leap_day__day_before_not_offered(
    db_session: Session,
) -> None:
    rule = rf.published_rule(db_session, "age_reached",
                             trigger={"within_days": 0, "grace_days": 30})  # fmt: skip
    factories.person(db_session, born=date(2010, 2, 28))

    assert run(db_session, rule, date(2028, 3, 30)) == []


# --- eligibility -------------------------------------------------------------------------


def _eligible(session: Session, **target: object) -> Rule:
    return rf.published_rule(session, "eligibility", target=target, guardians_for_minors=False)


@pytest.mark.parametrize(
    ("born", "offered"),
    [
        (date(2008, 11, 22), True),  # 18 today: min_age inclusive
        (date(2008, 11, 23), False),  # 18 tomorrow
        (date(1961, 11, 23), True),  # 64, 65 tomorrow: max_age inclusive
        (date(1960, 11, 23), True),  # 65, 66 tomorrow: still max_age
        (date(1960, 11, 22), False),  # 66 today: above max_age
    ],
)
def test_eligibility__age_bounds__both_inclusive_in_whole_years(
    db_session: Session, born: date, offered: bool
) -> None:
    rule = _eligible(db_session, min_age=18, max_age=65)
    factories.person(db_session, born=born)

    assert len(run(db_session, rule)) == int(offered)


@pytest.mark.parametrize(("residence", "offered_home", "offered_abroad"),
                         [("any", 1, 1), ("resident", 1, 0), ("abroad", 0, 1)])  # fmt: skip
def test_eligibility__residence__filters_resident_and_abroad(
    db_session: Session, residence: str, offered_home: int, offered_abroad: int
) -> None:
    rule = _eligible(db_session, residence=residence)
    home = factories.person(db_session)
    away = rf.move_abroad(db_session, factories.person(db_session))

    found = run(db_session, rule)

    assert sum(o.person_id == home.id for o in found) == offered_home
    assert sum(o.person_id == away.id for o in found) == offered_abroad


@pytest.mark.parametrize(
    ("child_born", "offered"),
    [
        (date(2008, 11, 23), True),  # 17, 18 tomorrow: under 18
        (date(2008, 11, 22), False),  # 18 today: no longer under 18
        (None, False),  # no child at all
    ],
)
def test_eligibility__has_child_under__child_age_strictly_below(
    db_session: Session, child_born: date | None, offered: bool
) -> None:
    rule = _eligible(db_session, has_child_under=18)
    parent = factories.person(db_session, born=date(1980, 4, 4))
    if child_born:
        rf.guardian(db_session, parent, factories.person(db_session, born=child_born))

    found = [o for o in run(db_session, rule) if o.person_id == parent.id]

    assert len(found) == int(offered)


@pytest.mark.parametrize(("size", "offered"), [(2, False), (3, True)])
def test_eligibility__household_min_size__counts_members_inclusive(
    db_session: Session, size: int, offered: bool
) -> None:
    rule = _eligible(db_session, household_min_size=3)
    members = [factories.person(db_session) for _ in range(size)]
    rf.household(db_session, *members)

    assert len(run(db_session, rule)) == (size if offered else 0)


def test_eligibility__yearly__new_offer_next_year_but_not_twice_in_one_year(
    db_session: Session,
) -> None:
    rule = _eligible(db_session)
    person = factories.person(db_session)

    for day in (date(2026, 1, 1), AS_OF, date(2026, 12, 31)):
        run(db_session, rule, day)
    assert [o.period for o in rf.offers(db_session, rule)] == ["eligible:2026"]

    run(db_session, rule, date(2027, 1, 1))
    run(db_session, rule, date(2027, 6, 1))

    found = rf.offers(db_session, rule, person=person)
    assert sorted(o.period for o in found) == ["eligible:2026", "eligible:2027"]


def test_eligibility__monthly__one_offer_per_month(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "eligibility", trigger={"period": "monthly"})
    factories.person(db_session)

    for day in (date(2026, 10, 31), AS_OF, date(2026, 11, 30), date(2026, 12, 1)):
        run(db_session, rule, day)

    assert sorted(o.period for o in rf.offers(db_session, rule)) == [
        "eligible:2026-10", "eligible:2026-11", "eligible:2026-12",
    ]  # fmt: skip


def test_eligibility__once__never_again(db_session: Session) -> None:
    rule = rf.published_rule(db_session, "eligibility", trigger={"period": "once"})
    factories.person(db_session)

    for day in (AS_OF, date(2027, 11, 22), date(2030, 1, 1)):
        run(db_session, rule, day)

    assert [o.period for o in rf.offers(db_session, rule)] == ["eligible:once"]
