"""What every channel adapter is: one small interface, the same in tests and production.

An adapter turns one rendered message into one provider call, and (for two-way channels) a
provider's webhook or listener event into `Inbound` messages and `Receipt`s. It never touches
the database: the dispatcher records what it returns, the inbound action what it parses.

Errors are classified where the provider's answer is understood, in the adapter:
`DeliveryError(retryable=True)` for what may work later (timeouts, 5xx, 429 with its
Retry-After), `retryable=False` for what never will (unknown recipient, blocked bot, bad
number). The dispatcher owns the backoff, the circuit breaker and the fallback ladder.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

ReceiptStatus = Literal["sent", "delivered", "read", "failed-temporary", "permanent-failure"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for one address on one channel, already rendered in the person's language."""

    attempt_id: uuid.UUID  # stable across retries of this delivery: the provider idempotency key
    address: str  # e-mail address, E.164 number, chat id, Matrix user id, JID, …
    language: str  # mk | sq | en
    text: str  # the channel's text: sms.txt for SMS, chat.md for messengers, body.txt for e-mail
    subject: str = ""
    html: str | None = None  # e-mail only
    format: str = "standard"  # standard | large_print | easy_read | audio
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None  # the provider message id this answers, where threading exists


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the message; its id is what receipts and replies will name."""

    provider_message_id: str | None
    detail: str = ""


class DeliveryError(Exception):
    """The provider did not take the message. `retryable` says whether trying later may help."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after  # seconds, when the provider said (Retry-After, 429)
        self.code = code  # the provider's own error code, kept for officers


class BadSignature(Exception):
    """A webhook whose signature does not verify: answered 401, nothing recorded."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """Something a person sent us on a channel."""

    channel: str
    provider_message_id: str  # unique per channel: the deduplication key
    sender: str  # the sender's address on that channel (same form as `Outgoing.address`)
    text: str
    received_at: datetime | None = None
    sender_name: str = ""
    in_reply_to: str | None = None  # provider id of our message it answers, where known


@dataclass(frozen=True, slots=True)
class Receipt:
    """The provider's word on a message we sent: delivered, read, failed."""

    channel: str
    provider_message_id: str
    status: ReceiptStatus
    at: datetime | None = None
    error_code: str | None = None


Event = Inbound | Receipt


@runtime_checkable
class Channel(Protocol):
    """Outbound: every adapter. Built from the channel's settings (a dict of options)."""

    name: ClassVar[str]  # the adapter's name in settings: smtp, matrix, telegram, …

    def send(self, message: Outgoing) -> Accepted:
        """Hand one message to the provider, or raise `DeliveryError`. Must be thread-safe."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class BatchChannel(Protocol):
    """Providers with a bulk API take many messages in one call (SMS aggregators, gateways)."""

    def send_many(self, messages: list[Outgoing]) -> list[Accepted | DeliveryError]:
        """One answer per message, in order; raise `DeliveryError` if the call as a whole failed."""
        ...


@runtime_checkable
class Webhooks(Protocol):
    """Two-way HTTP providers (Telegram, WhatsApp, Viber, Messenger, SMS gateways over HTTP)."""

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise `BadSignature` unless the request carries the provider's valid signature."""
        ...

    def parse(self, body: bytes) -> list[Event]:
        """Every inbound message and receipt in one webhook body (ignore what is neither)."""
        ...


@runtime_checkable
class Handshake(Protocol):
    """Providers that verify a webhook URL with a GET first (WhatsApp, Messenger)."""

    def handshake(self, query: Mapping[str, str]) -> str | None:
        """The body to answer the provider's GET with, or None to refuse it (403)."""
        ...


@runtime_checkable
class Listener(Protocol):
    """Channels whose inbound side is a connection we hold (Matrix sync, XMPP, SMPP)."""

    def listen(self, deliver: Callable[[list[Event]], None], stop: threading.Event) -> None:
        """Block until `stop` is set, calling `deliver` with each batch of events as they come."""
        ...


@dataclass(slots=True)
class Options:
    """Settings of one configured channel: {"adapter": "telegram", "token": …, …}."""

    adapter: str
    values: dict[str, Any] = field(default_factory=dict)


def as_channel(events: list[Event], channel: str) -> list[Event]:
    """Events named after the channel they came in on: one adapter (e.g. `http`, `smpp`) may
    serve a channel of another name (`sms`), and deliveries are keyed by the channel."""
    return [
        event if event.channel == channel else replace(event, channel=channel) for event in events
    ]
