"""The SMPP channel against real SMPP peers: the SMSC simulator directly, and Jasmin in front of it.

The simulator (tests/servers/smsc.py) is the phone network: it records the exact octets of every
submit_sm, answers with its own message ids or the error a test chose, sends delivery receipts
and injects handset replies. Through Jasmin (tests/servers/jasmin.py) the same checks run
across a real gateway: Jasmin gives its own message ids, relays receipts, routes MO messages to
Navreme's SMPP user, throttles a user over its quota and refuses numbers its filter rejects.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from navreme.messaging import segments
from navreme.messaging.channels.base import (
    Channel,
    DeliveryError,
    Event,
    Inbound,
    Listener,
    Outgoing,
    Receipt,
)
from navreme.messaging.channels.sms import SmppChannel
from tests.servers import jasmin
from tests.servers.smsc import Smsc, Submit

pytestmark = pytest.mark.integration

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PHONE = "+38970123456"
LONG_CYRILLIC = "Почитувани, вашиот пасош истекува на 12 март. Закажете термин во Навреме. " * 2


def outgoing(text: str, address: str = PHONE) -> Outgoing:
    return Outgoing(attempt_id=uuid.uuid4(), address=address, language="mk", text=text)


class Collector:
    """Runs `listen` in a thread and keeps what it delivers."""

    def __init__(self, channel: SmppChannel, fail: bool = False) -> None:
        self.events: list[Event] = []
        self.fail = fail
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=channel.listen, args=(self._deliver, self._stop))
        self._thread.start()

    def _deliver(self, events: list[Event]) -> None:
        if self.fail:
            raise RuntimeError("the database is down")
        with self._changed:
            self.events.extend(events)
            self._changed.notify_all()

    def wait(self, predicate: Callable[[list[Event]], bool], timeout: float = 15.0) -> list[Event]:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.events), timeout):
                raise TimeoutError(f"the listener got only {self.events!r}")
            return list(self.events)

    def receipts(self, provider_id: str, count: int = 1) -> list[Receipt]:
        def mine(events: list[Event]) -> list[Receipt]:
            return [
                e for e in events if isinstance(e, Receipt) and e.provider_message_id == provider_id
            ]

        return mine(self.wait(lambda events: len(mine(events)) >= count))

    def inbound(self, count: int) -> list[Inbound]:
        def found(events: list[Event]) -> list[Inbound]:
            return [e for e in events if isinstance(e, Inbound)]

        return found(self.wait(lambda events: len(found(events)) >= count))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def smsc() -> Iterator[Smsc]:
    server = Smsc()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def channels() -> Iterator[Callable[..., SmppChannel]]:
    made: list[SmppChannel] = []

    def make(port: int, **options: object) -> SmppChannel:
        settings: dict[str, object] = {
            "host": "127.0.0.1",
            "port": port,
            "system_id": "smsc",
            "password": "smscpwd",
            "source_addr": "Navreme",
            "timeout": 5.0,
        }
        settings.update(options)
        channel = SmppChannel(**settings)  # type: ignore[arg-type]
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()


@pytest.fixture
def listening() -> Iterator[Callable[..., Collector]]:
    started: list[Collector] = []

    def start(channel: SmppChannel, fail: bool = False) -> Collector:
        collector = Collector(channel, fail)
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.stop()


def closed_port() -> int:
    return jasmin.free_port()  # bound and released: nothing listens there


def joined_payload(submits: list[Submit]) -> str:
    return "".join(segments.ucs2_decode(submit.payload) for submit in submits)


# --- the adapter against the SMSC simulator --------------------------------------------------
def test_the_adapter_is_a_channel_and_a_listener(channels: Callable[..., SmppChannel]) -> None:
    channel = channels(closed_port())
    assert isinstance(channel, Channel)
    assert isinstance(channel, Listener)


def test_gsm7_text_reaches_the_smsc_as_unpacked_septets(
    smsc: Smsc, channels: Callable[..., SmppChannel]
) -> None:
    accepted = channels(smsc.port).send(outgoing("Your ID card is ready {desk 4} €5"))
    submit = smsc.submits[-1]
    assert accepted.provider_message_id == submit.message_id
    assert submit.data_coding == 0
    assert submit.esm_class == 0
    assert submit.short_message == segments.gsm7_encode("Your ID card is ready {desk 4} €5")
    assert submit.short_message.count(b"\x1b") == 3
    assert submit.registered_delivery == 1
    assert (submit.source_addr, submit.source_addr_ton) == ("Navreme", 5)
    assert (submit.destination_addr, submit.dest_addr_ton, submit.dest_addr_npi) == (
        "38970123456",
        1,
        1,
    )


def test_long_cyrillic_goes_as_ucs2_concatenated_parts(
    smsc: Smsc, channels: Callable[..., SmppChannel]
) -> None:
    message = outgoing(LONG_CYRILLIC)
    accepted = channels(smsc.port).send(message)
    parts = smsc.submits
    assert len(parts) == segments.segments(LONG_CYRILLIC) == 3
    assert accepted.provider_message_id == parts[0].message_id
    assert {p.data_coding for p in parts} == {8}
    assert {p.esm_class for p in parts} == {0x40}
    assert [p.udh for p in parts] == [
        bytes((5, 0, 3, message.attempt_id.int & 0xFF, 3, n)) for n in (1, 2, 3)
    ]
    assert all(len(p.payload) <= 134 for p in parts)
    assert joined_payload(parts) == LONG_CYRILLIC


def test_the_receipt_of_every_part_names_the_message(
    smsc: Smsc, channels: Callable[..., SmppChannel], listening: Callable[..., Collector]
) -> None:
    channel = channels(smsc.port)
    collector = listening(channel)
    accepted = channel.send(outgoing(LONG_CYRILLIC))
    receipts = collector.receipts(str(accepted.provider_message_id), count=3)
    assert [r.status for r in receipts] == ["delivered"] * 3
    assert receipts[0].at is not None


def test_an_undeliverable_receipt_is_a_permanent_failure(
    smsc: Smsc, channels: Callable[..., SmppChannel], listening: Callable[..., Collector]
) -> None:
    smsc.dlr_stat = lambda submit: "UNDELIV"
    channel = channels(smsc.port)
    collector = listening(channel)
    accepted = channel.send(outgoing("Your appointment is tomorrow"))
    (receipt,) = collector.receipts(str(accepted.provider_message_id))
    assert receipt.status == "permanent-failure"
    assert receipt.error_code == "UNDELIV:000"


@pytest.mark.parametrize(
    ("text", "data_coding", "octets"),
    [
        ("СТОП", 8, "СТОП".encode("utf-16-be")),
        ("STOP", 0, b"STOP"),
        ("ДА", 8, "ДА".encode("utf-16-be")),
        ("Po, faleminderit ë", 8, "Po, faleminderit ë".encode("utf-16-be")),
        ("OK ¿Ñ", 0, b"OK `]"),  # GSM-7 codes 0x60 and 0x5D
    ],
)
def test_a_handset_reply_arrives_as_inbound(
    smsc: Smsc,
    channels: Callable[..., SmppChannel],
    listening: Callable[..., Collector],
    text: str,
    data_coding: int,
    octets: bytes,
) -> None:
    channel = channels(smsc.port)
    collector = listening(channel)
    smsc.wait_for(lambda: len(smsc.binds) == 1)
    smsc.inject_mo(
        source_addr="38970123456",
        destination_addr="Navreme",
        short_message=octets,
        data_coding=data_coding,
    )
    (message,) = collector.inbound(1)
    assert message.text == text
    assert message.sender == PHONE
    assert message.channel == "sms"
    assert message.provider_message_id.startswith("mo-")
    smsc.wait_for(lambda: smsc.deliver_responses == [0])


def test_two_identical_replies_stay_two_messages(
    smsc: Smsc, channels: Callable[..., SmppChannel], listening: Callable[..., Collector]
) -> None:
    channel = channels(smsc.port)
    collector = listening(channel)
    smsc.wait_for(lambda: len(smsc.binds) == 1)
    for _ in range(2):
        smsc.inject_mo(
            source_addr="38970123456",
            destination_addr="Navreme",
            short_message="ДА".encode("utf-16-be"),
            data_coding=8,
        )
    first, second = collector.inbound(2)
    assert first.provider_message_id != second.provider_message_id


def test_the_smscs_message_id_names_a_reply_when_given(
    smsc: Smsc, channels: Callable[..., SmppChannel], listening: Callable[..., Collector]
) -> None:
    channel = channels(smsc.port)
    collector = listening(channel)
    smsc.wait_for(lambda: len(smsc.binds) == 1)
    smsc.inject_mo(
        source_addr="38970123456",
        destination_addr="Navreme",
        short_message=b"YES",
        tlvs={0x001E: b"MO-77\x00"},  # receipted_message_id
    )
    (message,) = collector.inbound(1)
    assert message.provider_message_id == "MO-77"


def test_a_concatenated_reply_is_reassembled(
    smsc: Smsc, channels: Callable[..., SmppChannel], listening: Callable[..., Collector]
) -> None:
    channel = channels(smsc.port)
    collector = listening(channel)
    smsc.wait_for(lambda: len(smsc.binds) == 1)
    pieces = segments.split(LONG_CYRILLIC)
    for number, piece in reversed(list(enumerate(pieces, 1))):
        smsc.inject_mo(
            source_addr="38970123456",
            destination_addr="Navreme",
            short_message=bytes((5, 0, 3, 42, len(pieces), number)) + piece.encode("utf-16-be"),
            data_coding=8,
            esm_class=0x40,
        )
    (message,) = collector.inbound(1)
    assert message.text == LONG_CYRILLIC
    smsc.wait_for(lambda: smsc.deliver_responses == [0] * len(pieces))


def test_a_reply_the_platform_cannot_record_is_refused_for_redelivery(
    smsc: Smsc, channels: Callable[..., SmppChannel], listening: Callable[..., Collector]
) -> None:
    channel = channels(smsc.port)
    listening(channel, fail=True)
    smsc.wait_for(lambda: len(smsc.binds) == 1)
    smsc.inject_mo(source_addr="38970123456", destination_addr="Navreme", short_message=b"STOP")
    smsc.wait_for(lambda: smsc.deliver_responses == [0x64])  # ESME_RX_T_APPN


def test_gateway_down_is_retryable(channels: Callable[..., SmppChannel]) -> None:
    with pytest.raises(DeliveryError) as raised:
        channels(closed_port()).send(outgoing("hello"))
    assert raised.value.retryable is True
    assert raised.value.code == "connect"


def test_a_refused_bind_is_retryable_with_its_status(
    smsc: Smsc, channels: Callable[..., SmppChannel]
) -> None:
    with pytest.raises(DeliveryError) as raised:
        channels(smsc.port, password="wrong").send(outgoing("hello"))
    assert raised.value.retryable is True
    assert raised.value.code == "bind:0x0E"


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(0x58, 1.0), (0x14, 10.0), (0x08, None)],  # throttled, queue full, system error
)
def test_throttling_and_smsc_trouble_are_retryable(
    smsc: Smsc, channels: Callable[..., SmppChannel], status: int, retry_after: float | None
) -> None:
    smsc.decide = lambda submit: status
    with pytest.raises(DeliveryError) as raised:
        channels(smsc.port).send(outgoing("hello"))
    assert raised.value.retryable is True
    assert raised.value.retry_after == retry_after
    assert raised.value.code == f"0x{status:02X}"


def test_an_invalid_destination_is_permanent(
    smsc: Smsc, channels: Callable[..., SmppChannel]
) -> None:
    smsc.decide = lambda submit: 0x0B  # ESME_RINVDSTADR
    with pytest.raises(DeliveryError) as raised:
        channels(smsc.port).send(outgoing("hello"))
    assert raised.value.retryable is False
    assert raised.value.code == "0x0B"


def test_an_address_that_is_no_number_never_reaches_the_smsc(
    smsc: Smsc, channels: Callable[..., SmppChannel]
) -> None:
    with pytest.raises(DeliveryError) as raised:
        channels(smsc.port).send(outgoing("hello", address="citizen@example.org"))
    assert raised.value.retryable is False
    assert smsc.binds == []


def test_the_session_is_bound_again_after_the_smsc_drops_it(
    smsc: Smsc, channels: Callable[..., SmppChannel]
) -> None:
    channel = channels(smsc.port)
    channel.send(outgoing("first"))
    smsc._loop.call_soon_threadsafe(smsc.drop_sessions)
    smsc.wait_for(lambda: not smsc._sessions)
    outcomes, failures = [], []
    for _ in range(2):  # the first try may still meet the dead socket: retryable, then bound anew
        try:
            outcomes.append(channel.send(outgoing("second")).provider_message_id)
            break
        except DeliveryError as failure:
            failures.append(failure.retryable)
    assert all(failures)
    assert outcomes == [smsc.submits[-1].message_id]
    assert len(smsc.binds) == 2


def test_threads_share_one_bound_session(smsc: Smsc, channels: Callable[..., SmppChannel]) -> None:
    channel = channels(smsc.port, window=3)
    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(channel.send, [outgoing(f"message {n}") for n in range(24)]))
    assert len({a.provider_message_id for a in accepted}) == 24
    assert len(smsc.binds) == 1
    assert sorted(s.short_message for s in smsc.submits) == sorted(
        f"message {n}".encode() for n in range(24)
    )


# --- through the real Jasmin gateway --------------------------------------------------------
@pytest.fixture(scope="module")
def network() -> Iterator[Smsc]:
    """The SMSC simulator behind Jasmin, shared by the Jasmin tests of this module."""
    server = Smsc()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(
    network: Smsc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[jasmin.JasminStack]:
    why = jasmin.missing()
    if why is not None:
        if IN_CI:
            pytest.fail(f"Jasmin must run under CI: {why}")
        pytest.skip(why)
    root: Path = tmp_path_factory.mktemp("jasmin")
    stack = jasmin.start_jasmin(root, network.port, (network.system_id, network.password))
    try:
        network.wait_for(lambda: len(network.binds) >= 1, 30)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def via_jasmin(
    gateway: jasmin.JasminStack, network: Smsc, channels: Callable[..., SmppChannel]
) -> Callable[..., SmppChannel]:
    network.decide = lambda submit: 0
    network.dlr_stat = lambda submit: "DELIVRD"

    def make(user: tuple[str, str] = jasmin.USER) -> SmppChannel:
        return channels(gateway.smpp_port, system_id=user[0], password=user[1])

    return make


def submits_to(network: Smsc, number: str, count: int) -> list[Submit]:
    def mine() -> list[Submit]:
        return [s for s in network.submits if s.destination_addr == number]

    network.wait_for(lambda: len(mine()) >= count, 15)
    return mine()


def test_jasmin_relays_gsm7_and_its_receipt(
    via_jasmin: Callable[..., SmppChannel], network: Smsc, listening: Callable[..., Collector]
) -> None:
    channel = via_jasmin()
    collector = listening(channel)
    accepted = channel.send(outgoing("Your passport is ready [desk 2]", address="+38970000001"))
    (submit,) = submits_to(network, "38970000001", 1)
    assert submit.data_coding == 0
    assert submit.short_message == segments.gsm7_encode("Your passport is ready [desk 2]")
    assert submit.message_id != accepted.provider_message_id  # Jasmin gives its own ids
    (receipt,) = collector.receipts(str(accepted.provider_message_id))
    assert receipt.status == "delivered"


def test_jasmin_relays_long_cyrillic_as_parts_and_every_receipt(
    via_jasmin: Callable[..., SmppChannel], network: Smsc, listening: Callable[..., Collector]
) -> None:
    channel = via_jasmin()
    collector = listening(channel)
    accepted = channel.send(outgoing(LONG_CYRILLIC, address="+38970000002"))
    parts = submits_to(network, "38970000002", 3)
    assert len(parts) == 3
    assert {p.data_coding for p in parts} == {8}
    assert [p.udh[-1] for p in parts] == [1, 2, 3]
    assert joined_payload(parts) == LONG_CYRILLIC
    receipts = collector.receipts(str(accepted.provider_message_id), count=3)
    assert {r.status for r in receipts} == {"delivered"}


@pytest.mark.parametrize(
    ("text", "data_coding", "octets"),
    [
        ("СТОП", 8, "СТОП".encode("utf-16-be")),
        ("STOP", 0, b"STOP"),
        ("ДА", 8, "ДА".encode("utf-16-be")),
    ],
)
def test_jasmin_routes_a_handset_reply_to_navreme(
    via_jasmin: Callable[..., SmppChannel],
    network: Smsc,
    listening: Callable[..., Collector],
    text: str,
    data_coding: int,
    octets: bytes,
) -> None:
    channel = via_jasmin()
    collector = listening(channel)
    channel.send(outgoing("Reply STOP to unsubscribe", address="+38970000003"))  # binds
    network.inject_mo(
        source_addr="38970000003",
        destination_addr="Navreme",
        short_message=octets,
        data_coding=data_coding,
    )
    (message,) = collector.inbound(1)
    assert message.text == text
    assert message.sender == "+38970000003"


def test_jasmin_going_down_is_retryable(
    gateway: jasmin.JasminStack,
    network: Smsc,
    channels: Callable[..., SmppChannel],
    tmp_path: Path,
) -> None:
    # a Jasmin of its own, stopped in the middle of the test; the shared one stays up
    own = jasmin.start_jasmin(tmp_path, network.port, (network.system_id, network.password))
    try:
        channel = channels(own.smpp_port, system_id=jasmin.USER[0], password=jasmin.USER[1])
        channel.send(outgoing("before", address="+38970000005"))
        jasmin.stop_process(own.processes[-1])  # jasmind, by PID
        with pytest.raises(DeliveryError) as raised:
            channel.send(outgoing("after", address="+38970000005"))
    finally:
        own.stop()
    assert raised.value.retryable is True
    assert raised.value.code in {"connection", "connect"}


def test_jasmin_throttles_a_user_over_its_rate(via_jasmin: Callable[..., SmppChannel]) -> None:
    channel = via_jasmin(jasmin.SLOW_USER)
    channel.send(outgoing("first", address="+38970000004"))
    with pytest.raises(DeliveryError) as raised:
        channel.send(outgoing("second", address="+38970000004"))
    assert raised.value.retryable is True
    assert raised.value.code == "0x58"


def test_jasmin_refuses_an_invalid_destination_for_good(
    via_jasmin: Callable[..., SmppChannel],
) -> None:
    with pytest.raises(DeliveryError) as raised:
        via_jasmin().send(outgoing("hello", address="+0123"))
    assert raised.value.retryable is False
    assert raised.value.code == "0x0B"
