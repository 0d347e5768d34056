"""End to end on a real Synapse: a held appointment is offered on Matrix, the citizen answers
"ДА" in Macedonian, and the appointment is booked and the confirmation comes back.

Everything is the production path: the invitation job writes the message through the outbox,
the worker's `deliver` hands it to `MatrixChannel`, the citizen reads it in their own client
(matrix-nio), `navreme listen`'s delivery function records the answer, and the reply goes out
through the outbox again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from navreme import config, db
from navreme.cli.listen import deliver as record_batch
from navreme.messaging import actions, dispatch
from navreme.messaging.channels.base import Inbound, as_channel
from navreme.messaging.models import ContactSettings, Delivery, Message
from navreme.registry.models import ContactEndpoint
from navreme.scheduling.invitations import send_due_invitations
from navreme.scheduling.models import Appointment
from tests.messaging.channels.conftest import Account
from tests.messaging.channels.listening import Listening
from tests.messaging.channels.test_matrix import Citizen
from tests.messaging.helpers import held_appointments
from tests.servers.synapse import Synapse

pytestmark = pytest.mark.integration


@pytest.fixture
def on_matrix(
    synapse: Synapse,
    matrix_bot: Account,
    monkeypatch: pytest.MonkeyPatch,
    settings: config.Settings,
) -> Iterator[None]:
    channels = {"matrix": {"adapter": "matrix", "homeserver": synapse.url,
                           "user_id": matrix_bot.address, "password": matrix_bot.password}}  # fmt: skip
    monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(channels))
    config.get_settings.cache_clear()
    actions.reset_channels()
    yield
    actions.reset_channels()


def deliver_everything_due(session: Session) -> None:
    session.expire_all()
    due = session.scalars(select(Delivery.id).where(Delivery.status == "created")).all()
    dispatch.deliver(list(due))


def test_a_citizen_confirms_a_held_appointment_by_answering_da_on_matrix(
    db_session: Session, on_matrix: None, synapse: Synapse, matrix_bot: Account,
    matrix_citizen: Account,
) -> None:  # fmt: skip
    [appointment_id] = held_appointments(db_session, 1, channels=("matrix",))
    endpoint = db_session.scalars(select(ContactEndpoint)).one()
    db_session.execute(
        update(ContactEndpoint)
        .where(ContactEndpoint.id == endpoint.id)
        .values(address=matrix_citizen.address)
    )
    # This citizen takes messages at any hour (the test runs whenever CI does).
    db_session.add(ContactSettings(person_id=endpoint.person_id, quiet_from=None, quiet_until=None))
    db_session.commit()

    with db.session_scope() as session:
        assert send_due_invitations(session, config.get_settings()) == 1
    deliver_everything_due(db_session)
    invitation = db_session.scalars(select(Delivery)).one()
    assert invitation.status == "sent"

    citizen = Citizen(synapse.url, matrix_citizen)
    listening = Listening(actions.channels().get("matrix"))  # type: ignore[arg-type]
    try:
        room_id, event = citizen.message(matrix_bot.address, invitation.body)
        assert event.event_id == invitation.provider_message_id
        assert "Одговорете **1**" in event.body
        citizen.say(room_id, "Да")
        answer = listening.first(
            lambda e: isinstance(e, Inbound) and e.sender == citizen.user_id and e.text == "Да"
        )
        record_batch(as_channel([answer], "matrix"))

        db_session.expire_all()
        assert db_session.get_one(Appointment, appointment_id).status == "booked"
        reply = db_session.scalars(
            select(Message).where(Message.template == "reply_confirmed")
        ).one()
        deliver_everything_due(db_session)
        sent_reply = db_session.scalars(
            select(Delivery).where(Delivery.message_id == reply.id)
        ).one()
        assert sent_reply.status == "sent"
        _, confirmation = citizen.message(matrix_bot.address, sent_reply.body)
        assert confirmation.event_id == sent_reply.provider_message_id
        invite_message = db_session.scalars(
            select(Message).where(Message.template == "appointment_invite")
        ).one()
        assert invite_message.status in ("acknowledged", "completed")
    finally:
        listening.stop()
        citizen.close()
