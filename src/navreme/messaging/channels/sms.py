"""SMS over SMPP 3.4: one bound transceiver session to an SMS gateway (Jasmin) or an operator's SMSC.

Why SMPP rather than an HTTP SMS API: it is what every operator and open gateway speaks, it
carries delivery receipts and the citizens' replies (MO) on the same connection, and it is
binary-exact about encodings, so Cyrillic and Albanian texts reach handsets as written.

Sending: the text is sent as GSM-7 (data_coding 0, unpacked septets) when every character is in
the GSM 03.38 alphabet, else as UCS-2 (data_coding 8). A long text goes as concatenated parts,
each with the 6-octet UDH (IEI 0x00, 8-bit reference); the parts come from
`navreme.messaging.segments.split`, which never cuts a GSM escape pair or a UTF-16 surrogate pair
(smpplib's `gsm.make_parts` cuts fixed byte slices and can split both; its GSM table also maps
0x5F to a backtick). The concatenation reference is taken from `Outgoing.attempt_id`, so the parts
of a retried message carry the same reference as the first try. SMPP has no idempotency key: a
retry after a lost submit_sm_resp can still reach the handset twice; the provider message id is
the SMSC's message_id from submit_sm_resp (for a long message the first part's id, and every
part's id is remembered so that the receipt of any part names the message).

One session serves every thread. A reader thread owns the socket's reading side and hands each
response to the request waiting for its sequence number; writers take a lock. `window` bounds
the submits awaiting their response. A dead session (closed socket, unbind, timeout, missing
enquire_link answers) fails its waiting requests as retryable and the next call binds anew.
enquire_link keeps an idle session alive through NAT and gateway idle timers.

Receiving (`listen`): a deliver_sm whose esm_class has the receipt bit (0x04, or 0x20 for an
intermediate notification) is a delivery receipt: its "id:… stat:…" text (or the
receipted_message_id/message_state optional parameters) becomes a `Receipt`. Any other
deliver_sm is a message from a handset, an `Inbound` whose text is decoded by data_coding (and
reassembled when it came as concatenated parts). SMPP gives a mobile-originated message no id,
so its `provider_message_id` is the SMSC's receipted_message_id when the SMSC sends one, else
"mo-" + a SHA-256 over (source, destination, text, sequence number): two identical texts from
one person stay two messages, while a deliver_sm that is answered late and resent with the same
sequence number is recognised as the same one. The deliver_sm is answered only after
`deliver` returned, so a message the platform failed to record is refused with
ESME_RX_T_APPN and the gateway delivers it again. A deliver_sm that reaches a session with no
listener (a worker process that only sends) is refused the same way for the same reason.

Settings (keyword arguments, from NAVREME_CHANNELS):
    host, port=2775: the SMPP server (gateway or SMSC).
    system_id, password: the bind credentials (SMPP passwords are at most 8 characters).
    source_addr: the sender shown on handsets (alphanumeric with source_ton=5, or a number).
    source_ton=5, source_npi=0: type of number and numbering plan of source_addr.
    system_type="": sent at bind, some SMSCs require it.
    timeout=10.0: seconds for connect, bind and each submit_sm_resp.
    window=10: submit_sm PDUs in flight at once on the session.
    enquire_link_interval=30.0: seconds of silence before an enquire_link is sent.
    dest_ton=1, dest_npi=1: how destination numbers (E.164 without "+") are marked.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import re
import select
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

from navreme import clock
from navreme.messaging import segments
from navreme.messaging.channels.base import (
    Accepted,
    DeliveryError,
    Event,
    Inbound,
    Outgoing,
    Receipt,
    ReceiptStatus,
)

log = logging.getLogger(__name__)

ROK = 0x00
RX_T_APPN = 0x64  # "ESME receiver temporary app error": the SMSC keeps the message and retries

# command_status that may succeed later (the dispatcher backs off); retry_after where it helps
RETRYABLE: dict[int, float | None] = {
    0x04: None,  # ESME_RINVBNDSTS: the session lost its bind; a new one is made
    0x05: None,  # ESME_RALYBND
    0x08: None,  # ESME_RSYSERR
    0x0D: None,  # ESME_RBINDFAIL
    0x0E: None,  # ESME_RINVPASWD: configuration, not the citizen's number
    0x0F: None,  # ESME_RINVSYSID: idem
    0x14: 10.0,  # ESME_RMSGQFUL: the SMSC's queue is full
    0x45: None,  # ESME_RSUBMITFAIL: the gateway could not route it now
    0x58: 1.0,  # ESME_RTHROTTLED: above the agreed rate; SMPP says no more, a second is usual
    0x64: None,  # ESME_RX_T_APPN
    0xFE: None,  # ESME_RDELIVERYFAILURE
    0xFF: None,  # ESME_RUNKNOWNERR
}
# command_status that no retry will change: a wrong number, a refused sender, a bad PDU
PERMANENT = frozenset(
    {
        0x01,  # ESME_RINVMSGLEN
        0x02,  # ESME_RINVCMDLEN
        0x03,  # ESME_RINVCMDID
        0x06,  # ESME_RINVPRTFLG
        0x07,  # ESME_RINVREGDLVFLG
        0x0A,  # ESME_RINVSRCADR
        0x0B,  # ESME_RINVDSTADR
        0x33,  # ESME_RINVNUMDESTS
        0x43,  # ESME_RINVESMCLASS
        0x48,  # ESME_RINVSRCTON
        0x49,  # ESME_RINVSRCNPI
        0x50,  # ESME_RINVDSTTON
        0x51,  # ESME_RINVDSTNPI
        0x53,  # ESME_RINVSYSTYP
        0x61,  # ESME_RINVSCHED
        0x62,  # ESME_RINVEXPIRY
        0x65,  # ESME_RX_P_APPN
        0x66,  # ESME_RX_R_APPN
        0xC0,  # ESME_RINVOPTPARSTREAM
        0xC1,  # ESME_ROPTPARNOTALLWD
        0xC2,  # ESME_RINVPARLEN
        0xC3,  # ESME_RMISSINGOPTPARAM
        0xC4,  # ESME_RINVOPTPARAMVAL
    }
)

RECEIPT_BITS = 0x04 | 0x20  # SMSC delivery receipt, intermediate delivery notification
UDHI = 0x40
DATA_CODING = {"gsm7": 0x00, "ucs2": 0x08}

# receipt "stat:" (and message_state) -> what the platform records
RECEIPT_STATUS: dict[str, ReceiptStatus] = {
    "DELIVRD": "delivered",
    "ACCEPTD": "sent",
    "ENROUTE": "sent",
    "UNDELIV": "permanent-failure",
    "REJECTD": "permanent-failure",
    "EXPIRED": "permanent-failure",
    "DELETED": "permanent-failure",
    "UNKNOWN": "failed-temporary",
}
MESSAGE_STATE = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_RECEIPT_FIELD = re.compile(r"(id|stat|err|done date):(\S+)", re.IGNORECASE)
_PARTS_REMEMBERED = 100_000  # part id -> first part id, for receipts of long messages
_REASSEMBLY_LIMIT = 1_000  # incomplete concatenated MO messages kept at once


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    response: Any = None
    failure: str | None = None
    on_response: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class _Delivered:
    """A deliver_sm not answered yet: answered after the listener has recorded its event."""

    session: _Session
    sequence: int
    event: Event | None  # None: a part of a longer message, or nothing the platform records


class _Session:
    """One bound SMPP session: a writer lock, a reader thread, the requests awaiting answers."""

    def __init__(
        self,
        client: smpplib.client.Client,
        on_deliver: Callable[[_Session, Any], None],
        keepalive: float,
    ) -> None:
        self.client = client
        self._on_deliver = on_deliver
        self._keepalive = keepalive
        self._write = threading.Lock()
        self._waiting: dict[int, _Waiter] = {}
        self._waiting_lock = threading.Lock()
        self.alive = True
        self.closing = False
        self._last_heard = time.monotonic()
        self._last_probe = 0.0
        self._reader = threading.Thread(target=self._read_loop, name="smpp-reader", daemon=True)
        self._reader.start()

    # writing ---------------------------------------------------------------------------
    def request(
        self,
        command: str,
        timeout: float,
        on_response: Callable[[Any], None] | None = None,
        **fields: Any,
    ) -> Any:
        """Send a request PDU and wait for its response (raises ConnectionError when dead).

        `on_response` runs on the reader thread before any later PDU is read, so what it
        records (a part's id) is there before a receipt that follows the response is parsed.
        """
        waiter = _Waiter(on_response=on_response)
        with self._write:
            if not self.alive:
                raise smpplib.exceptions.ConnectionError("session closed")
            pdu = smpplib.smpp.make_pdu(command, client=self.client, **fields)
            with self._waiting_lock:
                self._waiting[pdu.sequence] = waiter
            self._send(pdu)
        if not waiter.done.wait(timeout):
            with self._waiting_lock:
                self._waiting.pop(pdu.sequence, None)
            raise TimeoutError(f"no {command}_resp within {timeout} s")
        if waiter.failure is not None:
            raise smpplib.exceptions.ConnectionError(waiter.failure)
        return waiter.response

    def respond(self, command: str, sequence: int, status: int = ROK) -> None:
        """Answer a PDU the peer sent (deliver_sm_resp, enquire_link_resp, unbind_resp)."""
        with self._write:
            if not self.alive:
                return  # the peer will resend on the next session
            pdu = smpplib.smpp.make_pdu(command, client=self.client, status=status)
            pdu.sequence = sequence
            self._send(pdu)

    def _send(self, pdu: Any) -> None:
        try:
            self.client.send_pdu(pdu)
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError):
            self._die("send failed")
            raise smpplib.exceptions.ConnectionError("send failed") from None

    # reading ---------------------------------------------------------------------------
    def _read_loop(self) -> None:
        while self.alive:
            try:
                sock = self.client._socket  # smpplib exposes no reader; select needs the socket
                if sock is None:
                    break
                readable, _, _ = select.select([sock], [], [], 0.5)
                if readable:
                    self._dispatch(self.client.read_pdu())
                    self._last_heard = time.monotonic()
                else:
                    self._keep_alive()
            except (smpplib.exceptions.ConnectionError, OSError, ValueError, AttributeError):
                # AttributeError: close() dropped smpplib's socket while read_pdu was reading
                self._die("connection lost")
            except (smpplib.exceptions.PDUError, smpplib.exceptions.UnknownCommandError) as bad:
                log.warning("smpp: unreadable PDU skipped: %s", type(bad).__name__)
            except Exception:
                log.exception("smpp: reader failed")
                self._die("reader failed")
        self._disconnect()

    def _keep_alive(self) -> None:
        now = time.monotonic()
        silent = now - self._last_heard
        if silent > 3 * self._keepalive:
            self._die("no answer to enquire_link")
        elif silent > self._keepalive and now - self._last_probe > self._keepalive:
            self._last_probe = now
            with self._write:
                if self.alive:
                    self._send(smpplib.smpp.make_pdu("enquire_link", client=self.client))

    def _dispatch(self, pdu: Any) -> None:
        command = pdu.command
        if command == "deliver_sm":
            self._on_deliver(self, pdu)
        elif command == "enquire_link":
            self.respond("enquire_link_resp", pdu.sequence)
        elif command == "unbind":
            self.respond("unbind_resp", pdu.sequence)
            self._die("unbound by the peer")
        elif command.endswith("_resp") or command == "generic_nack":
            with self._waiting_lock:
                waiter = self._waiting.pop(pdu.sequence, None)
            if waiter is not None:
                waiter.response = pdu
                if waiter.on_response is not None:
                    waiter.on_response(pdu)
                waiter.done.set()
        else:
            log.warning("smpp: unexpected %s ignored", command)

    # ending ----------------------------------------------------------------------------
    def _die(self, why: str) -> None:
        with self._waiting_lock:  # the reader and a sender may both find the session dead
            if not self.alive:
                return
            self.alive = False
            waiting, self._waiting = self._waiting, {}
        level = logging.INFO if self.closing else logging.WARNING
        log.log(level, "smpp: session ended (%s)", why)
        for waiter in waiting.values():
            waiter.failure = why
            waiter.done.set()
        sock = self.client._socket
        if sock is not None:
            # wakes the reader, which closes the socket itself: closing it under a recv()
            # in another thread would be a use of a closed descriptor
            with contextlib.suppress(OSError):  # already closed by the peer
                sock.shutdown(socket.SHUT_RDWR)
        if threading.current_thread() is self._reader:
            self._disconnect()

    def _disconnect(self) -> None:
        if self.client._socket is not None:
            # unbound or lost: smpplib would warn about disconnecting a bound session
            self.client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN
            self.client.disconnect()

    def close(self, timeout: float) -> None:
        self.closing = True
        if self.alive:
            # the peer may be gone already: then there is nothing to unbind
            with contextlib.suppress(smpplib.exceptions.ConnectionError, TimeoutError):
                self.request("unbind", min(timeout, 2.0))
            with self._write:
                self._die("closed")
        if self._reader is not threading.current_thread():
            self._reader.join(timeout)


class SmppChannel:
    """The `smpp` adapter: SMS through an SMPP 3.4 gateway. Settings: see the module docstring."""

    name: ClassVar[str] = "smpp"

    def __init__(
        self,
        host: str,
        system_id: str,
        password: str,
        source_addr: str,
        port: int = 2775,
        source_ton: int = 5,
        source_npi: int = 0,
        system_type: str = "",
        timeout: float = 10.0,
        window: int = 10,
        enquire_link_interval: float = 30.0,
        dest_ton: int = 1,
        dest_npi: int = 1,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.system_id = system_id
        self.password = password
        self.source_addr = source_addr
        self.source_ton = source_ton
        self.source_npi = source_npi
        self.system_type = system_type
        self.timeout = float(timeout)
        self.enquire_link_interval = float(enquire_link_interval)
        self.dest_ton = dest_ton
        self.dest_npi = dest_npi
        self._window = threading.BoundedSemaphore(window)
        self._session: _Session | None = None
        self._session_lock = threading.Lock()
        self._parts: OrderedDict[str, str] = OrderedDict()
        self._parts_lock = threading.Lock()
        self._events: queue.Queue[_Delivered] = queue.Queue()
        self._listeners = 0
        self._listeners_lock = threading.Lock()
        self._pieces: OrderedDict[tuple[str, str, int, int], dict[int, str]] = OrderedDict()
        self._closed = False

    # the session -----------------------------------------------------------------------
    def _bound(self) -> _Session:
        with self._session_lock:
            if self._closed:
                raise DeliveryError("the SMPP channel is closed", retryable=True, code="closed")
            if self._session is None or not self._session.alive:
                self._session = self._bind()
            return self._session

    def _bind(self) -> _Session:
        client = smpplib.client.Client(
            self.host,
            self.port,
            timeout=self.timeout,
            allow_unknown_opt_params=True,
            logger_name=f"{__name__}.smpplib",
        )
        # smpplib's DEBUG lines dump whole PDUs: numbers and texts stay out of the logs
        client.logger.setLevel(logging.INFO)
        try:
            client.connect()
            client.bind_transceiver(
                system_id=self.system_id,
                password=self.password,
                system_type=self.system_type,
            )
        except smpplib.exceptions.PDUError as refused:
            client.disconnect()
            status = int(refused.args[1]) if len(refused.args) > 1 else 0xFF
            raise DeliveryError(
                f"SMPP bind refused (0x{status:02X})", retryable=True, code=f"bind:0x{status:02X}"
            ) from None
        except (smpplib.exceptions.ConnectionError, OSError) as failed:
            client.disconnect()
            raise DeliveryError(
                f"SMPP gateway {self.host}:{self.port} unreachable: {type(failed).__name__}",
                retryable=True,
                code="connect",
            ) from None
        log.info("smpp: bound to %s:%s as transceiver", self.host, self.port)
        return _Session(client, self._on_deliver, self.enquire_link_interval)

    # sending ---------------------------------------------------------------------------
    def send(self, message: Outgoing) -> Accepted:
        destination = _destination(message.address)
        coding = segments.encoding(message.text)
        parts = _encode_parts(message.text, coding, reference=message.attempt_id.int & 0xFF)
        session = self._bound()
        ids: list[str] = []
        for short_message in parts:
            ids.append(
                self._submit(session, destination, coding, short_message, len(parts) > 1, ids)
            )
        log.info("smpp: submitted %d part(s) as %s, first id %s", len(ids), coding, ids[0])
        return Accepted(provider_message_id=ids[0], detail=f"{len(ids)} part(s), {coding}")

    def _submit(
        self,
        session: _Session,
        destination: str,
        coding: str,
        short_message: bytes,
        udh: bool,
        earlier: list[str],
    ) -> str:
        def remember(response: Any) -> None:
            if response.command == "submit_sm_resp" and int(response.status) == ROK:
                part_id = _text(response.message_id)
                self._remember(part_id, earlier[0] if earlier else part_id)

        with self._window:
            try:
                response = session.request(
                    "submit_sm",
                    self.timeout,
                    remember,
                    service_type="",
                    source_addr_ton=self.source_ton,
                    source_addr_npi=self.source_npi,
                    source_addr=self.source_addr,
                    dest_addr_ton=self.dest_ton,
                    dest_addr_npi=self.dest_npi,
                    destination_addr=destination,
                    esm_class=UDHI if udh else 0,
                    registered_delivery=1,
                    data_coding=DATA_CODING[coding],
                    short_message=short_message,
                )
            except TimeoutError:
                session._die("submit_sm_resp timed out")
                raise DeliveryError(
                    "SMPP gateway did not answer submit_sm in time", retryable=True, code="timeout"
                ) from None
            except smpplib.exceptions.ConnectionError:
                raise DeliveryError(
                    "SMPP session lost during submit_sm", retryable=True, code="connection"
                ) from None
        status = int(response.status)
        if response.command == "generic_nack" or status != ROK:
            raise _refusal(status)
        return _text(response.message_id)

    def _remember(self, part_id: str, first_id: str) -> None:
        with self._parts_lock:
            self._parts[part_id] = first_id
            while len(self._parts) > _PARTS_REMEMBERED:
                self._parts.popitem(last=False)

    # receiving -------------------------------------------------------------------------
    def listen(self, deliver: Callable[[list[Event]], None], stop: threading.Event) -> None:
        with self._listeners_lock:
            self._listeners += 1
        backoff = 0.5
        try:
            while not stop.is_set():
                try:
                    self._bound()
                    backoff = 0.5
                except DeliveryError as unreachable:
                    log.warning("smpp: listener cannot bind (%s), retrying", unreachable.code)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                batch = self._take(0.5)
                if batch:
                    self._hand_over(batch, deliver, stop)
        finally:
            with self._listeners_lock:
                self._listeners -= 1

    def _take(self, wait: float) -> list[_Delivered]:
        try:
            batch = [self._events.get(timeout=wait)]
        except queue.Empty:
            return []
        while True:
            try:
                batch.append(self._events.get_nowait())
            except queue.Empty:
                return batch

    def _hand_over(
        self,
        batch: list[_Delivered],
        deliver: Callable[[list[Event]], None],
        stop: threading.Event,
    ) -> None:
        events = [item.event for item in batch if item.event is not None]
        status = ROK
        try:
            if events:
                deliver(events)
        except Exception:
            log.exception(
                "smpp: recording %d event(s) failed; the gateway will resend", len(events)
            )
            status = RX_T_APPN
        for item in batch:
            item.session.respond("deliver_sm_resp", item.sequence, status)
        if status != ROK:
            stop.wait(1.0)

    def _on_deliver(self, session: _Session, pdu: Any) -> None:
        """Reader thread: parse a deliver_sm and queue it for the listener (or refuse it)."""
        with self._listeners_lock:
            listening = self._listeners > 0
        if not listening:
            session.respond("deliver_sm_resp", pdu.sequence, RX_T_APPN)
            return
        try:
            event = self._event(pdu)
        except Exception:
            log.exception("smpp: deliver_sm could not be read; acknowledged and dropped")
            event = None
        self._events.put(_Delivered(session, pdu.sequence, event))

    def _event(self, pdu: Any) -> Event | None:
        esm_class = int(pdu.esm_class or 0)
        if esm_class & RECEIPT_BITS:
            return self._receipt(pdu)
        return self._inbound(pdu, esm_class)

    def _receipt(self, pdu: Any) -> Receipt | None:
        fields = {
            key.lower(): value
            for key, value in _RECEIPT_FIELD.findall(_octets(pdu.short_message).decode("latin-1"))
        }
        provider_id = _text(pdu.receipted_message_id) or fields.get("id", "")
        stat = fields.get("stat", "").upper() or MESSAGE_STATE.get(int(pdu.message_state or 0), "")
        if not provider_id or stat not in RECEIPT_STATUS:
            log.warning("smpp: receipt without id or known stat ignored")
            return None
        with self._parts_lock:
            provider_id = self._parts.get(provider_id, provider_id)
        err = fields.get("err")
        status = RECEIPT_STATUS[stat]
        return Receipt(
            channel="sms",
            provider_message_id=provider_id,
            status=status,
            at=_receipt_time(fields.get("done date", "")),
            error_code=None if status == "delivered" else f"{stat}:{err or '-'}",
        )

    def _inbound(self, pdu: Any, esm_class: int) -> Inbound | None:
        octets = _octets(pdu.short_message) or _octets(pdu.message_payload)
        header = b""
        if esm_class & UDHI and octets:
            header, octets = octets[: octets[0] + 1], octets[octets[0] + 1 :]
        text = _decode(octets, int(pdu.data_coding or 0))
        source, destination = _text(pdu.source_addr), _text(pdu.destination_addr)
        whole = self._reassemble(source, destination, header, text)
        if whole is None:
            return None
        sender = "+" + source if int(pdu.source_addr_ton or 0) == 1 and source.isdigit() else source
        provider_id = _text(pdu.receipted_message_id) or _mo_id(
            source, destination, whole, int(pdu.sequence)
        )
        return Inbound(
            channel="sms",
            provider_message_id=provider_id,
            sender=sender,
            text=whole,
            received_at=clock.now(),
        )

    def _reassemble(self, source: str, destination: str, header: bytes, text: str) -> str | None:
        """The whole text, or None while parts of a concatenated message are still missing."""
        concatenation = _concatenation(header)
        if concatenation is None:
            return text
        reference, total, number = concatenation
        key = (source, destination, reference, total)
        with self._parts_lock:
            pieces = self._pieces.setdefault(key, {})
            pieces[number] = text
            if len(pieces) < total:
                while len(self._pieces) > _REASSEMBLY_LIMIT:
                    self._pieces.popitem(last=False)
                return None
            del self._pieces[key]
        return "".join(pieces[n] for n in sorted(pieces))

    def close(self) -> None:
        with self._session_lock:
            self._closed = True
            session, self._session = self._session, None
        if session is not None:
            session.close(self.timeout)


# helpers -----------------------------------------------------------------------------------
def _destination(address: str) -> str:
    digits = address.strip().removeprefix("+")
    if not digits.isdigit() or not 3 <= len(digits) <= 15:
        raise DeliveryError("not a phone number", retryable=False, code="invalid-address")
    return digits


def _encode_parts(text: str, coding: str, reference: int) -> list[bytes]:
    encode = segments.gsm7_encode if coding == "gsm7" else segments.ucs2_encode
    pieces = segments.split(text)
    if len(pieces) == 1:
        return [encode(pieces[0])]
    if len(pieces) > 255:
        raise DeliveryError("text too long for one SMS", retryable=False, code="too-long")
    header = bytes((0x05, 0x00, 0x03, reference, len(pieces)))
    return [header + bytes((number,)) + encode(piece) for number, piece in enumerate(pieces, 1)]


def _refusal(status: int) -> DeliveryError:
    # a status in neither table (vendor codes 0x400-0x4FF among them) is taken as retryable:
    # the dispatcher bounds the attempts, then falls back to another channel
    code = f"0x{status:02X}"
    if status in PERMANENT:
        return DeliveryError(f"SMPP submit_sm refused ({code})", retryable=False, code=code)
    return DeliveryError(
        f"SMPP submit_sm refused ({code})",
        retryable=True,
        retry_after=RETRYABLE.get(status),
        code=code,
    )


def _octets(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("latin-1")
    return bytes(value)


def _text(value: Any) -> str:
    return _octets(value).decode("latin-1").strip("\x00")


def _decode(octets: bytes, data_coding: int) -> str:
    if data_coding == 0x08:
        return segments.ucs2_decode(octets)
    if data_coding == 0x00:
        return segments.gsm7_decode(octets)
    if data_coding == 0x01:
        return octets.decode("ascii", errors="replace")
    return octets.decode("latin-1")  # 0x03 (ISO-8859-1) and anything else


def _concatenation(header: bytes) -> tuple[int, int, int] | None:
    """(reference, total, number) from a UDH's concatenation element (8- or 16-bit reference)."""
    at = 1
    while at + 2 <= len(header):
        element, length = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + length]
        if element == 0x00 and length == 3:
            return value[0], value[1], value[2]
        if element == 0x08 and length == 4:
            return value[0] << 8 | value[1], value[2], value[3]
        at += 2 + length
    return None


def _mo_id(source: str, destination: str, text: str, sequence: int) -> str:
    digest = hashlib.sha256("\x1f".join((source, destination, text, str(sequence))).encode())
    return "mo-" + digest.hexdigest()[:32]


def _receipt_time(stamp: str) -> datetime | None:
    pattern = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}.get(len(stamp))
    if pattern is None or not stamp.isdigit():
        return None
    try:
        return datetime.strptime(stamp, pattern).replace(tzinfo=UTC)
    except ValueError:
        return None
