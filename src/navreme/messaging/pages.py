"""The citizen's conversation with the administration: read it, page back, and reply on the web.

A reply written here joins the person's one conversation as an inbound message on channel
"web", like a message on any other channel, and waits for an officer. Short answers ("3",
"НЕ", "STOP") are not acted on here: on the web a person may mean anything by them, and the
appointment and consent pages offer the buttons that do those things; an officer reads it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.db import is_postgres
from navreme.identity.principal import Principal
from navreme.messaging import conversations
from navreme.messaging.actions import acknowledge
from navreme.messaging.models import ConversationItem, Delivery, InboundMessage
from navreme.registry import queries as registry
from navreme.registry.models import Person
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.pages import csrf_ok, page_principal, render, render_error

router = APIRouter(include_in_schema=False)

WEB = "web"
MAX_REPLY = 2000  # characters, as the page says
SAME_TEXT_WINDOW = timedelta(seconds=30)  # a double click with a fresh form still stores one
NOTICES = {"sent": N_("Thank you. We received your message; an officer will answer here.")}
EMPTY = N_("Please write your message before you send it.")
TOO_LONG = N_("Your message is too long. Please shorten it to 2000 characters or fewer.")
FORM_GONE = N_("The form expired. Please try again.")


def _citizen(request: Request, session: Session) -> tuple[Principal, Person | None]:
    principal = page_principal(request, session)
    if not principal.is_citizen or principal.id is None:
        return principal, None
    return principal, registry.get_person_for(session, principal, principal.id)


def _before(raw: str | None) -> datetime | None:
    """The `before` cursor of an older page; ValueError when it is not a moment."""
    if not raw:
        return None
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def delivery_statuses(session: Session, message_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The status of each message's latest delivery step (what became of what we wrote)."""
    query = select(Delivery.message_id, Delivery.status).where(Delivery.message_id.in_(message_ids))
    latest: dict[uuid.UUID, str] = {}
    for message_id, status in session.execute(query.order_by(Delivery.step)):
        latest[message_id] = status
    return latest


def _page(
    request: Request, session: Session, principal: Principal, person: Person, *,
    before: datetime | None = None, status: int = 200, error: str | None = None, text: str = "",
) -> HTMLResponse:  # fmt: skip
    found = conversations.conversation_for(session, person.id)
    page = conversations.PAGE
    rows = conversations.items(session, found.id, before=before, limit=page + 1) if found else []
    rows, more = rows[:page], len(rows) > page
    shown = list(reversed(rows))  # oldest at the top, newest next to the reply box
    statuses = delivery_statuses(session, [r.message_id for r in rows if r.message_id])
    older = rows[-1].created_at.isoformat() if more else None
    return render(
        request, "citizen/messages.html", principal, status=status, items=shown,
        statuses=statuses, older=older, paged=before is not None, error=error, text=text,
        reply_id=uuid.uuid4(), max_reply=MAX_REPLY,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )  # fmt: skip


@router.get("/me/messages", response_class=HTMLResponse)
def messages(request: Request, session: DB, before: str | None = None) -> Response:
    principal, person = _citizen(request, session)
    if person is None:
        return RedirectResponse("/login/citizen", status_code=303)
    try:
        cursor = _before(before)
    except ValueError:
        return render_error(request, status=400)
    return _page(request, session, principal, person, before=cursor)


def _problem(text: str) -> str | None:
    if not text.strip():
        return EMPTY
    if len(text) > MAX_REPLY:
        return TOO_LONG
    return None


@router.post("/me/messages", response_class=HTMLResponse)
def reply(  # nosec B107 - an empty CSRF token is a missing one: refused with 403
    request: Request, session: DB,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    text: Annotated[str, Form(max_length=20 * MAX_REPLY)] = "",
    reply_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:  # fmt: skip
    principal, person = _citizen(request, session)
    if person is None:
        return RedirectResponse("/login/citizen", status_code=303)
    if not csrf_ok(request, principal, csrf_token):
        return _page(request, session, principal, person, status=403, error=FORM_GONE, text=text)
    problem = _problem(text)
    if problem is None:
        try:
            form = uuid.UUID(reply_id)
        except ValueError:
            problem = FORM_GONE
    if problem is not None:
        return _page(request, session, principal, person, status=422, error=problem, text=text)
    receive_web_reply(session, person=person, text=text.strip(), form_id=form)
    return RedirectResponse("/me/messages?done=sent#reply", status_code=303)


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


def _insert_inbound(
    session: Session, *, person: Person, conversation_id: uuid.UUID, text: str, form_id: uuid.UUID
) -> uuid.UUID | None:
    """The inbound row, unless this form was already sent ((channel, provider id) is unique)."""
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = clock.now()
    statement = (
        insert(InboundMessage)
        .values(
            id=uuid.uuid4(),
            channel=WEB,
            provider_message_id=f"web:{form_id}",
            sender=f"person:{person.id}",
            person_id=person.id,
            conversation_id=conversation_id,
            text=text,
            outcome="conversation",
            received_at=now,
            created_at=now,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
        .returning(InboundMessage.id)
    )
    return session.scalar(statement)


def receive_web_reply(
    session: Session, *, person: Person, text: str, form_id: uuid.UUID
) -> ConversationItem | None:
    """Record what the person wrote on the web for an officer; None when it was a repeat."""
    conversation = conversations.person_conversation(session, person.id)
    if _sent_just_now(session, conversation.id, text):
        return None
    inbound_id = _insert_inbound(
        session, person=person, conversation_id=conversation.id, text=text, form_id=form_id
    )
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
