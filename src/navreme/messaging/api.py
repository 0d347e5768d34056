"""Conversation and account-linking routes for citizens and officers.

A citizen starts a link and gets a code to send to the state's bot; the person (or a minor's
guardian, or a data manager) can revoke a linked endpoint. The conversation is read like the
rest of the person's record (registry's access-checked getter; officers' reads are audited).
Officers who answer people see the open items and mark them handled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from navreme.identity.principal import Principal
from navreme.messaging import conversations, links
from navreme.messaging.actions import channels
from navreme.messaging.models import ConversationItem
from navreme.registry.api import contact_changeable_person, readable_person
from navreme.registry.models import Person
from navreme.registry.schemas import error_responses
from navreme.web.deps import DB, SignedIn, deny, officer_with
from navreme.web.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["conversations"])
Answerer = Annotated[Principal, Depends(officer_with("officer", "supervisor"))]


class LinkStarted(BaseModel):
    channel: str
    code: str
    expires_at: datetime
    bot_address: str | None  # where to send the code (the bot's name or number), if configured


class LinkRevoked(BaseModel):
    contact_id: uuid.UUID
    channel: str
    verified: bool


class ItemOut(BaseModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    direction: str
    channel: str
    text: str
    needs_officer: bool
    handled_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, item: ConversationItem) -> ItemOut:
        return cls(
            id=item.id, conversation_id=item.conversation_id, direction=item.direction,
            channel=item.channel, text=item.text, needs_officer=item.needs_officer,
            handled_at=item.handled_at, created_at=item.created_at,
        )  # fmt: skip


class ConversationOut(BaseModel):
    person_id: uuid.UUID
    conversation_id: uuid.UUID | None
    items: list[ItemOut]  # newest first; ask for ?before=<oldest created_at> for the next page


class OpenItemOut(ItemOut):
    person_id: uuid.UUID | None  # None: a sender not linked to anyone yet


def _refused(refusal: links.LinkRefused) -> ApiError:
    return ApiError(refusal.status, refusal.code, refusal.message)


@router.post("/me/channels/{channel}/link", status_code=201,
             responses=error_responses(401, 403, 404, 429))  # fmt: skip
def start_link(channel: str, session: DB, principal: SignedIn) -> LinkStarted:
    """A one-time code (10 minutes) to send to the bot from the account to link (citizens)."""
    person = session.get(Person, principal.id) if principal.is_citizen else None
    if person is None:
        raise deny(session, principal, action="channel_link.start", object_kind="person")
    try:
        started = links.start_link(session, person=person, channel=channel, actor=principal)
    except links.LinkRefused as refusal:
        raise _refused(refusal) from None
    adapter = channels().get(channel) if channels().available(channel) else None
    bot = getattr(adapter, "public_address", None)
    return LinkStarted(channel=channel, code=started.code, expires_at=started.expires_at,
                       bot_address=bot if isinstance(bot, str) else None)  # fmt: skip


@router.delete("/persons/{person_id}/contacts/{endpoint_id}/link",
               responses=error_responses(401, 403, 404))  # fmt: skip
def revoke_link(
    person_id: uuid.UUID, endpoint_id: uuid.UUID, session: DB, principal: SignedIn
) -> LinkRevoked:
    """Unlink an account: the endpoint is no longer verified (self, guardian, data managers)."""
    person = contact_changeable_person(session, principal, person_id, action="channel_link.revoke")
    try:
        endpoint = links.revoke_link(
            session, person=person, endpoint_id=endpoint_id, actor=principal
        )
    except links.LinkRefused as refusal:
        raise _refused(refusal) from None
    return LinkRevoked(contact_id=endpoint.id, channel=endpoint.channel, verified=False)


@router.get("/persons/{person_id}/conversation", responses=error_responses(401, 404))
def conversation(
    person_id: uuid.UUID, session: DB, principal: SignedIn,
    before: datetime | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationOut:  # fmt: skip
    """The person's one conversation across channels, newest first (paged by `before`)."""
    person = readable_person(session, principal, person_id, section="conversation")
    found = conversations.conversation_for(session, person.id)
    rows = conversations.items(session, found.id, before=before, limit=limit) if found else []
    return ConversationOut(
        person_id=person.id, conversation_id=found.id if found else None,
        items=[ItemOut.of(row) for row in rows],
    )  # fmt: skip


@router.get("/conversations/open", responses=error_responses(401, 403))
def open_items(
    session: DB, principal: Answerer, before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OpenItemOut]:  # fmt: skip
    """What people wrote that an officer must answer, oldest first (officers, supervisors)."""
    return [
        OpenItemOut(**ItemOut.of(item).model_dump(), person_id=conversation.person_id)
        for item, conversation in conversations.open_items(session, before=before, limit=limit)
    ]


@router.post("/conversation-items/{item_id}/handled", responses=error_responses(401, 403, 404))
def handled(item_id: uuid.UUID, session: DB, principal: Answerer) -> ItemOut:
    """Mark an item answered; marking it again keeps the first time (officers, supervisors)."""
    item = session.get(ConversationItem, item_id)
    if item is None:
        raise ApiError(404, "not_found", "No conversation item here.")
    return ItemOut.of(conversations.mark_handled(session, item=item, actor=principal))
