"""Campaign fan-out: the SQL selection agrees with the per-person ladder, rows and queue are right."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.db import is_postgres
from navreme.messaging import actions, campaign, choices
from navreme.messaging.models import Delivery, Message
from navreme.registry.models import Person
from tests.messaging.conftest import queued_ids
from tests.messaging.helpers import citizen, give

NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
CHANNELS = ("telegram", "sms", "email", "matrix", "viber")
CONTEXT = {"service_name": "Лична карта", "reason_text": "Сите лични карти се менуваат.",
           "reason": "законот бара замена на личните карти"}  # fmt: skip


def test_the_sql_selection_gives_every_person_the_ladder_send_would(db_session: Session) -> None:
    rng = random.Random(7)
    with clock.frozen(NOON - timedelta(days=1)):
        people = []
        for n in range(150):
            channels = tuple(rng.sample(CHANNELS, rng.randint(1, 4)))
            consent = {c: rng.random() < 0.6 for c in channels if rng.random() < 0.7}
            person = citizen(
                db_session, channels=channels, consent={}, born=date(1950, 1, 1) + timedelta(days=n)
            )
            events = [*consent.items()] + (
                [("any", rng.random() < 0.5)] if rng.random() < 0.4 else []
            )
            rng.shuffle(events)
            for offset, (channel, granted) in enumerate(events):
                give(db_session, person.id, channel, granted, at_offset=offset)
            people.append(person)
        dead = citizen(db_session, channels=("sms",), born=date(1930, 1, 1))
        dead.death_date = date(2026, 1, 1)
        db_session.commit()
    with clock.frozen(NOON):
        expected = {
            p.id: choices.ladder_for(db_session, actions.channels(), p.id, "proactive_offers", NOON)
            for p in people
        }
        report = campaign.fan_out(db_session, template="offer_inform", purpose="proactive_offers",
                                  context=CONTEXT, created_by="test")  # fmt: skip
        assert queued_ids() == []
        db_session.commit()
    wanted = {pid: ladder for pid, ladder in expected.items() if ladder}
    assert report.selected_persons == report.messages == len(wanted)
    assert report.variants <= 5  # one rendering per language × channel × format, not per person
    got = {m.person_id: [step for step in m.ladder if step[0] != "outreach"]
           for m in db_session.scalars(select(Message))}  # fmt: skip
    assert got == wanted
    assert dead.id not in got
    firsts = db_session.execute(select(Delivery.channel, Message.ladder).join(Message)).all()
    assert all(channel == ladder[0][0] for channel, ladder in firsts)
    assert sorted(queued_ids()) == sorted(str(i) for i in db_session.scalars(select(Delivery.id)))
    bodies = set(db_session.scalars(select(Delivery.body)))
    assert all("СТОП" in body or "STOP" in body for body in bodies)


def test_a_campaign_reaches_people_in_their_language_and_format(db_session: Session) -> None:
    with clock.frozen(NOON):
        albanian = citizen(db_session, channels=("sms",), language="sq")
        easy = citizen(db_session, channels=("email",), born=date(1960, 1, 1))
        db_session.get_one(Person, easy.id).accessibility = ["easy_read"]
        db_session.commit()
        campaign.fan_out(db_session, template="offer_inform", purpose="proactive_offers",
                         context=CONTEXT, created_by="test")  # fmt: skip
        db_session.commit()
    rows = {m.person_id: (m.language, m.format) for m in db_session.scalars(select(Message))}
    assert rows[albanian.id] == ("sq", "standard")
    assert rows[easy.id] == ("mk", "easy_read")
    assert db_session.scalar(select(func.count()).select_from(Delivery)) == 2


def test_a_campaigns_ids_are_time_ordered_in_person_order_and_never_collide(
    db_session: Session,
) -> None:
    """Ordered ids keep a nation's inserts at the right edge of the primary-key and foreign-key
    indexes (PostgreSQL); two campaigns in the same millisecond still get distinct ids."""
    if not is_postgres(db_session):
        pytest.skip("the SQLite path keeps random ids: its writes are not index-bound")
    with clock.frozen(NOON):
        people = [citizen(db_session, channels=("sms",), born=date(1970, 1, 1) + timedelta(days=n))
                  for n in range(30)]  # fmt: skip
        db_session.commit()
        for _ in range(2):  # the same frozen millisecond
            campaign.fan_out(db_session, template="offer_inform", purpose="proactive_offers",
                             context=CONTEXT, created_by="test")  # fmt: skip
        db_session.commit()
    rows = db_session.execute(
        select(Message.id, Message.person_id, Delivery.id).join(Delivery)
    ).all()
    assert len(rows) == 2 * len(people)
    assert len({r[0] for r in rows}) == len({r[2] for r in rows}) == len(rows)
    assert all(r[0].version == 7 and r[2].version == 7 for r in rows)
    assert all(r[0].variant == uuid.RFC_4122 for r in rows)
    millis = int(NOON.timestamp() * 1000)
    assert all(int.from_bytes(r[0].bytes[:6], "big") == millis for r in rows)
    for prefix in {r[0].hex[:24] for r in rows}:
        ours = sorted((r for r in rows if r[0].hex[:24] == prefix), key=lambda r: r[0])
        assert [r[1] for r in ours] == sorted(r[1] for r in ours)  # ids follow person order
        assert [r[2] for r in ours] == sorted(r[2] for r in ours)  # deliveries likewise
