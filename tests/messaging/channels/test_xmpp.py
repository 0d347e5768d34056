"""The XMPP adapter against a real Prosody, read back by a second real client (slixmpp).

The citizen's client acknowledges receipt requests (XEP-0184) as real clients do, sends a
"displayed" chat marker (XEP-0333) and answers in Macedonian; the adapter's `listen()` must
turn each into the right `Receipt` or `Inbound`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import slixmpp

from navreme.messaging.channels.base import DeliveryError, Inbound, Outgoing, Receipt
from navreme.messaging.channels.privateloop import PrivateLoop
from navreme.messaging.channels.xmpp import XmppChannel
from tests.messaging.channels.conftest import Account
from tests.messaging.channels.listening import WAIT_S, Listening
from tests.servers import process
from tests.servers.prosody import Prosody, start_prosody

pytestmark = pytest.mark.integration

REPLY = "Здраво, ќе дојдам во четврток со личната карта."


class Citizen:
    """A citizen's XMPP client: available, acknowledging receipt requests, keeping messages."""

    def __init__(self, prosody: Prosody, account: Account) -> None:
        self.jid = account.address
        self.messages: list[Any] = []
        self._loop = PrivateLoop(f"citizen {account.localpart}")
        self._client = self._loop.run(self._connect(prosody, account.password), WAIT_S)

    def message(self, body: str) -> Any:
        """The first chat message with this body, waiting for it."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for stanza in list(self.messages):
                if stanza["body"] == body:
                    return stanza
            time.sleep(0.05)
        raise AssertionError(f"no message with body {body!r}")

    def say(self, to: str, text: str) -> str:
        stanza_id = uuid.uuid4().hex
        self._loop.run(self._say(to, text, stanza_id), WAIT_S)
        return stanza_id

    def displayed(self, to: str, stanza_id: str) -> None:
        self._loop.run(self._displayed(to, stanza_id), WAIT_S)

    def close(self) -> None:
        self._loop.close(self._disconnect())

    async def _connect(self, prosody: Prosody, password: str) -> slixmpp.ClientXMPP:
        client = slixmpp.ClientXMPP(self.jid, password)
        client.enable_direct_tls = False
        client.ssl_context.load_verify_locations(str(prosody.certificate))
        for plugin in ("xep_0030", "xep_0184", "xep_0333"):
            client.register_plugin(plugin)
        started = asyncio.get_running_loop().create_future()

        def session_start(_: Any) -> None:
            client.send_presence()  # available: messages to the bare JID reach this client
            started.set_result(None)

        client.add_event_handler("session_start", session_start)
        client.add_event_handler("message", self._keep)
        client.connect(host="127.0.0.1", port=prosody.port)
        await asyncio.wait_for(started, WAIT_S)
        return client

    def _keep(self, stanza: Any) -> None:
        if stanza["body"]:
            self.messages.append(stanza)

    async def _say(self, to: str, text: str, stanza_id: str) -> None:
        stanza = self._client.make_message(mto=to, mbody=text, mtype="chat")
        stanza["id"] = stanza_id
        stanza.send()

    async def _displayed(self, to: str, stanza_id: str) -> None:
        self._client.plugin["xep_0333"].send_marker(
            mto=to, id=stanza_id, marker="displayed", mtype="chat"
        )

    async def _disconnect(self) -> None:
        await self._client.disconnect(wait=1.0)


def adapter(prosody: Prosody, bot: Account, password: str | None = None) -> XmppChannel:
    return XmppChannel(
        jid=bot.address,
        password=bot.password if password is None else password,
        host="127.0.0.1",
        port=prosody.port,
        ca_file=str(prosody.certificate),
        timeout=10,
    )


@pytest.fixture
def channel(prosody: Prosody, xmpp_bot: Account) -> Iterator[XmppChannel]:
    built = adapter(prosody, xmpp_bot)
    yield built
    built.close()


@pytest.fixture
def citizen(prosody: Prosody, xmpp_citizen: Account) -> Iterator[Citizen]:
    client = Citizen(prosody, xmpp_citizen)
    yield client
    client.close()


@pytest.fixture
def listening(channel: XmppChannel) -> Iterator[Listening]:
    running = Listening(channel)
    yield running
    running.stop()


def outgoing(to: str, text: str) -> Outgoing:
    return Outgoing(attempt_id=uuid.uuid4(), address=to, language="mk", text=text)


def test_send__citizen_receives_a_markable_chat_message_asking_for_a_receipt(
    channel: XmppChannel, citizen: Citizen, xmpp_bot: Account
) -> None:
    message = outgoing(citizen.jid, "Вашата лична карта истекува на 1 март.")

    accepted = channel.send(message)

    stanza = citizen.message(message.text)
    assert accepted.provider_message_id == str(message.attempt_id)
    assert stanza["id"] == str(message.attempt_id)
    assert stanza["type"] == "chat"
    assert stanza["from"].bare == xmpp_bot.address
    assert stanza["request_receipt"] is True
    assert stanza.xml.find("{urn:xmpp:chat-markers:0}markable") is not None


def test_listen__citizens_client_acknowledges__receipt_delivered(
    channel: XmppChannel, citizen: Citizen, listening: Listening
) -> None:
    accepted = channel.send(outgoing(citizen.jid, "Потврдете го приемот"))

    receipt = listening.first(lambda e: isinstance(e, Receipt))

    assert receipt == Receipt("xmpp", str(accepted.provider_message_id), "delivered", receipt.at)


def test_listen__citizen_displays_it__receipt_read(
    channel: XmppChannel, citizen: Citizen, listening: Listening, xmpp_bot: Account
) -> None:
    message = outgoing(citizen.jid, "Прочитајте ја пораката")
    channel.send(message)
    stanza = citizen.message(message.text)

    citizen.displayed(str(stanza["from"]), stanza["id"])

    read = listening.first(lambda e: isinstance(e, Receipt) and e.status == "read")
    assert read.provider_message_id == str(message.attempt_id)


def test_listen__citizen_replies_in_cyrillic__inbound(
    channel: XmppChannel, citizen: Citizen, listening: Listening, xmpp_bot: Account
) -> None:
    message = outgoing(citizen.jid, "Дали ќе дојдете?")
    channel.send(message)
    citizen.message(message.text)

    reply_id = citizen.say(xmpp_bot.address, REPLY)

    inbound = listening.first(lambda e: isinstance(e, Inbound))
    assert inbound == Inbound(
        channel="xmpp",
        provider_message_id=f"{citizen.jid}/{reply_id}",
        sender=citizen.jid,
        text=REPLY,
        received_at=inbound.received_at,
    )


def test_listen__reply_sent_while_nobody_listens__arrives_when_listening_starts(
    channel: XmppChannel, citizen: Citizen, xmpp_bot: Account
) -> None:
    message = outgoing(citizen.jid, "Одговорете кога ќе можете")
    channel.send(message)  # connected, but not available: the server keeps replies offline
    citizen.message(message.text)
    reply_id = citizen.say(xmpp_bot.address, REPLY)

    running = Listening(channel)
    try:
        inbound = running.first(lambda e: isinstance(e, Inbound))
    finally:
        running.stop()

    assert inbound.provider_message_id == f"{citizen.jid}/{reply_id}"


def test_send__from_eight_threads_at_once__every_message_arrives(
    channel: XmppChannel, citizen: Citizen
) -> None:
    messages = [outgoing(citizen.jid, f"Порака {number}") for number in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = list(pool.map(channel.send, messages))

    received = [citizen.message(message.text)["id"] for message in messages]
    assert received == [a.provider_message_id for a in accepted]


def test_send__unknown_account__permanent(channel: XmppChannel, prosody: Prosody) -> None:
    with pytest.raises(DeliveryError) as refused:
        channel.send(outgoing(f"nobody-here@{prosody.domain}", "Здраво"))

    assert refused.value.retryable is False
    assert refused.value.code == "service-unavailable"


def test_send__not_a_jid__permanent(channel: XmppChannel) -> None:
    with pytest.raises(DeliveryError) as refused:
        channel.send(outgoing("+38970123456", "Здраво"))

    assert refused.value.retryable is False


def test_send__wrong_password__retryable_not_authorized(
    prosody: Prosody, xmpp_bot: Account, citizen: Citizen
) -> None:
    built = adapter(prosody, xmpp_bot, password="wrong")
    try:
        with pytest.raises(DeliveryError) as refused:
            built.send(outgoing(citizen.jid, "Здраво"))
    finally:
        built.close()

    assert refused.value.retryable is True
    assert refused.value.code == "not-authorized"


def test_send__nothing_listens_on_the_port__retryable(xmpp_bot: Account) -> None:
    built = XmppChannel(
        jid=xmpp_bot.address,
        password=xmpp_bot.password,
        host="127.0.0.1",
        port=process.free_port(15300),
        timeout=3,
    )
    try:
        with pytest.raises(DeliveryError) as refused:
            built.send(outgoing("citizen@localhost", "Здраво"))
    finally:
        built.close()

    assert refused.value.retryable is True


@pytest.fixture
def own_prosody(tmp_path: Path) -> Iterator[Prosody]:
    """A server of the test's own, to be stopped mid-test."""
    server = start_prosody(tmp_path / "own")
    try:
        yield server
    finally:
        server.stop()


def test_send__server_goes_down__retryable(own_prosody: Prosody) -> None:
    bot = Account(own_prosody.register("navreme", "bot-pass"), "navreme", "bot-pass")
    citizen = own_prosody.register("citizen", "citizen-pass")
    built = adapter(own_prosody, bot)
    try:
        built.send(outgoing(citizen, "Пред прекинот"))
        own_prosody.stop()
        with pytest.raises(DeliveryError) as refused:
            built.send(outgoing(citizen, "За време на прекинот"))
    finally:
        built.close()

    assert refused.value.retryable is True
