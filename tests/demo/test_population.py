"""The seeded population looks like the census and keeps the registry's rules (20,000 people,
shared per module; see conftest.py)."""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date

from sqlalchemy import func, select

from navreme.db import session_scope
from navreme.demo import census
from navreme.demo.documents import MINOR_PASSPORT_YEARS
from navreme.demo.persons import birthday
from navreme.demo.rows import add_years
from navreme.registry import embg
from navreme.registry.models import (
    ConsentEvent,
    ContactEndpoint,
    Document,
    GuardianLink,
    LifeEvent,
    Person,
)
from tests.demo.conftest import AS_OF, PEOPLE, Population


def _age(born: date) -> int:
    return AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))


def _people(population: Population) -> list[Person]:
    with session_scope(population.settings) as session:
        return list(session.scalars(select(Person)))


def test_seed__report_counts_match_the_tables(population: Population) -> None:
    report = population.report
    with session_scope(population.settings) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == PEOPLE
        assert (
            session.scalar(select(func.count()).select_from(Document)) == report.rows["documents"]
        )
        households = session.scalar(select(func.count(func.distinct(Person.household_id))))
    assert report.persons == PEOPLE
    assert households == report.households


def test_national_ids__valid_embg_matching_birth_date_and_sex(population: Population) -> None:
    people = _people(population)
    for person in people:
        parsed = embg.parse(person.national_id)
        assert parsed.birth_date == person.birth_date
        assert parsed.sex == person.sex
        assert 41 <= parsed.region <= 49
    assert len({p.national_id for p in people}) == len(people)


def test_national_ids__region_follows_municipality(population: Population) -> None:
    expected = {"MK-609": 47, "MK-501": 41, "MK-703": 42, "MK-310": 43, "MK-814": 45}
    for person in _people(population):
        if person.municipality_code in expected:
            assert embg.parse(person.national_id).region == expected[person.municipality_code]


def test_people__age_sex_and_abroad_shares_match_the_census(population: Population) -> None:
    people = _people(population)
    ages = [_age(p.birth_date) for p in people]
    assert abs(sum(ages) / len(ages) - census.MEAN_AGE) < 1.0
    assert abs(sum(a < 30 for a in ages) / len(ages) - census.SHARE_AGED_0_29) < 0.02
    assert abs(sum(a >= 60 for a in ages) / len(ages) - census.SHARE_AGED_60_PLUS) < 0.02
    assert abs(sum(p.sex == "F" for p in people) / len(people) - census.FEMALE_SHARE) < 0.015
    abroad = [p for p in people if p.abroad_country]
    assert abs(len(abroad) / len(people) - census.ABROAD_SHARE) < 0.005
    assert all(p.municipality_code is None for p in abroad)
    assert all(p.municipality_code for p in people if not p.abroad_country)


def test_people__languages_follow_municipalities_and_diaspora(population: Population) -> None:
    people = _people(population)
    shares = Counter(p.language for p in people)
    assert abs(shares["mk"] / len(people) - 0.70) < 0.04
    assert abs(shares["sq"] / len(people) - 0.25) < 0.04
    assert 0.02 < shares["en"] / len(people) < 0.08
    tetovo = [p.language for p in people if p.municipality_code == "MK-609"]
    bitola = [p.language for p in people if p.municipality_code == "MK-501"]
    assert tetovo.count("sq") > len(tetovo) / 2
    assert bitola.count("mk") > 0.8 * len(bitola)
    english = [p for p in people if p.language == "en"]
    assert sum(p.abroad_country is not None for p in english) > 0.7 * len(english)


def test_people__names_fit_language_and_sex(population: Population) -> None:
    cyrillic = re.compile(r"^[\u0400-\u04FF -]+$")
    for person in _people(population):
        if person.language == "mk":
            assert cyrillic.match(person.given_name)
            assert cyrillic.match(person.family_name)
        else:
            assert person.given_name.isascii() or person.language == "sq"
            assert not cyrillic.match(person.family_name)
        if person.language != "sq" and person.family_name.endswith(("ски", "ski")):
            assert person.sex == "M"


def test_households__mean_size_near_census_and_one_place_each(population: Population) -> None:
    members: dict[uuid.UUID, list[Person]] = defaultdict(list)
    for person in _people(population):
        members[person.household_id].append(person)  # type: ignore[index]
    assert abs(PEOPLE / len(members) - census.MEAN_HOUSEHOLD_SIZE) < 0.15
    for household in members.values():
        assert len({(p.municipality_code, p.abroad_country) for p in household}) == 1


def test_minors__each_has_a_parent_in_the_same_household(population: Population) -> None:
    with session_scope(population.settings) as session:
        people = {p.id: p for p in session.scalars(select(Person))}
        links = list(session.scalars(select(GuardianLink)))
    guardians: dict[uuid.UUID, list[Person]] = defaultdict(list)
    for link in links:
        assert link.kind == "parent"
        guardians[link.ward_id].append(people[link.guardian_id])
    minors = [p for p in people.values() if _age(p.birth_date) < 18]
    assert minors
    for minor in minors:
        assert any(g.household_id == minor.household_id for g in guardians[minor.id]), minor.id
        assert all(_age(g.birth_date) >= 18 for g in guardians[minor.id])


def test_documents__validity_rules_and_expiry_status(population: Population) -> None:
    with session_scope(population.settings) as session:
        rows = session.execute(select(Document, Person.birth_date).join(Person)).all()
    kinds: Counter[str] = Counter()
    for document, born in rows:
        kinds[document.kind] += 1
        years = 10
        if document.kind == "passport" and document.issued_on < birthday(born, 18):
            years = MINOR_PASSPORT_YEARS
        assert document.expires_on == add_years(document.issued_on, years), document.number
        assert born <= document.issued_on <= AS_OF
        assert document.status == ("expired" if document.expires_on < AS_OF else "valid")
    assert {kind for kind in kinds} == {"id_card", "passport", "driving_licence"}
    expired = sum(document.status == "expired" for document, _ in rows)
    assert 0.02 < expired / len(rows) < 0.2
    assert re.match(r"^[AMD]\d{7}$", rows[0][0].number)


def test_documents__every_adult_has_an_id_card_and_minor_passports_last_5_years(
    population: Population,
) -> None:
    with session_scope(population.settings) as session:
        people = {p.id: p for p in session.scalars(select(Person))}
        documents = list(session.scalars(select(Document)))
    with_card = {d.person_id for d in documents if d.kind == "id_card"}
    adults = [p for p in people.values() if _age(p.birth_date) >= 18]
    assert all(p.id in with_card for p in adults)
    minor_passports = [
        d for d in documents
        if d.kind == "passport" and d.issued_on < birthday(people[d.person_id].birth_date, 18)
    ]  # fmt: skip
    assert minor_passports
    assert all(d.expires_on == add_years(d.issued_on, 5) for d in minor_passports)


def test_endpoints__phones_by_residence_mostly_verified(population: Population) -> None:
    with session_scope(population.settings) as session:
        rows = session.execute(select(ContactEndpoint, Person.abroad_country).join(Person)).all()
    sms = [(e, abroad) for e, abroad in rows if e.channel == "sms"]
    assert all(re.match(r"^\+3897\d{7}$", e.address) for e, abroad in sms if abroad is None)
    assert all(not e.address.startswith("+389") for e, abroad in sms if abroad)
    assert len({e.address for e, _ in sms}) == len(sms)
    verified = [e.verified_at for e, _ in rows if e.verified_at]
    assert abs(len(verified) / len(rows) - 0.85) < 0.03
    assert all(v.tzinfo is not None and v.date() < AS_OF for v in verified)
    channels = Counter(e.channel for e, _ in rows)
    assert {"sms", "email", "viber", "whatsapp"} <= set(channels)


def test_endpoints__about_half_of_adults_have_email(population: Population) -> None:
    with session_scope(population.settings) as session:
        adults = {
            p.id for p in session.scalars(select(Person)) if _age(p.birth_date) >= 18
        }  # fmt: skip
        emails = set(session.scalars(select(ContactEndpoint.person_id).where(
            ContactEndpoint.channel == "email")))  # fmt: skip
    assert 0.45 < len(adults & emails) / len(adults) < 0.65


def test_consents__seeded_grants_and_refusals_for_most_adults(population: Population) -> None:
    with session_scope(population.settings) as session:
        events = list(session.scalars(select(ConsentEvent)))
    assert all(e.source == "seed" and e.actor == "seed" for e in events)
    latest: dict[tuple[uuid.UUID, str], ConsentEvent] = {}
    for event in sorted(events, key=lambda e: e.recorded_at):
        latest[(event.person_id, event.purpose)] = event
    offers = [e for (_, purpose), e in latest.items() if purpose == "proactive_offers"]
    assert sum(e.granted for e in offers) > 0.8 * len(offers)
    assert any(not e.granted for e in offers)
    assert any(e.channel != "any" for e in offers)
    assert all(e.recorded_at.tzinfo == UTC for e in events)


def test_life_events__births_and_turning_18_are_recent(population: Population) -> None:
    with session_scope(population.settings) as session:
        rows = session.execute(select(LifeEvent, Person.birth_date).join(Person)).all()
        births = list(session.scalars(select(Person.birth_date)))
    newborns = sum((AS_OF - born).days < 365 for born in births)
    kinds = Counter(event.kind for event, _ in rows)
    assert kinds["turned_18"]
    assert kinds["move"]
    for event, born in rows:
        if event.kind == "birth":
            assert event.occurred_on == born
            assert (AS_OF - born).days < 365
        if event.kind == "turned_18":
            assert event.occurred_on == birthday(born, 18)
            assert 0 <= (AS_OF - event.occurred_on).days < 30
    assert kinds["birth"] == newborns > 0


def test_people__read_back_through_the_orm_with_proper_types(population: Population) -> None:
    people = _people(population)
    person = people[0]
    assert isinstance(person.id, uuid.UUID)
    assert isinstance(person.household_id, uuid.UUID)
    assert person.created_at.tzinfo == UTC
    assert person.created_at.date() <= AS_OF
    assert isinstance(person.birth_date, date)
    assert all(isinstance(p.accessibility, list) for p in people)


def test_people__accessibility_needs_for_a_few_more_often_when_old(population: Population) -> None:
    people = _people(population)
    young = [p for p in people if _age(p.birth_date) < 60]
    old = [p for p in people if _age(p.birth_date) >= 75]
    share_young = sum(bool(p.accessibility) for p in young) / len(young)
    share_old = sum(bool(p.accessibility) for p in old) / len(old)
    assert 0.005 < share_young < 0.05 < share_old
    needs = Counter(need for p in people for need in p.accessibility)
    assert needs.most_common(1)[0][0] == "large_print"
