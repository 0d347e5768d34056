"""Linking a messenger account to a person: a one-time code the person sends to the bot.

A signed-in citizen asks for a code for one channel; they send it to the state's bot from the
account they want linked; the inbound side finds the open link by the code's keyed hash and
records the sender's address as the person's verified endpoint. Codes are six digits, live ten
minutes, are stored only as HMACs (a database leak reveals none), are used once, and a person
holds at most a few open at a time. Wrong codes are counted per sender, so nobody can walk
through the million codes from one account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.config import get_settings
from navreme.identity import secrets
from navreme.identity.principal import Principal
from navreme.messaging.models import ChannelLink, ConversationItem, InboundMessage
from navreme.registry.models import CHANNELS, ContactEndpoint, Person

CODE_TTL = timedelta(minutes=10)
MAX_OPEN_PER_PERSON = 3
MAX_WRONG_CODES_PER_SENDER = 5  # per channel address and hour
WRONG_CODE_WINDOW = timedelta(hours=1)


class LinkRefused(Exception):
    """The link cannot be started or revoked as asked; `status` is the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class StartedLink:
    code: str
    expires_at: datetime
    link_id: uuid.UUID


def _hash(channel: str, code: str) -> str:
    return secrets.keyed_hash(get_settings().secret_key, f"channel-link:{channel}:{code}")


def _open_links(session: Session, person_id: uuid.UUID, now: datetime) -> int:
    query = select(func.count()).where(
        ChannelLink.person_id == person_id,
        ChannelLink.used_at.is_(None),
        ChannelLink.expires_at > now,
    )
    return session.scalar(query) or 0


def _code_in_use(session: Session, channel: str, code_hash: str, now: datetime) -> bool:
    query = select(ChannelLink.id).where(
        ChannelLink.channel == channel,
        ChannelLink.code_hash == code_hash,
        ChannelLink.used_at.is_(None),
        ChannelLink.expires_at > now,
    )
    return session.scalar(query.limit(1)) is not None


def start_link(session: Session, *, person: Person, channel: str, actor: Principal) -> StartedLink:
    """A fresh code for linking `channel` to the person (10 minutes, one use)."""
    if channel not in CHANNELS:
        raise LinkRefused(404, "not_found", f"No channel {channel!r}.")
    now = clock.now()
    if _open_links(session, person.id, now) >= MAX_OPEN_PER_PERSON:
        raise LinkRefused(
            429, "rate_limited", "Too many open link codes; use one or wait ten minutes."
        )
    code = secrets.new_one_time_code()
    # Two open links sharing a code on one channel would be ambiguous: draw again.
    while _code_in_use(session, channel, _hash(channel, code), now):
        code = secrets.new_one_time_code()
    link = ChannelLink(
        person_id=person.id, channel=channel, code_hash=_hash(channel, code),
        expires_at=now + CODE_TTL, created_at=now,
    )  # fmt: skip
    session.add(link)
    session.flush()
    _audit(session, actor, "channel_link.start", person.id, channel=channel, link_id=str(link.id))
    return StartedLink(code=code, expires_at=link.expires_at, link_id=link.id)


def open_link(session: Session, *, channel: str, code: str) -> ChannelLink | None:
    """The unused, unexpired link with this code on this channel (locked against a second use)."""
    query = (
        select(ChannelLink)
        .where(
            ChannelLink.channel == channel,
            ChannelLink.code_hash == _hash(channel, code),
            ChannelLink.used_at.is_(None),
            ChannelLink.expires_at > clock.now(),
        )
        .with_for_update()
    )
    return session.scalars(query.limit(1)).first()


def wrong_codes_lately(session: Session, *, conversation_id: uuid.UUID, sender: str) -> int:
    """Codes this sender sent lately that opened no link (`ignored` inbound), read through the
    sender's conversation, whose items are indexed by time."""
    query = (
        select(func.count())
        .select_from(ConversationItem)
        .join(InboundMessage, InboundMessage.id == ConversationItem.inbound_id)
        .where(
            ConversationItem.conversation_id == conversation_id,
            ConversationItem.created_at > clock.now() - WRONG_CODE_WINDOW,
            InboundMessage.sender == sender,
            InboundMessage.outcome == "ignored",
        )
    )
    return session.scalar(query) or 0


def _endpoint_for(
    session: Session, person_id: uuid.UUID, channel: str, address: str
) -> ContactEndpoint:
    query = select(ContactEndpoint).where(
        ContactEndpoint.person_id == person_id,
        ContactEndpoint.channel == channel,
        ContactEndpoint.address == address,
    )
    endpoint = session.scalars(query).first()
    if endpoint is None:
        endpoint = ContactEndpoint(
            person_id=person_id, channel=channel, address=address, created_at=clock.now()
        )
        session.add(endpoint)
    return endpoint


def complete_link(session: Session, *, link: ChannelLink, address: str) -> ContactEndpoint:
    """The code came from `address`: it becomes the person's verified endpoint on the channel."""
    now = clock.now()
    endpoint = _endpoint_for(session, link.person_id, link.channel, address)
    endpoint.verified_at = now
    session.flush()
    link.used_at, link.endpoint_id = now, endpoint.id
    session.flush()
    record(
        session, action="channel_link.complete", actor_kind="citizen", actor_id=link.person_id,
        object_kind="person", object_id=link.person_id,
        details={"channel": link.channel, "link_id": str(link.id), "contact_id": str(endpoint.id)},
    )  # fmt: skip
    return endpoint


def revoke_link(
    session: Session, *, person: Person, endpoint_id: uuid.UUID, actor: Principal
) -> ContactEndpoint:
    """The endpoint stops being verified: nothing more is sent there, nothing from it is trusted."""
    endpoint = session.get(ContactEndpoint, endpoint_id)
    if endpoint is None or endpoint.person_id != person.id:
        raise LinkRefused(404, "not_found", "No such contact of this person.")
    was_verified = endpoint.verified_at is not None
    endpoint.verified_at = None
    session.flush()
    _audit(session, actor, "channel_link.revoke", person.id, channel=endpoint.channel,
           contact_id=str(endpoint.id), was_verified=was_verified)  # fmt: skip
    return endpoint


def _audit(
    session: Session, actor: Principal, action: str, person_id: uuid.UUID, **details: object
) -> None:
    record(
        session, action=action, actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="person", object_id=person_id, details=dict(details),
    )  # fmt: skip
