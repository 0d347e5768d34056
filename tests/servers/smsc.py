"""A minimal SMPP 3.4 SMSC (the "phone network") over asyncio, for the SMS channel's tests.

It is a real SMPP peer on a loopback TCP port, written from the SMPP 3.4 specification: it
answers bind_transmitter/receiver/transceiver, enquire_link and unbind, accepts submit_sm with
its own message ids (or refuses it with the command_status a test chose: throttled, invalid
destination, …), sends the standard delivery receipt ("id:… sub:… dlvrd:… submit date:… done
date:… stat:DELIVRD err:000 text:…") as a deliver_sm with esm_class 0x04 when the submit asked
for one, and can inject a mobile-originated deliver_sm (a handset's reply). Every submit_sm is
kept with its raw fields, so a test can check the exact octets that reached the network.

It serves both the adapter directly and Jasmin's SMPP client connector. It runs its own event
loop in a daemon thread of the test process; `stop()` closes every session and the listener.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESP = 0x80000000
BINDS = {BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER}

ESME_ROK = 0x00
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RINVPASWD = 0x0E

HEADER = struct.Struct(">IIII")


@dataclass
class Submit:
    """One submit_sm as it arrived, and what the SMSC answered."""

    system_id: str
    sequence: int
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes] = field(default_factory=dict)
    status: int = ESME_ROK
    message_id: str = ""

    @property
    def udh(self) -> bytes:
        """The user data header (concatenation info) when esm_class has UDHI, else b""."""
        if not self.esm_class & 0x40 or not self.short_message:
            return b""
        return self.short_message[: self.short_message[0] + 1]

    @property
    def payload(self) -> bytes:
        """The message octets without the user data header."""
        return self.short_message[len(self.udh) :]


def _cstring(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\x00", at)
    return body[at:end].decode("latin-1"), end + 1


def _tlvs(body: bytes, at: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    while at + 4 <= len(body):
        tag, length = struct.unpack_from(">HH", body, at)
        found[tag] = body[at + 4 : at + 4 + length]
        at += 4 + length
    return found


def parse_sm(body: bytes) -> dict[str, object]:
    """The fields of a submit_sm or deliver_sm body (they share one layout)."""
    fields: dict[str, object] = {}
    fields["service_type"], at = _cstring(body, 0)
    fields["source_addr_ton"], fields["source_addr_npi"] = body[at], body[at + 1]
    fields["source_addr"], at = _cstring(body, at + 2)
    fields["dest_addr_ton"], fields["dest_addr_npi"] = body[at], body[at + 1]
    fields["destination_addr"], at = _cstring(body, at + 2)
    fields["esm_class"], fields["protocol_id"], fields["priority_flag"] = body[at : at + 3]
    fields["schedule_delivery_time"], at = _cstring(body, at + 3)
    fields["validity_period"], at = _cstring(body, at)
    (
        fields["registered_delivery"],
        fields["replace_if_present_flag"],
        fields["data_coding"],
        fields["sm_default_msg_id"],
        length,
    ) = body[at : at + 5]
    at += 5
    fields["short_message"] = body[at : at + length]
    fields["tlvs"] = _tlvs(body, at + length)
    return fields


def build_sm(
    *,
    source_addr: str,
    destination_addr: str,
    short_message: bytes,
    esm_class: int = 0,
    data_coding: int = 0,
    source_addr_ton: int = 1,
    source_addr_npi: int = 1,
    dest_addr_ton: int = 1,
    dest_addr_npi: int = 1,
    tlvs: dict[int, bytes] | None = None,
) -> bytes:
    """A deliver_sm body."""
    body = bytearray(b"\x00")  # service_type
    body += bytes((source_addr_ton, source_addr_npi)) + source_addr.encode() + b"\x00"
    body += bytes((dest_addr_ton, dest_addr_npi)) + destination_addr.encode() + b"\x00"
    body += bytes((esm_class, 0, 0)) + b"\x00\x00"  # protocol_id, priority, two empty times
    body += bytes((0, 0, data_coding, 0, len(short_message))) + short_message
    for tag, value in (tlvs or {}).items():
        body += struct.pack(">HH", tag, len(value)) + value
    return bytes(body)


def receipt_text(message_id: str, stat: str, err: str = "000", text: bytes = b"") -> bytes:
    """The de-facto standard receipt (SMPP 3.4 appendix B) that SMSCs and Jasmin parse."""
    stamp = time.strftime("%y%m%d%H%M", time.gmtime())
    delivered = "001" if stat == "DELIVRD" else "000"
    head = (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{stamp} done date:{stamp} "
        f"stat:{stat} err:{err} text:"
    )
    return head.encode("ascii") + text[:20]


@dataclass
class _Session:
    writer: asyncio.StreamWriter
    system_id: str = ""
    bound: int = 0
    sequence: itertools.count = field(default_factory=lambda: itertools.count(1))

    def send(self, command: int, status: int, sequence: int, body: bytes = b"") -> None:
        self.writer.write(HEADER.pack(16 + len(body), command, status, sequence) + body)


class Smsc:
    """The simulator. `decide(submit)` returns the command_status for a submit_sm (default OK);
    `dlr_stat(submit)` the stat of its delivery receipt (default DELIVRD, None for none)."""

    def __init__(self, *, system_id: str = "smsc", password: str = "smscpwd") -> None:  # noqa: S107
        self.system_id = system_id
        self.password = password
        self.port = 0
        self.submits: list[Submit] = []
        self.binds: list[tuple[int, str]] = []
        self.decide: Callable[[Submit], int] = lambda submit: ESME_ROK
        self.dlr_stat: Callable[[Submit], str | None] = lambda submit: "DELIVRD"
        self.deliver_responses: list[int] = []  # command_status of each deliver_sm_resp
        # a receipt follows its submit_sm_resp after this long, as on a network (and Jasmin
        # stores its id map only after relaying the response)
        self.dlr_delay = 0.3
        self._ids = itertools.count(1)
        self._sessions: list[_Session] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._changed = threading.Condition()

    # lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> int:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(port), self._loop).result(10)
        return self.port

    async def _start(self, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        return int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    async def _stop(self) -> None:
        self.drop_sessions()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_sessions(self) -> None:
        """Close every session's socket, as a crashed or restarted SMSC would."""
        for session in list(self._sessions):
            session.writer.close()
        self._sessions.clear()

    # what tests wait for ------------------------------------------------------------------
    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise TimeoutError("the SMSC simulator did not see what the test waited for")

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def inject_mo(
        self,
        *,
        source_addr: str,
        destination_addr: str,
        short_message: bytes,
        data_coding: int = 0,
        esm_class: int = 0,
        tlvs: dict[int, bytes] | None = None,
    ) -> None:
        """A handset sends a message: one deliver_sm to the first bound receiver session."""
        body = build_sm(
            source_addr=source_addr,
            destination_addr=destination_addr,
            short_message=short_message,
            data_coding=data_coding,
            esm_class=esm_class,
            tlvs=tlvs,
        )
        self._loop.call_soon_threadsafe(self._deliver, body)

    def _deliver(self, body: bytes) -> None:
        receivers = [s for s in self._sessions if s.bound in (BIND_RECEIVER, BIND_TRANSCEIVER)]
        if not receivers:
            raise RuntimeError("no receiver is bound to the SMSC simulator")
        session = receivers[0]
        session.send(DELIVER_SM, ESME_ROK, next(session.sequence), body)

    # the protocol --------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.append(session)
        try:
            while True:
                header = await reader.readexactly(16)
                length, command, status, sequence = HEADER.unpack(header)
                body = await reader.readexactly(length - 16)
                self._handle(session, command, status, sequence, body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if session in self._sessions:
                self._sessions.remove(session)
            writer.close()
            self._notify()

    def _handle(
        self, session: _Session, command: int, status: int, sequence: int, body: bytes
    ) -> None:
        if command in BINDS:
            self._bind(session, command, sequence, body)
        elif command == ENQUIRE_LINK:
            session.send(ENQUIRE_LINK | RESP, ESME_ROK, sequence)
        elif command == UNBIND:
            session.send(UNBIND | RESP, ESME_ROK, sequence)
            session.bound = 0
        elif command == SUBMIT_SM:
            self._submit(session, sequence, body)
        elif command == DELIVER_SM | RESP:
            self.deliver_responses.append(status)
            self._notify()
        elif command & RESP:
            pass  # enquire_link_resp and the like need no answer
        else:
            session.send(GENERIC_NACK, ESME_RINVCMDID, sequence)

    def _bind(self, session: _Session, command: int, sequence: int, body: bytes) -> None:
        system_id, at = _cstring(body, 0)
        password, _ = _cstring(body, at)
        if (system_id, password) != (self.system_id, self.password):
            session.send(command | RESP, ESME_RINVPASWD, sequence, b"\x00")
            return
        session.system_id, session.bound = system_id, command
        self.binds.append((command, system_id))
        session.send(command | RESP, ESME_ROK, sequence, self.system_id.encode() + b"\x00")
        self._notify()

    def _submit(self, session: _Session, sequence: int, body: bytes) -> None:
        if session.bound not in (BIND_TRANSMITTER, BIND_TRANSCEIVER):
            session.send(SUBMIT_SM | RESP, ESME_RINVBNDSTS, sequence, b"\x00")
            return
        fields = parse_sm(body)
        submit = Submit(
            system_id=session.system_id,
            sequence=sequence,
            source_addr_ton=int(fields["source_addr_ton"]),  # type: ignore[call-overload]
            source_addr_npi=int(fields["source_addr_npi"]),  # type: ignore[call-overload]
            source_addr=str(fields["source_addr"]),
            dest_addr_ton=int(fields["dest_addr_ton"]),  # type: ignore[call-overload]
            dest_addr_npi=int(fields["dest_addr_npi"]),  # type: ignore[call-overload]
            destination_addr=str(fields["destination_addr"]),
            esm_class=int(fields["esm_class"]),  # type: ignore[call-overload]
            registered_delivery=int(fields["registered_delivery"]),  # type: ignore[call-overload]
            data_coding=int(fields["data_coding"]),  # type: ignore[call-overload]
            short_message=bytes(fields["short_message"]),  # type: ignore[call-overload]
            tlvs=dict(fields["tlvs"]),  # type: ignore[call-overload]
        )
        submit.status = self.decide(submit)
        if submit.status == ESME_ROK:
            submit.message_id = f"{next(self._ids):08X}"
        self.submits.append(submit)  # before the answer: the client may look right after it
        session.send(SUBMIT_SM | RESP, submit.status, sequence, submit.message_id.encode() + b"\0")
        stat = self.dlr_stat(submit) if submit.status == ESME_ROK else None
        if stat is not None and submit.registered_delivery & 0x01:
            self._loop.call_later(self.dlr_delay, self._send_receipt, session, submit, stat)
        self._notify()

    def _send_receipt(self, session: _Session, submit: Submit, stat: str) -> None:
        readable = submit.payload if submit.data_coding in (0, 1) else b""
        text = receipt_text(submit.message_id, stat, text=readable)
        tlvs = {
            0x001E: submit.message_id.encode() + b"\x00",  # receipted_message_id
            0x0427: bytes((2 if stat == "DELIVRD" else 5,)),  # message_state
        }
        body = build_sm(
            source_addr=submit.destination_addr,
            destination_addr=submit.source_addr,
            short_message=text,
            esm_class=0x04,
            source_addr_ton=submit.dest_addr_ton,
            dest_addr_ton=submit.source_addr_ton,
            tlvs=tlvs,
        )
        session.send(DELIVER_SM, ESME_ROK, next(session.sequence), body)
