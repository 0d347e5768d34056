"""The citizen's conversation with the administration: read it, page back, and reply on the web.

A reply written here joins the person's one conversation as an inbound message on channel
"web", like a message on any other channel, and waits for an officer. Short answers ("3",
"НЕ", "STOP") are not acted on here: on the web a person may mean anything by them, and the
appointment and consent pages offer the buttons that do those things; an officer reads it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.identity.principal import Principal
from navreme.messaging import conversations, inbound
from navreme.messaging.models import Delivery
from navreme.registry.models import Person
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.pages import (
    CsrfField,
    csrf_ok,
    render,
    render_error,
    signed_in_citizen,
)

router = APIRouter(include_in_schema=False)

MAX_REPLY = 2000  # characters, as the page says
NOTICES = {"sent": N_("Thank you. We received your message; an officer will answer here.")}
EMPTY = N_("Please write your message before you send it.")
TOO_LONG = N_("Your message is too long. Please shorten it to 2000 characters or fewer.")
FORM_GONE = N_("The form expired. Please try again.")


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
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse("/login/citizen", status_code=303)
    principal, person = citizen.principal, citizen.person
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
def reply(
    request: Request, session: DB,
    csrf: CsrfField = "",
    text: Annotated[str, Form(max_length=20 * MAX_REPLY)] = "",
    reply_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:  # fmt: skip
    citizen = signed_in_citizen(request, session)
    if citizen is None:
        return RedirectResponse("/login/citizen", status_code=303)
    principal, person = citizen.principal, citizen.person
    if not csrf_ok(request, principal, csrf):
        return _page(request, session, principal, person, status=403, error=FORM_GONE, text=text)
    problem = _problem(text)
    if problem is None:
        try:
            form = uuid.UUID(reply_id)
        except ValueError:
            problem = FORM_GONE
    if problem is not None:
        return _page(request, session, principal, person, status=422, error=problem, text=text)
    inbound.receive_web_reply(session, person=person, text=text.strip(), form_id=form)
    return RedirectResponse("/me/messages?done=sent#reply", status_code=303)
