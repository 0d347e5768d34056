"""What people send us: recorded once, joined to their one conversation, and acted on.

`receive` takes what a webhook or a listener parsed. Receipts go to the outbox's receipt
handling. Each inbound message is inserted with ON CONFLICT DO NOTHING on (channel, provider
message id), so a provider's replay, or twenty copies of one webhook at once, is recorded and
answered exactly once: only the transaction whose insert took the row goes on.

The sender is the person whose *verified* contact endpoint has that address on that channel.
Short answers act on the person's held appointment (1 / ДА / PO confirm, 2 asks for other
times, 3 / НЕ / JO cancel); STOP and START withdraw or give proactive-contact consent on the
channel; a six-digit code links the account; anything else waits for an officer. Every answer
is acknowledged to the outbox (the fallback ladder stops) and answered on the same channel.
No message text goes to the logs or the audit trail.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases import intake
from navreme.db import is_postgres
from navreme.messaging import conversations, links
from navreme.messaging.actions import acknowledge, send
from navreme.messaging.channels.base import Event, Inbound, Receipt
from navreme.messaging.intents import Intent, interpret
from navreme.messaging.models import Conversation, ConversationItem, Delivery, InboundMessage
from navreme.messaging.receipts import apply_receipts
from navreme.messaging.replies import act_on_appointment, change_proactive_consent
from navreme.registry.models import ContactEndpoint, Person

log = logging.getLogger("navreme.messaging.inbound")
UNKNOWN_SENDER_QUIET = timedelta(hours=1)


@dataclass(frozen=True)
class Received:
    """What became of one inbound message (`duplicate` when it was a replay)."""

    provider_message_id: str
    outcome: str
    inbound_id: uuid.UUID | None = None
    duplicate: bool = False


def receive(session: Session, events: list[Event]) -> list[Received]:
    """Record and act on a batch of events, in the caller's transaction."""
    receipts = [event for event in events if isinstance(event, Receipt)]
    if receipts:
        apply_receipts(session, receipts)
    return [_receive_one(session, event) for event in events if isinstance(event, Inbound)]


def sender_of(session: Session, channel: str, address: str) -> Person | None:
    """The one person whose verified endpoint this is; a shared, ambiguous address is nobody's."""
    query = select(ContactEndpoint.person_id).where(
        ContactEndpoint.channel == channel,
        ContactEndpoint.address == address,
        ContactEndpoint.verified_at.is_not(None),
    )
    owners = set(session.scalars(query))
    if len(owners) != 1:
        return None
    return session.get(Person, owners.pop())


def _insert(session: Session, event: Inbound, conversation: Conversation,
            person: Person | None) -> uuid.UUID | None:  # fmt: skip
    """Insert the inbound row unless this (channel, provider id) is already there."""
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = clock.now()
    statement = (
        insert(InboundMessage)
        .values(
            id=uuid.uuid4(),
            channel=event.channel,
            provider_message_id=event.provider_message_id,
            sender=event.sender,
            person_id=person.id if person else None,
            conversation_id=conversation.id,
            text=event.text,
            outcome="conversation",
            received_at=event.received_at or now,
            created_at=now,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
        .returning(InboundMessage.id)
    )
    return session.scalar(statement)


def _receive_one(session: Session, event: Inbound) -> Received:
    person = sender_of(session, event.channel, event.sender)
    if person is not None:
        conversations.absorb_sender(
            session, person_id=person.id, channel=event.channel, address=event.sender
        )
        conversation = conversations.person_conversation(session, person.id)
    else:
        conversation = conversations.sender_conversation(session, event.channel, event.sender)
    inbound_id = _insert(session, event, conversation, person)
    if inbound_id is None:
        log.info("inbound replay ignored on %s", event.channel)
        return Received(event.provider_message_id, "duplicate", duplicate=True)
    inbound = session.get_one(InboundMessage, inbound_id)
    intent = interpret(event.text)
    reply = _act(session, event, conversation, person, intent)
    _answer(session, event, conversation, inbound, person, reply)
    return Received(event.provider_message_id, inbound.outcome, inbound.id)


@dataclass
class Reply:
    """What to do after acting: the outcome, the answer to send, what it acknowledges."""

    outcome: str
    template: str | None  # None: no answer (a repeated STOP, a stranger answered lately)
    context: dict[str, Any]
    person_id: uuid.UUID | None = None
    language: str | None = None
    subject: tuple[str, uuid.UUID] | None = None
    needs_officer: bool = False
    acknowledges: bool = True


def _how_to_link(session: Session, conversation: Conversation) -> str | None:
    """Tell a sender how to link at most once an hour: two bots must not answer each other
    forever, and a stranger must not make us send without end."""
    since = clock.now() - UNKNOWN_SENDER_QUIET
    return None if conversations.answered_since(session, conversation.id, since) else (
        "reply_unknown_sender"
    )  # fmt: skip


def _act(session: Session, event: Inbound, conversation: Conversation, person: Person | None,
         intent: Intent) -> Reply:  # fmt: skip
    if intent.kind == "code":
        # A wrong, expired or used code: counted against the sender (see links), never acted on.
        linked = _link(session, event, conversation, intent)
        return linked or Reply("ignored", _how_to_link(session, conversation), {},
                               language=person.language if person else intent.language,
                               acknowledges=False)  # fmt: skip
    if person is None:
        return Reply("conversation", _how_to_link(session, conversation), {},
                     language=intent.language, acknowledges=False)  # fmt: skip
    if intent.kind in ("confirm", "other_times", "cancel"):
        acted = act_on_appointment(session, person, intent.kind)
        if acted is not None:
            return Reply(acted.outcome, acted.template, acted.context, person.id, person.language,
                         ("appointment", acted.appointment_id))  # fmt: skip
    if intent.kind in ("stop", "start"):
        changed = change_proactive_consent(
            session, person, event.channel, granted=intent.kind == "start"
        )
        # Answered once: a second STOP changes nothing and gets no second answer.
        template = (
            f"reply_{'started' if intent.kind == 'start' else 'stopped'}" if changed else None
        )
        return Reply(intent.kind, template, {"channel": event.channel}, person.id, person.language)
    return Reply("conversation", "reply_received", {}, person.id, person.language,
                 needs_officer=True)  # fmt: skip


def _link(session: Session, event: Inbound, conversation: Conversation,
          intent: Intent) -> Reply | None:  # fmt: skip
    """Link the sender's account if the code opens a link; None when it does not."""
    sent_too_many = (
        links.wrong_codes_lately(session, conversation_id=conversation.id, sender=event.sender)
        >= links.MAX_WRONG_CODES_PER_SENDER
    )
    link = None if sent_too_many else links.open_link(session, channel=event.channel,
                                                       code=intent.code)  # fmt: skip
    if link is None:
        return None
    links.complete_link(session, link=link, address=event.sender)
    conversations.absorb_sender(
        session, person_id=link.person_id, channel=event.channel, address=event.sender
    )
    person = session.get_one(Person, link.person_id)
    return Reply("linked", "link_confirmed", {"channel": event.channel}, person.id,
                 person.language)  # fmt: skip


def _answer(session: Session, event: Inbound, conversation: Conversation,
            inbound: InboundMessage, person: Person | None, reply: Reply) -> None:  # fmt: skip
    inbound.outcome = reply.outcome
    if reply.person_id is not None and conversation.person_id is None:
        # The message itself just linked the sender: it joins the person's conversation.
        conversation = conversations.person_conversation(session, reply.person_id)
        inbound.conversation_id, inbound.person_id = conversation.id, reply.person_id
    conversations.add_item(
        session, conversation, direction="in", channel=event.channel, text=event.text,
        inbound_id=inbound.id, needs_officer=reply.needs_officer,
    )  # fmt: skip
    if reply.outcome == "conversation":
        # Not an answer to an offer or appointment: a request, so also a case (cases/intake.py).
        intake.from_message(
            session, inbound_id=inbound.id, channel=event.channel, sender=event.sender,
            text=event.text, person_id=person.id if person else None,
            municipality_code=person.municipality_code if person else None,
            language=reply.language,
        )  # fmt: skip
    now = clock.now()
    if reply.person_id is not None and reply.acknowledges:
        acknowledge(session, person_id=reply.person_id, at=now, subject=reply.subject)
    message_id = None
    if reply.template is not None:
        message_id = _reply(session, event, conversation, inbound, reply)
    _audit(session, event, inbound, reply, message_id, now)


def _reply(session: Session, event: Inbound, conversation: Conversation,
           inbound: InboundMessage, reply: Reply) -> uuid.UUID:  # fmt: skip
    """Answer on the channel and address the message came from; the answer joins the thread."""
    message = send(
        session, person_id=reply.person_id, purpose="service", template=str(reply.template),
        context=reply.context, lane="priority", language=reply.language,
        subject=reply.subject, dedupe_key=f"reply:{inbound.id}",
        to=(event.channel, event.sender), created_by="inbound",
    )  # fmt: skip
    conversations.add_item(
        session, conversation, direction="out", channel=event.channel,
        text=_said(session, message.id) or str(reply.template), message_id=message.id,
    )  # fmt: skip
    return message.id


def _said(session: Session, message_id: uuid.UUID) -> str | None:
    """The reply as rendered for the channel, where the outbox rendered it already."""
    query = select(Delivery.body).where(Delivery.message_id == message_id, Delivery.body != "")
    return session.scalars(query.order_by(Delivery.step).limit(1)).first()


def _audit(session: Session, event: Inbound, inbound: InboundMessage, reply: Reply,
           message_id: uuid.UUID | None, at: datetime) -> None:  # fmt: skip
    record(
        session, action="inbound.receive",
        actor_kind="citizen" if reply.person_id else "sender", actor_id=reply.person_id,
        object_kind="inbound_message", object_id=inbound.id,
        details={"channel": event.channel, "outcome": reply.outcome,
                 "reply": reply.template, "message_id": str(message_id) if message_id else None},
    )  # fmt: skip
    log.info("inbound on %s: %s at %s", event.channel, reply.outcome, at.isoformat())


# Replies written on the website ---------------------------------------------------------------
# The web has no confirmed address to find the sender by: the signed-in person is the sender.
# The reply is never interpreted ("3", "STOP" may mean anything there); an officer reads it.

WEB = "web"
SAME_TEXT_WINDOW = timedelta(seconds=30)  # a double click with a fresh form still stores one


def _sent_just_now(session: Session, conversation_id: uuid.UUID, text: str) -> bool:
    """The same words from the web moments ago: a second click, not a second message."""
    query = select(ConversationItem.id).where(
        ConversationItem.conversation_id == conversation_id,
        ConversationItem.direction == "in",
        ConversationItem.channel == WEB,
        ConversationItem.text == text,
        ConversationItem.created_at > clock.now() - SAME_TEXT_WINDOW,
    )
    return session.scalar(query.limit(1)) is not None


def receive_web_reply(
    session: Session, *, person: Person, text: str, form_id: uuid.UUID
) -> ConversationItem | None:
    """Record what the person wrote on the web for an officer; None when it was a repeat."""
    conversation = conversations.person_conversation(session, person.id)
    if _sent_just_now(session, conversation.id, text):
        return None
    said = Inbound(channel=WEB, provider_message_id=f"web:{form_id}",
                   sender=f"person:{person.id}", text=text)  # fmt: skip
    inbound_id = _insert(session, said, conversation, person)
    if inbound_id is None:
        return None
    item = conversations.add_item(
        session, conversation, direction="in", channel=WEB, text=text, inbound_id=inbound_id,
        needs_officer=True,
    )  # fmt: skip
    # The person answered us: their messages stop climbing the fallback ladder, as on any channel.
    acknowledge(session, person_id=person.id, at=item.created_at)
    record(
        session, action="inbound.receive", actor_kind="citizen", actor_id=person.id,
        object_kind="inbound_message", object_id=inbound_id,
        details={"channel": WEB, "outcome": "conversation", "reply": None, "message_id": None},
    )  # fmt: skip
    return item
