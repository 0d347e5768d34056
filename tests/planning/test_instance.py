"""Building a wave instance from the database for the ID-card replacement rule (both backends)."""

from __future__ import annotations

import tomllib
from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from navreme.planning import instance as campaign
from navreme.planning import waves
from navreme.registry.models import LifeEvent, Person
from navreme.rules.loader import DEFINITIONS_DIR
from navreme.rules.schemas import RuleDefinition
from tests import factories

START = date(2023, 5, 2)
HOLIDAYS = {date(2023, 5, 24), date(2023, 8, 2)}


def id_card_rule() -> RuleDefinition:
    text = (DEFINITIONS_DIR / "name-change-id-card-2024.toml").read_text(encoding="utf-8")
    return RuleDefinition.model_validate(tomllib.loads(text))


def abroad(session: Session, *, came_from: str | None) -> Person:
    person = factories.person(session)
    person.municipality_code, person.abroad_country = None, "DE"
    session.flush()
    if came_from:
        session.add(LifeEvent(person_id=person.id, kind="move", occurred_on=date(2020, 3, 1),
                              details={"from": came_from, "to": {"abroad_country": "DE"}}))  # fmt: skip
        session.flush()
    return person


def seed_country(session: Session) -> dict[str, Person]:
    factories.municipality(session)  # MK-101 Veles
    factories.place(session, "MK-104", latitude=41.43, longitude=22.01, name="Kavadarci")
    factories.place(session, "MK-814", latitude=42.0, longitude=21.43, name="Centar")
    factories.office(session, "MK-101", counters=1)
    factories.office(session, "MK-104", counters=2)
    people = {
        "expired": factories.person(session), "valid": factories.person(session),
        "abroad_known": abroad(session, came_from="MK-104"),
        "abroad_unknown": abroad(session, came_from=None), "new_card": factories.person(session),
    }  # fmt: skip
    people["valid"].municipality_code = "MK-104"
    session.flush()
    for key, issued, expires in (("expired", date(2013, 3, 1), date(2023, 3, 1)),
                                 ("valid", date(2018, 6, 1), date(2028, 6, 1)),
                                 ("abroad_known", date(2016, 1, 1), date(2026, 1, 1)),
                                 ("abroad_unknown", date(2014, 1, 1), date(2024, 1, 1)),
                                 ("new_card", date(2020, 1, 1), date(2030, 1, 1))):  # fmt: skip
        factories.document(session, people[key], issued=issued, expires=expires)
    return people


def test_build_instance__id_card_rule__targets_candidates_windows_weights(
    db_session: Session,
) -> None:
    people = seed_country(db_session)
    built = campaign.build_instance(
        db_session, definition=id_card_rule(), start=START, holidays=HOLIDAYS,
        capacity=campaign.counters_times(10), no_show_buffer=0.1, depth=2,
    )  # fmt: skip
    inst = built.instance
    row = {person_id: i for i, person_id in enumerate(built.person_ids)}
    assert set(row) == {
        people[k].id for k in ("expired", "valid", "abroad_known", "abroad_unknown")
    }
    veles, kavadarci = (built.offices.municipality.index(m) for m in ("MK-101", "MK-104"))
    assert (
        inst.capacity[:, 0].tolist() == [9, 18][:: 1 if veles == 0 else -1]
    )  # 1 and 2 counters × 10 × 0.9
    assert not np.isin(inst.days, np.array(sorted(HOLIDAYS), dtype="datetime64[D]")).any()
    assert np.is_busday(inst.days).all()
    assert inst.days[-1] == np.datetime64("2024-02-12")
    expired, valid = row[people["expired"].id], row[people["valid"].id]
    assert inst.candidates[expired].tolist() == [veles, kavadarci]
    assert inst.distance_km[expired, 0] == 0.0
    assert inst.distance_km[expired, 1] > 20
    assert inst.weight[expired] > inst.weight[valid]
    known, unknown = row[people["abroad_known"].id], row[people["abroad_unknown"].id]
    assert inst.candidates[known].tolist() == [kavadarci, -1]
    assert inst.candidates[unknown].tolist() == [
        veles,
        -1,
    ]  # nearest to the capital: no office there
    july = inst.days[inst.earliest[known]]
    assert july == np.datetime64("2023-07-03")
    assert inst.days[inst.latest[known]] == np.datetime64("2023-08-31")
    assert inst.earliest[expired] == 0
    assert inst.latest[expired] == len(inst.days) - 1
    plan = waves.plan_waves(inst)
    assert (plan.reason == waves.PLANNED).all()
    assert plan.day[expired] == 0
    assert plan.office[expired] == veles
