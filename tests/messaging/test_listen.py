"""`navreme listen CHANNEL`: a listener adapter's batches are recorded like webhook ones.

The listener here replays what a held connection (Matrix sync, XMPP) would hand over: two
batches, the second repeating the first message, then it stops. The command must record each
batch in its own transaction through `inbound.receive`, exactly once per message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from navreme import config
from navreme.cli import listen
from navreme.cli.main import app
from navreme.messaging.channels import registry
from navreme.messaging.channels.base import Accepted, Event, Inbound, Outgoing
from tests import factories
from tests.messaging.support import endpoint, held_appointment, inbound_rows, phone, replies


class ReplayingListener:
    """A two-way channel whose connection hands over the batches it was configured with."""

    name: ClassVar[str] = "replaying"

    def __init__(self, batches: list[list[dict[str, str]]]) -> None:
        self.batches = batches

    def send(self, message: Outgoing) -> Accepted:
        return Accepted(provider_message_id=f"replaying-{message.attempt_id}")

    def close(self) -> None:
        return None

    def listen(self, deliver: Callable[[list[Event]], None], stop: threading.Event) -> None:
        for batch in self.batches:
            deliver([Inbound(channel="matrix", provider_message_id=m["id"], sender=m["from"],
                             text=m["text"]) for m in batch])  # fmt: skip
        stop.set()


def _configure(monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]) -> None:
    monkeypatch.setitem(
        registry.ADAPTERS, "replaying", "tests.messaging.test_listen:ReplayingListener"
    )
    monkeypatch.setenv("NAVREME_CHANNELS", json.dumps({"matrix": options}))
    config.get_settings.cache_clear()


def test_listen__batches_recorded_once_each_and_answered(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = phone()
    person = factories.person(db_session, phone=number)
    matrix_id = "@marija:matrix.example"
    endpoint(db_session, person, "matrix", matrix_id)
    appointment = held_appointment(db_session, person)
    db_session.commit()
    first = {"id": "$event-1", "from": matrix_id, "text": "да"}
    _configure(monkeypatch, {"adapter": "replaying", "batches": [[first], [first]]})
    listen.run("matrix", threading.Event())
    (row,) = inbound_rows(db_session)
    assert (row.channel, row.outcome) == ("matrix", "confirmed")
    assert [m.template for m in replies(db_session)] == ["reply_confirmed"]
    db_session.expire_all()
    assert db_session.get_one(type(appointment), appointment.id).status == "booked"


def test_listen__a_webhook_channel_cannot_listen(settings: config.Settings) -> None:
    result = CliRunner().invoke(app, ["listen", "sms"])
    assert result.exit_code == 2
    assert "no listener" in result.output
