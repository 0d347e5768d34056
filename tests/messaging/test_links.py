"""Linking a messenger account by a one-time code, and unlinking it.

The citizen asks the API for a code, sends it from the account through the channel's webhook,
and the account becomes a verified endpoint. Wrong, expired and used codes link nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.models import AuditEntry
from navreme.messaging.links import MAX_OPEN_PER_PERSON, MAX_WRONG_CODES_PER_SENDER
from navreme.messaging.models import ChannelLink
from navreme.registry.models import ContactEndpoint, Person
from tests import factories
from tests.messaging.support import held_appointment, inbound_rows, phone, replies, reply


def _start(client: TestClient, session: Session, person: Person, channel: str = "telegram") -> str:
    headers = factories.session_token(session, person)
    session.commit()
    response = client.post(f"/api/v1/me/channels/{channel}/link", headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


def _telegram_endpoints(session: Session, person: Person) -> list[ContactEndpoint]:
    session.expire_all()
    query = select(ContactEndpoint).where(
        ContactEndpoint.person_id == person.id, ContactEndpoint.channel == "telegram"
    )
    return list(session.scalars(query))


def test_start__six_digits_stored_only_as_a_keyed_hash(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone=phone())
    code = _start(client, db_session, person)
    assert re.fullmatch(r"\d{6}", code)
    link = db_session.scalars(select(ChannelLink)).one()
    assert code not in link.code_hash
    assert len(link.code_hash) == 64
    assert link.expires_at - link.created_at == timedelta(minutes=10)


def test_code_from_the_account__links_and_verifies_it(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone=phone(), language="sq")
    code = _start(client, db_session, person)
    assert reply(client, "telegram", "424242", code).status_code == 200
    (linked,) = _telegram_endpoints(db_session, person)
    assert linked.address == "424242"
    assert linked.verified_at is not None
    link = db_session.scalars(select(ChannelLink)).one()
    assert link.used_at is not None
    assert link.endpoint_id == linked.id
    (sent,) = replies(db_session)
    assert (sent.template, sent.person_id, sent.language) == ("link_confirmed", person.id, "sq")
    assert inbound_rows(db_session)[0].outcome == "linked"


def test_linked_account__answers_act_for_the_person(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone=phone())
    appointment = held_appointment(db_session, person)
    code = _start(client, db_session, person)
    reply(client, "telegram", "777", code)
    reply(client, "telegram", "777", "да")
    db_session.expire_all()
    assert db_session.get_one(type(appointment), appointment.id).status == "booked"


def test_wrong_code__links_nothing(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone=phone())
    code = _start(client, db_session, person)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    reply(client, "telegram", "31337", wrong)
    assert _telegram_endpoints(db_session, person) == []
    assert inbound_rows(db_session)[0].outcome == "ignored"
    assert [m.template for m in replies(db_session)] == ["reply_unknown_sender"]


def test_expired_code__links_nothing(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone=phone())
    code = _start(client, db_session, person)
    db_session.execute(update(ChannelLink).values(expires_at=clock.now() - timedelta(seconds=1)))
    db_session.commit()
    reply(client, "telegram", "31338", code)
    assert _telegram_endpoints(db_session, person) == []
    assert inbound_rows(db_session)[0].outcome == "ignored"


def test_used_code__refused_for_a_second_account(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone=phone())
    code = _start(client, db_session, person)
    reply(client, "telegram", "first-account", code)
    reply(client, "telegram", "second-account", code)
    assert [e.address for e in _telegram_endpoints(db_session, person)] == ["first-account"]
    assert [r.outcome for r in inbound_rows(db_session)] == ["linked", "ignored"]


def test_code_on_another_channel__links_nothing(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone=phone())
    code = _start(client, db_session, person, channel="viber")
    reply(client, "telegram", "55", code)
    assert _telegram_endpoints(db_session, person) == []


def test_too_many_wrong_codes__even_the_right_one_is_refused(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone=phone())
    code = _start(client, db_session, person)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(MAX_WRONG_CODES_PER_SENDER):
        reply(client, "telegram", "guesser", wrong)
    reply(client, "telegram", "guesser", code)
    assert _telegram_endpoints(db_session, person) == []


def test_open_codes__limited_per_person(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone=phone())
    for _ in range(MAX_OPEN_PER_PERSON):
        _start(client, db_session, person)
    headers = factories.session_token(db_session, person)
    db_session.commit()
    refused = client.post("/api/v1/me/channels/telegram/link", headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"


def test_unknown_channel__404(client: TestClient, db_session: Session) -> None:
    person = factories.person(db_session, phone=phone())
    headers = factories.session_token(db_session, person)
    db_session.commit()
    response = client.post("/api/v1/me/channels/pigeon/link", headers=headers)
    assert response.status_code == 404


def test_officer__cannot_start_a_link(client: TestClient, db_session: Session) -> None:
    login = factories.officer(db_session)
    db_session.commit()
    response = client.post(
        "/api/v1/me/channels/telegram/link", headers=factories.officer_token(client, login)
    )
    assert response.status_code == 403


def test_revoke__unverifies_audits_and_stops_trusting_the_account(
    client: TestClient, db_session: Session
) -> None:
    person = factories.person(db_session, phone=phone())
    appointment = held_appointment(db_session, person)
    code = _start(client, db_session, person)
    reply(client, "telegram", "999", code)
    (linked,) = _telegram_endpoints(db_session, person)
    headers = factories.session_token(db_session, person)
    db_session.commit()
    response = client.delete(f"/api/v1/persons/{person.id}/contacts/{linked.id}/link",
                             headers=headers)  # fmt: skip
    assert response.status_code == 200
    assert response.json()["verified"] is False
    (unlinked,) = _telegram_endpoints(db_session, person)
    assert unlinked.verified_at is None
    actions = db_session.scalars(select(AuditEntry.action)).all()
    assert "channel_link.revoke" in actions
    reply(client, "telegram", "999", "1")
    db_session.expire_all()
    assert db_session.get_one(type(appointment), appointment.id).status == "held"


def test_revoke__someone_elses_endpoint_is_404(client: TestClient, db_session: Session) -> None:
    owner = factories.person(db_session, phone=phone())
    other = factories.person(db_session, phone=phone())
    owners_endpoint = db_session.scalars(
        select(ContactEndpoint).where(ContactEndpoint.person_id == owner.id)
    ).one()
    headers = factories.session_token(db_session, other)
    db_session.commit()
    response = client.delete(
        f"/api/v1/persons/{other.id}/contacts/{owners_endpoint.id}/link", headers=headers
    )
    assert response.status_code == 404
    db_session.expire_all()
    assert db_session.get_one(ContactEndpoint, owners_endpoint.id).verified_at is not None
