"""XMPP: chat messages to a citizen's JID, with delivery receipts and read markers, via slixmpp.

Each message carries the attempt id as its stanza id, asks for a XEP-0184 receipt and is
XEP-0333 markable, so the citizen's client answers "delivered" and "displayed" naming that
id: those come back through `listen()` as `Receipt`s. XMPP has no server-side idempotency, so
a retry of one attempt is a second stanza with the same id (clients may fold it, not all do).

`send()` asks our own server for a ping right after the message: the server handles a
session's stanzas in order, so when the ping is answered the message was taken, or bounced
already if the account does not exist on that server (a permanent error). A bounce from a
remote server comes later, through `listen()`, as a failed `Receipt`.

The connection shows no presence while nobody listens (so messages to our bare JID wait in
the server's offline store instead of reaching a sender-only process), and becomes available
with message carbons while `listen()` runs, so replies a citizen's client sends to the full
JID of some other process of ours are copied to the listener as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import InvalidJID

from navreme import clock
from navreme.messaging.channels.base import (
    Accepted,
    DeliveryError,
    Event,
    Inbound,
    Outgoing,
    Receipt,
)
from navreme.messaging.channels.privateloop import LoopClosed, PrivateLoop

log = logging.getLogger(__name__)

PLUGINS = ("xep_0030", "xep_0184", "xep_0199", "xep_0203", "xep_0280", "xep_0333")
# stanza errors that may clear up: the remote side is busy, down or slow
_TRANSIENT = {"remote-server-timeout", "resource-constraint", "internal-server-error"}
_RETRY_CAP_S = 30.0
_IDLE_CHECK_S = 30.0  # how often a quiet listener checks its connection is still there
_MAX_QUEUED = 10_000  # events kept for a listener that is slow to take them


class XmppChannel:
    """The XMPP adapter. Settings (NAVREME_CHANNELS keys):

    - jid, password: the bot's account, e.g. "navreme@gov.example"
    - host, port: where to connect; host "" looks up the domain's SRV records (default 5222)
    - verify_tls: check the server's certificate (default true; false only for a lab server)
    - ca_file: a PEM file of extra certificates to trust (a private CA), default none
    - direct_tls: TLS from the first byte (XEP-0368, port 5223) instead of STARTTLS
    - timeout: seconds to connect, and for the server to confirm a message (default 15)
    - priority: the presence priority while listening (default 0; keep it non-negative)
    """

    name: ClassVar[str] = "xmpp"

    def __init__(
        self,
        jid: str,
        password: str,
        host: str = "",
        port: int = 5222,
        verify_tls: bool = True,
        ca_file: str = "",
        direct_tls: bool = False,
        timeout: float = 15.0,
        priority: int = 0,
    ) -> None:
        self.jid = slixmpp.JID(jid)
        self.host = host
        self.port = port
        self.verify_tls = verify_tls
        self.ca_file = ca_file
        self.direct_tls = direct_tls
        self.timeout = timeout
        self.priority = priority
        self._password = password
        self._client: slixmpp.ClientXMPP | None = None
        self._connect_lock = asyncio.Lock()
        self._bounces: dict[str, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[Event] = asyncio.Queue(_MAX_QUEUED)
        self._listening = False
        self._available = False
        self._loop = PrivateLoop(f"xmpp {jid}")

    def send(self, message: Outgoing) -> Accepted:
        """Send one chat message; its id (the attempt id) is the provider id."""
        try:
            to = slixmpp.JID(message.address.strip())
        except InvalidJID:
            raise DeliveryError("not a JID", retryable=False, code="jid-malformed") from None
        if not (to.user and to.domain):
            raise DeliveryError("not a user's JID", retryable=False, code="jid-malformed")
        try:
            self._loop.run(self._send(to, message), timeout=self.timeout * 3)
        except TimeoutError:
            raise DeliveryError("XMPP server did not answer in time", retryable=True) from None
        except LoopClosed:
            raise DeliveryError("the XMPP adapter is closed", retryable=True) from None
        return Accepted(provider_message_id=str(message.attempt_id))

    def listen(self, deliver: Callable[[list[Event]], None], stop: threading.Event) -> None:
        """Be available until `stop` is set; messages, receipts and markers go to `deliver`."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    finished, events = self._loop.run_until_stopped(self._next_events(), stop)
                except DeliveryError as failed:
                    failures += 1
                    log.warning("xmpp listener lost its connection (%s), retrying", failed.code)
                    stop.wait(min(_RETRY_CAP_S, 2.0 ** (failures - 1)))
                    continue
                if not finished:
                    return
                failures = 0
                if events:
                    deliver(events)
        finally:
            # offline storage takes over for the next listener; nothing to do once closed
            with contextlib.suppress(LoopClosed, TimeoutError):
                self._loop.run(self._unavailable(), timeout=self.timeout)

    def close(self) -> None:
        self._loop.close(self._disconnect())

    # -- on the private loop --------------------------------------------------------------

    async def _send(self, to: slixmpp.JID, message: Outgoing) -> None:
        client = await self._connected()
        stanza = client.make_message(mto=to, mbody=message.text, mtype="chat")
        stanza["id"] = str(message.attempt_id)
        stanza["request_receipt"] = True
        stanza.enable("markable")
        bounce = asyncio.get_running_loop().create_future()
        self._bounces[stanza["id"]] = bounce
        try:
            stanza.send()
            await self._confirmed(client)
        finally:
            self._bounces.pop(stanza["id"], None)
        if bounce.done():
            raise _failure(bounce.result())

    async def _confirmed(self, client: slixmpp.ClientXMPP) -> None:
        """Our server answered a ping sent after the message, so it has handled the message."""
        try:
            await client.plugin["xep_0199"].ping(jid=self.jid.domain, timeout=self.timeout)
        except IqError:
            return  # an error answer is an answer too: the stanzas before it were handled
        except IqTimeout:
            self._drop(client)
            raise DeliveryError("XMPP server did not confirm", retryable=True) from None

    async def _connected(self) -> slixmpp.ClientXMPP:
        async with self._connect_lock:
            if self._client is not None and self._client.is_connected():
                return self._client
            client = self._new_client()
            outcome = asyncio.get_running_loop().create_future()
            for event, result in (
                ("session_start", None),
                ("failed_all_auth", "not-authorized"),
                ("connection_failed", "connection-failed"),
            ):
                client.add_event_handler(event, _settle(outcome, result))
            client.connect(*((self.host, self.port) if self.host else ()))
            try:
                failed = await asyncio.wait_for(outcome, self.timeout)
            except TimeoutError:
                failed = "connection-timeout"
            if failed is not None:
                self._drop(client)
                raise DeliveryError(f"XMPP login failed: {failed}", retryable=True, code=failed)
            self._client = client
            self._available = False
            return client

    def _new_client(self) -> slixmpp.ClientXMPP:
        client = slixmpp.ClientXMPP(self.jid, self._password)
        client.enable_direct_tls = self.direct_tls
        client.enable_starttls = not self.direct_tls
        client.enable_plaintext = False
        client.ssl_context = self._tls()
        for plugin in PLUGINS:
            client.register_plugin(plugin)
        client.add_event_handler("message", self._on_message)
        client.add_event_handler("message_error", self._on_error)
        client.add_event_handler("carbon_received", self._on_carbon)
        client.add_event_handler("receipt_received", self._on_receipt)
        client.add_event_handler("marker_displayed", self._on_displayed)
        client.add_event_handler("disconnected", lambda _: self._lost(client))
        return client

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(self.ca_file)
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _lost(self, client: slixmpp.ClientXMPP) -> None:
        if self._client is client:
            self._client = None
            self._available = False

    def _drop(self, client: slixmpp.ClientXMPP) -> None:
        client.cancel_connection_attempt()
        client.abort()
        self._lost(client)

    async def _next_events(self) -> list[Event]:
        client = await self._connected()
        self._listening = True
        if not self._available:
            await self._become_available(client)
        try:
            first = await asyncio.wait_for(self._events.get(), _IDLE_CHECK_S)
        except TimeoutError:
            return []
        events = [first]
        while not self._events.empty():
            events.append(self._events.get_nowait())
        return events

    async def _become_available(self, client: slixmpp.ClientXMPP) -> None:
        try:
            await client.plugin["xep_0280"].enable(timeout=self.timeout)
        except (IqError, IqTimeout):
            log.warning("xmpp server refused message carbons")
        client.send_presence(ppriority=self.priority)  # offline messages follow this
        self._available = True

    async def _unavailable(self) -> None:
        self._listening = False
        if self._client is not None and self._available:
            self._client.send_presence(ptype="unavailable")
            self._available = False

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected():
            await client.disconnect(wait=2.0)

    # -- stanza handlers (on the loop) ----------------------------------------------------

    def _on_message(self, stanza: Any) -> None:
        if stanza["type"] not in ("chat", "normal") or not stanza["body"]:
            return
        if stanza["from"].bare == self.jid.bare:
            return
        self._queue(self._inbound(stanza))

    def _on_carbon(self, stanza: Any) -> None:
        """A copy of what a citizen sent to another of our connections (another process)."""
        copied = stanza["carbon_received"]
        if copied["receipt"]:
            self._on_receipt(copied)
        elif copied["displayed"]["id"]:
            self._on_displayed(copied)
        else:
            self._on_message(copied)

    def _on_receipt(self, stanza: Any) -> None:
        self._queue(Receipt(self.name, stanza["receipt"], "delivered", at=clock.now()))

    def _on_displayed(self, stanza: Any) -> None:
        self._queue(Receipt(self.name, stanza["displayed"]["id"], "read", at=clock.now()))

    def _on_error(self, stanza: Any) -> None:
        waiting = self._bounces.get(stanza["id"])
        if waiting is not None and not waiting.done():
            waiting.set_result(stanza)
            return
        failure = _failure(stanza)
        status = "failed-temporary" if failure.retryable else "permanent-failure"
        self._queue(Receipt(self.name, stanza["id"], status, clock.now(), failure.code))

    def _inbound(self, stanza: Any) -> Inbound:
        sender = stanza["from"].bare
        return Inbound(
            channel=self.name,
            # stanza ids are the sender client's choice (some count 1, 2, 3…): scope them
            provider_message_id=f"{sender}/{stanza['id'] or uuid.uuid4()}",
            sender=sender,
            text=stanza["body"],
            received_at=_sent_at(stanza),
        )

    def _queue(self, event: Event) -> None:
        if not self._listening:
            return  # the server keeps bare-JID messages offline; a listener gets carbons
        if self._events.full():
            log.warning("xmpp listener is behind; an event was dropped")
            return
        self._events.put_nowait(event)


def _settle(outcome: asyncio.Future[str | None], result: str | None) -> Callable[[Any], None]:
    def settle(_: Any) -> None:
        if not outcome.done():
            outcome.set_result(result)

    return settle


def _failure(stanza: Any) -> DeliveryError:
    condition = stanza["error"]["condition"] or "undefined-condition"
    retryable = stanza["error"]["type"] == "wait" or condition in _TRANSIENT
    return DeliveryError(f"XMPP error: {condition}", retryable=retryable, code=condition)


def _sent_at(stanza: Any) -> datetime:
    """When it was sent: the delay stamp of an offline-stored message, else now."""
    stamp = stanza["delay"]["stamp"]
    return stamp if isinstance(stamp, datetime) else clock.now()
