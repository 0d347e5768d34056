"""Matrix: one direct room per citizen, messages as m.text, replies and read receipts via /sync.

The adapter is a plain Matrix user (a bot account) on any homeserver, through matrix-nio.
A citizen is addressed by user id (@name:server). Their direct room is found in our `m.direct`
account data (the list every client keeps of direct chats) or created, invite-only, with the
citizen invited; rooms a citizen opens with us are joined and remembered the same way.

A retry of one delivery reuses `Outgoing.attempt_id` as the Matrix transaction id, which the
homeserver scopes to our device: a repeated PUT returns the first event instead of posting a
second message, also after a restart, as long as the device stays the same (the `device_id`
option, or the device of `access_token`) and the homeserver still remembers the transaction
(Synapse: about 30 minutes). Only unencrypted rooms are supported: matrix-nio without its
`e2e` extra cannot read or write encrypted ones.

Limits: `m.direct` is one account-data object, read and rewritten whole when a room is added,
and the first /sync lists every joined room; that suits a bot account with tens of thousands
of citizens. Far beyond that, a Matrix application service would be the way.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
import nio

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

_USER_ID = re.compile(r"@[^:\s]+:[A-Za-z0-9.\-\[\]:]+")
_ROOM_LOCKS = 64  # one room lookup per citizen at a time, without a lock per citizen forever
_SEEN_PER_ROOM = 200  # timeline events kept per room to place a read receipt among ours
_RETRY_CAP_S = 30.0  # longest pause of the listener between failed syncs
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError)


class MatrixChannel:
    """The Matrix adapter. Settings (NAVREME_CHANNELS keys):

    - homeserver: the client-server API base URL, e.g. "https://matrix.gov.example"
    - user_id: the bot's account, e.g. "@navreme:gov.example"
    - password or access_token: how the bot signs in (one of them; a token is not refreshed)
    - device_name: shown in the account's device list (default "navreme")
    - device_id: the device a password login reuses, so transaction ids (retries) stay
      idempotent across restarts and devices do not pile up (default "NAVREME")
    - timeout: seconds per homeserver request (default 20)
    - sync_timeout: seconds a /sync long-poll waits for news (default 30)
    - history_on_start: recent events per room the first sync replays (default 20), so
      replies sent while we were down still arrive; they are deduplicated by event id
    - room_cache_size: citizens whose direct room is remembered in memory (default 100000)
    """

    name: ClassVar[str] = "matrix"

    def __init__(  # "" = not set  # nosec B107
        self,
        homeserver: str,
        user_id: str,
        password: str = "",
        access_token: str = "",
        device_name: str = "navreme",
        device_id: str = "NAVREME",
        timeout: float = 20.0,
        sync_timeout: float = 30.0,
        history_on_start: int = 20,
        room_cache_size: int = 100_000,
    ) -> None:
        if not (password or access_token):
            # a TypeError, like any missing argument: the registry reports it as a setting error
            raise TypeError("matrix: set either password or access_token")
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self.device_name = device_name
        self.device_id = device_id
        self.timeout = timeout
        self.sync_timeout = sync_timeout
        self.history_on_start = history_on_start
        self._password = password
        self._access_token = access_token
        self._client: nio.AsyncClient | None = None
        self._login_lock = asyncio.Lock()
        self._room_locks = [asyncio.Lock() for _ in range(_ROOM_LOCKS)]
        self._direct_lock = asyncio.Lock()
        self._rooms = DirectRooms(room_cache_size)
        self._seen = SeenEvents()
        self._loop = PrivateLoop(f"matrix {user_id}")

    def send(self, message: Outgoing) -> Accepted:
        """Post the message in the citizen's direct room; the event id is the provider id."""
        address = message.address.strip()
        if not _USER_ID.fullmatch(address):
            raise DeliveryError("not a Matrix user id", retryable=False, code="M_INVALID_PARAM")
        try:
            event_id = self._loop.run(self._send(address, message), timeout=self.timeout * 4)
        except TimeoutError:
            raise DeliveryError("homeserver did not answer in time", retryable=True) from None
        except LoopClosed:
            raise DeliveryError("the Matrix adapter is closed", retryable=True) from None
        return Accepted(provider_message_id=event_id)

    def listen(self, deliver: Callable[[list[Event]], None], stop: threading.Event) -> None:
        """Sync until `stop` is set; citizens' messages and read receipts go to `deliver`."""
        since: str | None = None
        failures = 0
        while not stop.is_set():
            try:
                finished, outcome = self._loop.run_until_stopped(self._sync(since), stop)
            except DeliveryError as failed:
                failures += 1
                log.warning("matrix sync failed (%s), retrying", failed.code or "network")
                stop.wait(min(_RETRY_CAP_S, 2.0 ** (failures - 1)))
                continue
            if not finished or outcome is None:
                return
            failures = 0
            events, since = outcome
            if events:
                deliver(events)

    def close(self) -> None:
        self._loop.close(self._close_client())

    # -- sending (all below runs on the private loop) ------------------------------------

    async def _send(self, address: str, message: Outgoing) -> str:
        try:
            client = await self._logged_in()
            answer = await self._post(client, address, message)
            if isinstance(answer, nio.RoomSendError) and answer.status_code == "M_FORBIDDEN":
                self._rooms.forget(address)  # removed from the room: post in a new one
                answer = await self._post(client, address, message)
        except _NETWORK_ERRORS as unreachable:
            raise DeliveryError(
                f"homeserver unreachable: {unreachable!r}", retryable=True
            ) from None
        if isinstance(answer, nio.RoomSendResponse):
            return str(answer.event_id)
        raise self._failure(answer, "send")

    async def _post(
        self, client: nio.AsyncClient, address: str, message: Outgoing
    ) -> nio.RoomSendResponse | nio.RoomSendError:
        room_id = await self._direct_room(client, address)
        return await client.room_send(
            room_id, "m.room.message", _content(message), tx_id=str(message.attempt_id)
        )

    async def _logged_in(self) -> nio.AsyncClient:
        async with self._login_lock:
            if self._client is None:
                config = nio.AsyncClientConfig(
                    max_limit_exceeded=0, max_timeouts=0, request_timeout=self.timeout
                )
                self._client = nio.AsyncClient(
                    self.homeserver, self.user_id, device_id=self.device_id, config=config
                )
            client = self._client
            if client.access_token:
                return client
            if self._access_token:
                client.access_token = self._access_token
                return client
            answer = await client.login(self._password, device_name=self.device_name)
            if isinstance(answer, nio.LoginError):
                # our own credentials: every message fails alike until an operator fixes them
                failure = self._failure(answer, "login")
                failure.retryable = True
                raise failure
            return client

    async def _direct_room(self, client: nio.AsyncClient, citizen: str) -> str:
        async with self._room_locks[hash(citizen) % _ROOM_LOCKS]:
            room_id = self._rooms.get(citizen)
            if room_id is None:
                room_id = await self._known_room(client, citizen)
            if room_id is None:
                room_id = await self._new_room(client, citizen)
            self._rooms.put(citizen, room_id)
            return room_id

    async def _known_room(self, client: nio.AsyncClient, citizen: str) -> str | None:
        candidates = (await self._direct_map(client)).get(citizen, [])
        for room_id in reversed(candidates):  # the newest first
            if await self._membership(client, room_id, self.user_id) != "join":
                continue
            if await self._membership(client, room_id, citizen) in ("join", "invite"):
                return str(room_id)
        return None

    async def _membership(self, client: nio.AsyncClient, room_id: str, user_id: str) -> str:
        state = await client.room_get_state_event(room_id, "m.room.member", user_id)
        if not isinstance(state, nio.RoomGetStateEventResponse):
            return "none"
        return str(state.content.get("membership", "none"))

    async def _new_room(self, client: nio.AsyncClient, citizen: str) -> str:
        profile = await client.get_profile(citizen)
        if isinstance(profile, nio.ProfileGetError) and _status(profile) == 404:
            raise DeliveryError("no such Matrix user", retryable=False, code="M_NOT_FOUND")
        created = await client.room_create(
            is_direct=True, invite=[citizen], preset=nio.RoomPreset.private_chat
        )
        if not isinstance(created, nio.RoomCreateResponse):
            raise self._failure(created, "create room")
        await self._remember_direct(client, citizen, created.room_id)
        return str(created.room_id)

    async def _direct_map(self, client: nio.AsyncClient) -> dict[str, list[str]]:
        answer = await client.list_direct_rooms()
        if isinstance(answer, nio.DirectRoomsResponse):
            return dict(answer.rooms)
        if _status(answer) == 404:  # no direct chats yet
            return {}
        raise self._failure(answer, "read m.direct")

    async def _remember_direct(self, client: nio.AsyncClient, citizen: str, room_id: str) -> None:
        """Add the room to our m.direct list, so other processes and restarts find it."""
        async with self._direct_lock:  # m.direct is rewritten whole: one writer at a time
            await self._write_direct(client, citizen, room_id)

    async def _write_direct(self, client: nio.AsyncClient, citizen: str, room_id: str) -> None:
        direct = await self._direct_map(client)
        rooms = [room for room in direct.get(citizen, []) if room != room_id]
        direct[citizen] = [*rooms, room_id]
        path = f"/_matrix/client/v3/user/{quote(self.user_id)}/account_data/m.direct"
        headers = {
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "application/json",
        }
        answer = await client.send("PUT", path, json.dumps(direct), headers)
        if answer.status >= 300:
            log.warning("matrix: m.direct not updated (HTTP %s)", answer.status)
        answer.release()

    def _failure(self, answer: nio.ErrorResponse, doing: str) -> DeliveryError:
        status = _status(answer)
        code = answer.status_code or (str(status) if status else None)
        if status == 401 or code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
            self._sign_out_locally()
        return DeliveryError(
            f"matrix {doing}: {answer}",
            retryable=_retryable(status, code),
            retry_after=(answer.retry_after_ms / 1000) if answer.retry_after_ms else None,
            code=code,
        )

    def _sign_out_locally(self) -> None:
        if self._client is not None and self._password:
            self._client.access_token = ""  # the next call logs in  # nosec B105

    async def _close_client(self) -> None:
        if self._client is not None:
            await self._client.close()

    # -- listening ------------------------------------------------------------------------

    async def _sync(self, since: str | None) -> tuple[list[Event], str]:
        try:
            client = await self._logged_in()
            answer = await client.sync(
                timeout=int(self.sync_timeout * 1000) if since else 0,
                since=since,
                sync_filter=self._filter(first=since is None),
            )
            if not isinstance(answer, nio.SyncResponse):
                raise self._failure(answer, "sync")
            for room_id, invite in answer.rooms.invite.items():
                await self._accept(client, room_id, invite)
        except _NETWORK_ERRORS as unreachable:
            raise DeliveryError(
                f"homeserver unreachable: {unreachable!r}", retryable=True
            ) from None
        events: list[Event] = []
        for room_id, room in answer.rooms.join.items():
            events.extend(self._room_events(client, room_id, room))
        return events, str(answer.next_batch)

    def _filter(self, *, first: bool) -> dict[str, Any]:
        limit = self.history_on_start if first else 100
        return {
            "presence": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
            "room": {
                "state": {"lazy_load_members": True},
                "timeline": {"limit": limit},
                "ephemeral": {"types": ["m.receipt"]},
                "account_data": {"not_types": ["*"]},
            },
        }

    async def _accept(self, client: nio.AsyncClient, room_id: str, invite: Any) -> None:
        """Join a room someone invited us to; a direct invitation becomes their direct room."""
        ours = [
            event
            for event in invite.invite_state
            if isinstance(event, nio.InviteMemberEvent) and event.state_key == self.user_id
        ]
        joined = await client.join(room_id)
        if not isinstance(joined, nio.JoinResponse):
            log.warning("matrix: could not join an invited room (%s)", joined.status_code)
            return
        for event in ours:
            if event.content.get("is_direct") and event.sender != self.user_id:
                self._rooms.put(event.sender, room_id)
                await self._remember_direct(client, event.sender, room_id)

    def _room_events(self, client: nio.AsyncClient, room_id: str, room: Any) -> list[Event]:
        events: list[Event] = []
        for event in room.timeline.events:
            if not isinstance(event, nio.RoomMessage):
                continue
            self._seen.saw(room_id, event.event_id, ours=event.sender == self.user_id)
            if event.sender != self.user_id and _is_new_text(event):
                events.append(self._inbound(client, room_id, event))
        for ephemeral in room.ephemeral:
            if isinstance(ephemeral, nio.ReceiptEvent):
                events.extend(self._receipts(room_id, ephemeral))
        return events

    def _inbound(self, client: nio.AsyncClient, room_id: str, event: Any) -> Inbound:
        room = client.rooms.get(room_id)
        relates = event.source.get("content", {}).get("m.relates_to", {})
        return Inbound(
            channel=self.name,
            provider_message_id=event.event_id,
            sender=event.sender,
            text=event.body,
            received_at=_when(event.server_timestamp),
            sender_name=(room.user_name(event.sender) or "") if room else "",
            in_reply_to=relates.get("m.in_reply_to", {}).get("event_id"),
        )

    def _receipts(self, room_id: str, event: nio.ReceiptEvent) -> list[Event]:
        receipts: list[Event] = []
        for receipt in event.receipts:
            if receipt.receipt_type != "m.read" or receipt.user_id == self.user_id:
                continue
            for event_id in self._seen.read_up_to(room_id, receipt.event_id):
                receipts.append(Receipt(self.name, event_id, "read", at=_when(receipt.timestamp)))
        return receipts


class DirectRooms:
    """Citizen → their direct room, the most recently used kept, bounded."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._rooms: OrderedDict[str, str] = OrderedDict()

    def get(self, citizen: str) -> str | None:
        room_id = self._rooms.get(citizen)
        if room_id is not None:
            self._rooms.move_to_end(citizen)
        return room_id

    def put(self, citizen: str, room_id: str) -> None:
        self._rooms[citizen] = room_id
        self._rooms.move_to_end(citizen)
        while len(self._rooms) > self._size:
            self._rooms.popitem(last=False)

    def forget(self, citizen: str) -> None:
        self._rooms.pop(citizen, None)


class SeenEvents:
    """Recent messages per room in timeline order, ours marked, until a read receipt covers them.

    A read receipt names one event and means "read up to here", so it covers every earlier
    message of ours in that room too, including when it names the citizen's own reply.
    """

    def __init__(self) -> None:
        self._rooms: dict[str, deque[tuple[str, bool]]] = {}

    def saw(self, room_id: str, event_id: str, *, ours: bool) -> None:
        seen = self._rooms.setdefault(room_id, deque(maxlen=_SEEN_PER_ROOM))
        if all(known != event_id for known, _ in seen):
            seen.append((event_id, ours))

    def read_up_to(self, room_id: str, event_id: str) -> list[str]:
        """Our messages the receipt covers, each reported once."""
        seen = self._rooms.get(room_id)
        if seen is None or all(known != event_id for known, _ in seen):
            return []
        covered: list[str] = []
        while seen:
            known, ours = seen.popleft()
            if ours:
                covered.append(known)
            if known == event_id:
                break
        if not seen:
            del self._rooms[room_id]
        return covered


def _content(message: Outgoing) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.text", "body": message.text}
    formatted = simple_markdown(message.text)
    if formatted is not None:
        content |= {"format": "org.matrix.custom.html", "formatted_body": formatted}
    if message.reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": message.reply_to}}
    return content


_CODE = re.compile(r"(`[^`\n]+`)")
_INLINE = (
    (re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)"), r'<a href="\2">\1</a>'),
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"<em>\1</em>"),
)


def simple_markdown(text: str) -> str | None:
    """HTML for the little Markdown chat templates use (bold, italics, code, links), or None.

    None when the text has no such markup: then the plain body says it all.
    """
    parts = _CODE.split(html.escape(text, quote=True))
    formatted = []
    for index, part in enumerate(parts):
        if index % 2:
            formatted.append(f"<code>{part[1:-1]}</code>")
            continue
        for pattern, replacement in _INLINE:
            part = pattern.sub(replacement, part)
        formatted.append(part)
    result = "".join(formatted)
    if result == html.escape(text, quote=True):
        return None
    return result.replace("\n", "<br>")


def _is_new_text(event: Any) -> bool:
    """A citizen's text (or emote), not an edit of an earlier one: edits repeat a message."""
    if not isinstance(event, nio.RoomMessageText | nio.RoomMessageEmote):
        return False
    relates = event.source.get("content", {}).get("m.relates_to", {})
    return bool(relates.get("rel_type") != "m.replace")


def _status(answer: nio.ErrorResponse) -> int:
    transport = answer.transport_response
    return int(transport.status) if transport is not None else 0


def _retryable(status: int, code: str | None) -> bool:
    if status == 429 or code == "M_LIMIT_EXCEEDED":
        return True
    if status >= 500 or status == 0:
        return True
    # our own credentials: every message fails alike until an operator fixes the setting
    return status == 401 or code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")


def _when(milliseconds: int | None) -> datetime | None:
    if not milliseconds:
        return None
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
