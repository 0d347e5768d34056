"""The Matrix adapter against a real Synapse, read back by a second real client (matrix-nio).

The bot sends through `MatrixChannel`; a citizen logs in with nio, accepts the invitation,
reads, answers in Macedonian and sends a read receipt; what the adapter's `listen()` delivers
is compared with what the citizen's client saw on the wire.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nio
import pytest

from navreme.messaging.channels.base import DeliveryError, Inbound, Outgoing, Receipt
from navreme.messaging.channels.matrix import MatrixChannel, simple_markdown
from navreme.messaging.channels.privateloop import PrivateLoop
from navreme.messaging.channels.registry import ChannelNotConfigured, build
from tests.messaging.channels.conftest import Account
from tests.messaging.channels.listening import WAIT_S, Listening
from tests.servers import process
from tests.servers.synapse import Synapse, start_synapse

pytestmark = pytest.mark.integration

REPLY = "Здраво, ќе дојдам во четврток со личната карта."


class Citizen:
    """A citizen's Matrix client: joins invitations, keeps every message it syncs."""

    def __init__(self, homeserver: str, account: Account) -> None:
        self.user_id = account.address
        self._loop = PrivateLoop(f"citizen {account.localpart}")
        self._client = self._run(self._login(homeserver, account.password))
        self._since: str | None = None
        self.invites: dict[str, list[Any]] = {}
        self.messages: list[tuple[str, nio.RoomMessageText]] = []

    def message(self, sender: str, body: str) -> tuple[str, nio.RoomMessageText]:
        """(room id, event) of the first message with this body from `sender`, waiting for it."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for room_id, event in self.messages:
                if event.sender == sender and event.body == body:
                    return room_id, event
            self._run(self._sync())
        raise AssertionError(f"no message from {sender} with body {body!r}")

    def say(self, room_id: str, text: str) -> str:
        content = {"msgtype": "m.text", "body": text}
        answer = self._run(self._client.room_send(room_id, "m.room.message", content))
        return str(answer.event_id)

    def read(self, room_id: str, event_id: str) -> None:
        self._run(self._client.update_receipt_marker(room_id, event_id))

    def open_direct_room(self, bot: str) -> str:
        answer = self._run(self._client.room_create(is_direct=True, invite=[bot]))
        return str(answer.room_id)

    def wait_until_joined(self, room_id: str, user_id: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            members = self._run(self._client.joined_members(room_id))
            if user_id in [member.user_id for member in members.members]:
                return
            self._run(self._sync())
        raise AssertionError(f"{user_id} did not join {room_id}")

    def history(self, room_id: str) -> list[nio.RoomMessageText]:
        """The room's text messages as the server keeps them (newest first), up to 50."""
        answer = self._run(self._client.room_messages(room_id, limit=50))
        return [event for event in answer.chunk if isinstance(event, nio.RoomMessageText)]

    def close(self) -> None:
        self._loop.close(self._client.close())

    def _run(self, work: Any) -> Any:
        return self._loop.run(work, timeout=WAIT_S + 20)

    async def _login(self, homeserver: str, password: str) -> nio.AsyncClient:
        client = nio.AsyncClient(homeserver, self.user_id)
        answer = await client.login(password)
        if not isinstance(answer, nio.LoginResponse):
            raise RuntimeError(f"citizen login failed: {answer}")
        return client

    async def _sync(self) -> None:
        answer = await self._client.sync(timeout=1000, since=self._since)
        self._since = answer.next_batch
        for room_id, invite in answer.rooms.invite.items():
            self.invites[room_id] = list(invite.invite_state)
            await self._client.join(room_id)
        for room_id, room in answer.rooms.join.items():
            for event in room.timeline.events:
                if isinstance(event, nio.RoomMessageText):
                    self.messages.append((room_id, event))


@pytest.fixture
def channel(synapse: Synapse, matrix_bot: Account) -> Iterator[MatrixChannel]:
    adapter = MatrixChannel(
        homeserver=synapse.url, user_id=matrix_bot.address, password=matrix_bot.password
    )
    yield adapter
    adapter.close()


@pytest.fixture
def citizen(synapse: Synapse, matrix_citizen: Account) -> Iterator[Citizen]:
    client = Citizen(synapse.url, matrix_citizen)
    yield client
    client.close()


@pytest.fixture
def listening(channel: MatrixChannel) -> Iterator[Listening]:
    running = Listening(channel)
    yield running
    running.stop()


def outgoing(citizen: Citizen, text: str, attempt_id: uuid.UUID | None = None) -> Outgoing:
    return Outgoing(
        attempt_id=attempt_id or uuid.uuid4(), address=citizen.user_id, language="mk", text=text
    )


def test_send__citizen_reads_it_in_a_new_direct_room(
    channel: MatrixChannel, citizen: Citizen, matrix_bot: Account
) -> None:
    text = "Your **ID card** expires on 1 March: [book a visit](https://navreme.example/book)."

    accepted = channel.send(outgoing(citizen, text))

    room_id, event = citizen.message(matrix_bot.address, text)
    assert event.event_id == accepted.provider_message_id
    assert event.formatted_body == (
        "Your <strong>ID card</strong> expires on 1 March: "
        '<a href="https://navreme.example/book">book a visit</a>.'
    )
    invitation = [
        event
        for event in citizen.invites[room_id]
        if isinstance(event, nio.InviteMemberEvent) and event.state_key == citizen.user_id
    ]
    assert [event.content.get("is_direct") for event in invitation] == [True]


def test_send__two_messages__one_direct_room(
    channel: MatrixChannel, citizen: Citizen, matrix_bot: Account
) -> None:
    channel.send(outgoing(citizen, "Прва порака"))
    channel.send(outgoing(citizen, "Втора порака"))

    first_room, _ = citizen.message(matrix_bot.address, "Прва порака")
    second_room, _ = citizen.message(matrix_bot.address, "Втора порака")
    assert second_room == first_room


def test_send__a_restarted_adapter__finds_the_same_room_in_m_direct(
    synapse: Synapse, channel: MatrixChannel, citizen: Citizen, matrix_bot: Account
) -> None:
    channel.send(outgoing(citizen, "Before the restart"))
    restarted = MatrixChannel(
        homeserver=synapse.url, user_id=matrix_bot.address, password=matrix_bot.password
    )
    try:
        restarted.send(outgoing(citizen, "After the restart"))
    finally:
        restarted.close()

    before, _ = citizen.message(matrix_bot.address, "Before the restart")
    after, _ = citizen.message(matrix_bot.address, "After the restart")
    assert after == before


def test_send__same_attempt_id_twice__one_visible_message(
    synapse: Synapse, channel: MatrixChannel, citizen: Citizen, matrix_bot: Account
) -> None:
    attempt = uuid.uuid4()
    first = channel.send(outgoing(citizen, "Потсетник за терминот", attempt))
    restarted = MatrixChannel(
        homeserver=synapse.url, user_id=matrix_bot.address, password=matrix_bot.password
    )
    try:
        again = restarted.send(outgoing(citizen, "Потсетник за терминот", attempt))
    finally:
        restarted.close()

    room_id, _ = citizen.message(matrix_bot.address, "Потсетник за терминот")
    bodies = [event.body for event in citizen.history(room_id)]
    assert again.provider_message_id == first.provider_message_id
    assert bodies.count("Потсетник за терминот") == 1


def test_listen__citizen_replies_in_cyrillic__inbound(
    channel: MatrixChannel, citizen: Citizen, listening: Listening, matrix_bot: Account
) -> None:
    accepted = channel.send(outgoing(citizen, "Дали ќе дојдете?"))
    room_id, _ = citizen.message(matrix_bot.address, "Дали ќе дојдете?")

    reply_id = citizen.say(room_id, REPLY)

    inbound = listening.first(lambda e: isinstance(e, Inbound) and e.sender == citizen.user_id)
    assert inbound == Inbound(
        channel="matrix",
        provider_message_id=reply_id,
        sender=citizen.user_id,
        text=REPLY,
        received_at=inbound.received_at,
        sender_name=citizen.user_id.split(":")[0][1:],
        in_reply_to=None,
    )
    assert inbound.received_at is not None
    assert accepted.provider_message_id != reply_id


def test_listen__citizen_reads__read_receipt_for_our_messages(
    channel: MatrixChannel, citizen: Citizen, listening: Listening, matrix_bot: Account
) -> None:
    first = channel.send(outgoing(citizen, "Прво известување"))
    second = channel.send(outgoing(citizen, "Второ известување"))
    room_id, event = citizen.message(matrix_bot.address, "Второ известување")

    citizen.read(room_id, event.event_id)

    receipts = {
        listening.first(lambda e: isinstance(e, Receipt) and e.status == "read").provider_message_id
        for _ in range(2)
    }
    assert receipts == {first.provider_message_id, second.provider_message_id}


def test_listen__citizen_opens_a_direct_room__bot_joins_and_answers_there(
    channel: MatrixChannel, citizen: Citizen, listening: Listening, matrix_bot: Account
) -> None:
    room_id = citizen.open_direct_room(matrix_bot.address)
    citizen.wait_until_joined(room_id, matrix_bot.address)
    reply_id = citizen.say(room_id, REPLY)
    inbound = listening.first(lambda e: isinstance(e, Inbound) and e.sender == citizen.user_id)
    channel.send(outgoing(citizen, "Добредојдовте"))

    answered_in, _ = citizen.message(matrix_bot.address, "Добредојдовте")
    assert inbound.provider_message_id == reply_id
    assert answered_in == room_id


def test_listen__reply_sent_while_not_listening__arrives_on_start(
    channel: MatrixChannel, citizen: Citizen, matrix_bot: Account
) -> None:
    channel.send(outgoing(citizen, "Одговорете кога ќе можете"))
    room_id, _ = citizen.message(matrix_bot.address, "Одговорете кога ќе можете")
    reply_id = citizen.say(room_id, REPLY)

    running = Listening(channel)
    try:
        inbound = running.first(lambda e: isinstance(e, Inbound) and e.sender == citizen.user_id)
    finally:
        running.stop()

    assert inbound.provider_message_id == reply_id


def test_send__from_eight_threads_at_once__every_message_in_one_room(
    channel: MatrixChannel, citizen: Citizen, matrix_bot: Account
) -> None:
    texts = [f"Порака {number}" for number in range(8)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = list(pool.map(lambda text: channel.send(outgoing(citizen, text)), texts))

    rooms = {citizen.message(matrix_bot.address, text)[0] for text in texts}
    assert len({a.provider_message_id for a in accepted}) == len(texts)
    assert len(rooms) == 1


def test_send__after_close__retryable(synapse: Synapse, matrix_bot: Account) -> None:
    closed = MatrixChannel(homeserver=synapse.url, user_id=matrix_bot.address, password="x")
    closed.close()

    with pytest.raises(DeliveryError) as refused:
        closed.send(Outgoing(uuid.uuid4(), synapse.user_id("someone"), "mk", "Здраво"))

    assert refused.value.retryable is True


def test_send__unknown_user__permanent(channel: MatrixChannel, synapse: Synapse) -> None:
    message = Outgoing(uuid.uuid4(), synapse.user_id("nobody-here"), "mk", "Здраво")

    with pytest.raises(DeliveryError) as refused:
        channel.send(message)

    assert refused.value.retryable is False
    assert refused.value.code == "M_NOT_FOUND"


def test_send__not_a_matrix_user_id__permanent(channel: MatrixChannel) -> None:
    message = Outgoing(uuid.uuid4(), "+38970123456", "mk", "Здраво")

    with pytest.raises(DeliveryError) as refused:
        channel.send(message)

    assert refused.value.retryable is False


def test_send__wrong_password__retryable_with_the_homeserver_code(
    synapse: Synapse, matrix_bot: Account, citizen: Citizen
) -> None:
    adapter = MatrixChannel(homeserver=synapse.url, user_id=matrix_bot.address, password="wrong")
    try:
        with pytest.raises(DeliveryError) as refused:
            adapter.send(outgoing(citizen, "Здраво"))
    finally:
        adapter.close()

    assert refused.value.retryable is True
    assert refused.value.code == "M_FORBIDDEN"


def test_send__nothing_listens_on_the_homeserver_port__retryable(citizen: Citizen) -> None:
    port = process.free_port(18100)
    adapter = MatrixChannel(
        homeserver=f"http://127.0.0.1:{port}", user_id="@navreme:localhost", password="x"
    )
    try:
        with pytest.raises(DeliveryError) as refused:
            adapter.send(outgoing(citizen, "Здраво"))
    finally:
        adapter.close()

    assert refused.value.retryable is True


@pytest.fixture
def strict_synapse(tmp_path: Path) -> Iterator[Synapse]:
    """A homeserver of the test's own, allowing one room and one message, to be stopped."""
    strict = {"rc_message": {"per_second": 0.01, "burst_count": 2}}  # a new room, one message
    server = start_synapse(tmp_path / "strict", overrides=strict)
    try:
        yield server
    finally:
        server.stop()


def test_send__homeserver_goes_down__retryable(strict_synapse: Synapse) -> None:
    bot = strict_synapse.register("navreme", "bot-pass")
    citizen = strict_synapse.register("citizen", "citizen-pass")
    adapter = MatrixChannel(homeserver=strict_synapse.url, user_id=bot, password="bot-pass")
    try:
        adapter.send(Outgoing(uuid.uuid4(), citizen, "mk", "Пред прекинот"))
        strict_synapse.stop()
        with pytest.raises(DeliveryError) as refused:
            adapter.send(Outgoing(uuid.uuid4(), citizen, "mk", "За време на прекинот"))
    finally:
        adapter.close()

    assert refused.value.retryable is True


def test_send__rate_limited__retryable_after_the_homeservers_delay(
    strict_synapse: Synapse,
) -> None:
    bot = strict_synapse.register("navreme", "bot-pass")
    citizen = strict_synapse.register("citizen", "citizen-pass")
    adapter = MatrixChannel(homeserver=strict_synapse.url, user_id=bot, password="bot-pass")
    try:
        adapter.send(Outgoing(uuid.uuid4(), citizen, "mk", "Прва"))
        with pytest.raises(DeliveryError) as refused:
            adapter.send(Outgoing(uuid.uuid4(), citizen, "mk", "Втора"))
    finally:
        adapter.close()

    assert refused.value.retryable is True
    assert refused.value.code == "M_LIMIT_EXCEEDED"
    assert refused.value.retry_after is not None


def test_simple_markdown__plain_text__no_html() -> None:
    assert simple_markdown("Здраво, вашиот термин е во 10:00.") is None


def test_simple_markdown__html_in_the_text__escaped() -> None:
    formatted = simple_markdown("**<b>x</b>** and `a*b*c`")

    assert formatted == "<strong>&lt;b&gt;x&lt;/b&gt;</strong> and <code>a*b*c</code>"


def test_settings__neither_password_nor_access_token__a_setting_error() -> None:
    options = {"homeserver": "https://matrix.example", "user_id": "@navreme:matrix.example"}

    with pytest.raises(ChannelNotConfigured, match="password or access_token"):
        build("matrix", options)
