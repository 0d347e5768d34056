"""One conversation per person, whatever channel they write on; what officers must answer.

A sender nobody has linked yet gets a conversation of their own, keyed by channel and address;
once the address is linked to a person its items move into the person's single conversation.
Conversations are created with INSERT … ON CONFLICT DO NOTHING, so twenty webhooks arriving at
once for one new sender still make one conversation.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.db import is_postgres
from navreme.identity.principal import Principal
from navreme.messaging.models import Conversation, ConversationItem, InboundMessage

PAGE = 50


def _insert_ignoring_conflict(session: Session, values: dict[str, object], keys: list[str]) -> None:
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(Conversation).values(**values).on_conflict_do_nothing(index_elements=keys)
    session.execute(statement)


def conversation_for(session: Session, person_id: uuid.UUID) -> Conversation | None:
    return session.scalars(select(Conversation).where(Conversation.person_id == person_id)).first()


def _of_address(session: Session, channel: str, address: str) -> Conversation | None:
    query = select(Conversation).where(
        Conversation.channel == channel, Conversation.address == address
    )
    return session.scalars(query).first()


def person_conversation(session: Session, person_id: uuid.UUID) -> Conversation:
    """The person's conversation, created on first use."""
    found = conversation_for(session, person_id)
    if found is None:
        now = clock.now()
        _insert_ignoring_conflict(
            session,
            {
                "id": uuid.uuid4(),
                "person_id": person_id,
                "last_activity_at": now,
                "created_at": now,
            },
            ["person_id"],
        )
        found = conversation_for(session, person_id)
    if found is None:
        raise LookupError("the person's conversation vanished while it was being created")
    return found


def sender_conversation(session: Session, channel: str, address: str) -> Conversation:
    """The conversation of a sender not linked to anyone yet, created on first use."""
    found = _of_address(session, channel, address)
    if found is None:
        now = clock.now()
        _insert_ignoring_conflict(
            session,
            {
                "id": uuid.uuid4(),
                "channel": channel,
                "address": address,
                "last_activity_at": now,
                "created_at": now,
            },  # fmt: skip
            ["channel", "address"],
        )
        found = _of_address(session, channel, address)
    if found is None:
        raise LookupError("the sender's conversation vanished while it was being created")
    return found


def absorb_sender(session: Session, *, person_id: uuid.UUID, channel: str, address: str) -> int:
    """Move an unlinked sender's items into the person's conversation; how many moved."""
    old = _of_address(session, channel, address)
    if old is None:
        return 0
    into = person_conversation(session, person_id)
    moved = session.execute(
        update(ConversationItem)
        .where(ConversationItem.conversation_id == old.id)
        .values(conversation_id=into.id)
    ).rowcount
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.conversation_id == old.id)
        .values(conversation_id=into.id, person_id=person_id)
    )
    into.last_activity_at = max(into.last_activity_at, old.last_activity_at)
    session.execute(delete(Conversation).where(Conversation.id == old.id))
    session.flush()
    return int(moved or 0)


def add_item(
    session: Session, conversation: Conversation, *, direction: str, channel: str, text: str,
    inbound_id: uuid.UUID | None = None, message_id: uuid.UUID | None = None,
    needs_officer: bool = False,
) -> ConversationItem:  # fmt: skip
    now = clock.now()
    item = ConversationItem(
        conversation_id=conversation.id, direction=direction, channel=channel, text=text,
        inbound_id=inbound_id, message_id=message_id, needs_officer=needs_officer, created_at=now,
    )  # fmt: skip
    conversation.last_activity_at = now
    session.add(item)
    session.flush()
    return item


def answered_since(session: Session, conversation_id: uuid.UUID, since: datetime) -> bool:
    """Whether anything went out in the conversation after `since`."""
    query = select(ConversationItem.id).where(
        ConversationItem.conversation_id == conversation_id,
        ConversationItem.direction == "out",
        ConversationItem.created_at > since,
    )
    return session.scalar(query.limit(1)) is not None


def items(
    session: Session, conversation_id: uuid.UUID, *, before: datetime | None = None,
    limit: int = PAGE,
) -> list[ConversationItem]:  # fmt: skip
    """A page of the conversation, newest first; pass the oldest `created_at` seen as `before`."""
    query = select(ConversationItem).where(ConversationItem.conversation_id == conversation_id)
    if before is not None:
        query = query.where(ConversationItem.created_at < before)
    ordered = query.order_by(ConversationItem.created_at.desc(), ConversationItem.id)
    return list(session.scalars(ordered.limit(limit)))


def open_items(
    session: Session, *, before: datetime | None = None, limit: int = PAGE
) -> list[tuple[ConversationItem, Conversation]]:
    """What people wrote that needs an officer's answer, oldest first (fair order)."""
    query = (
        select(ConversationItem, Conversation)
        .join(Conversation, Conversation.id == ConversationItem.conversation_id)
        .where(ConversationItem.needs_officer, ConversationItem.handled_at.is_(None))
    )
    if before is not None:
        query = query.where(ConversationItem.created_at < before)
    ordered = query.order_by(ConversationItem.created_at, ConversationItem.id).limit(limit)
    return [(item, conversation) for item, conversation in session.execute(ordered)]


def mark_handled(session: Session, *, item: ConversationItem, actor: Principal) -> ConversationItem:
    """An officer answered (or dealt with) the item; marking twice keeps the first time."""
    if item.handled_at is None:
        item.handled_at = clock.now()
        session.flush()
        record(
            session, action="conversation_item.handled", actor_kind=actor.audit_kind,
            actor_id=actor.id, object_kind="conversation_item", object_id=item.id,
        )  # fmt: skip
    return item
