"""Work waiting for a person: what people wrote that needs an answer, and the outreach tasks
(the last rung of the fallback ladder: no channel reached the person, an officer must).

The list is the conversations API's (`GET /conversations/open`), split in two. Outreach about an
appointment belongs to the department of its office; other items have no department and are
shown to every officer who answers people, as the API does. The rules engine has no offer status
that waits for an officer: an offer that reached nobody shows here as its outreach task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.identity.principal import Principal
from navreme.messaging import conversations
from navreme.messaging.actions import OUTREACH
from navreme.messaging.models import Conversation, ConversationItem, Message
from navreme.registry.models import Person
from navreme.scheduling.models import Appointment, Office
from navreme.web.deps import DB
from navreme.web.i18n import N_
from navreme.web.officer_common import (
    ANSWERERS,
    EXPIRED,
    may,
    refuse,
    signed_in_officer,
    to_login,
)
from navreme.web.pages import CsrfField, csrf_ok, render

router = APIRouter(include_in_schema=False)
LIMIT = 200  # oldest first: the fair order; the rest shows once these are handled
NOTICES = {"handled": N_("Marked handled. It is no longer on this list.")}
ONLY_ANSWERERS = N_("Only officers and supervisors who answer people may open this page.")


@dataclass
class Waiting:
    item: ConversationItem
    person: Person | None  # None: a sender not linked to anyone yet
    channel: str | None  # the unknown sender's channel
    office: Office | None  # outreach about an appointment: its office
    appointment: Appointment | None


@dataclass
class Subject:
    appointment: Appointment
    office: Office


def _subjects(session: Session, message_ids: set[uuid.UUID]) -> dict[uuid.UUID, Subject]:
    """The appointment (and office) each outreach message was about, by message id."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(Message.id, Appointment, Office)
        .join(Appointment, Appointment.id == Message.subject_id)
        .join(Office, Office.id == Appointment.office_id)
        .where(Message.id.in_(message_ids), Message.subject_kind == "appointment")
    )
    return {message_id: Subject(appointment, office) for message_id, appointment, office in rows}


def open_work(session: Session, principal: Principal) -> list[Waiting]:
    """The open items this officer may answer, oldest first."""
    rows = conversations.open_items(session, limit=LIMIT)
    person_ids = {c.person_id for _, c in rows if c.person_id}
    persons = {
        p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))
    } if person_ids else {}  # fmt: skip
    subjects = _subjects(session, {i.message_id for i, _ in rows if i.message_id})
    found = []
    for item, conversation in rows:
        subject = subjects.get(item.message_id) if item.message_id else None
        if subject and not _answers_for(principal, subject.office):
            continue
        found.append(_waiting(item, conversation, persons, subject))
    return found


def _answers_for(principal: Principal, office: Office) -> bool:
    return principal.is_admin or office.department_id == principal.department_id


def _waiting(
    item: ConversationItem, conversation: Conversation, persons: dict[uuid.UUID, Person],
    subject: Subject | None,
) -> Waiting:  # fmt: skip
    return Waiting(
        item=item, person=persons.get(conversation.person_id) if conversation.person_id else None,
        channel=conversation.channel, office=subject.office if subject else None,
        appointment=subject.appointment if subject else None,
    )  # fmt: skip


def _page(
    request: Request, session: Session, principal: Principal, *, status: int = 200,
    error: str | None = None,
) -> HTMLResponse:  # fmt: skip
    work = open_work(session, principal)
    return render(
        request, "officer/waiting.html", principal, status=status, error=error,
        outreach=[w for w in work if w.item.channel == OUTREACH],
        written=[w for w in work if w.item.channel != OUTREACH], limit=LIMIT,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )  # fmt: skip


@router.get("/officer/waiting", response_class=HTMLResponse)
def waiting(request: Request, session: DB) -> Response:
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    if not may(principal, ANSWERERS):
        return refuse(request, session, principal, action="access.waiting",
                      message=ONLY_ANSWERERS)  # fmt: skip
    return _page(request, session, principal)


@router.post("/officer/conversation-items/{item_id}/handled", response_class=HTMLResponse)
def handled(
    item_id: uuid.UUID, request: Request, session: DB,
    csrf: CsrfField = "",
) -> Response:  # fmt: skip
    """Mark an item answered (the conversations API's action, audited there)."""
    principal = signed_in_officer(request, session)
    if principal is None:
        return to_login()
    if not may(principal, ANSWERERS):
        return refuse(request, session, principal, action="access.waiting",
                      message=ONLY_ANSWERERS)  # fmt: skip
    if not csrf_ok(request, principal, csrf):
        return _page(request, session, principal, status=403, error=EXPIRED)
    item = session.get(ConversationItem, item_id)
    subject = _subjects(session, {item.message_id}) if item and item.message_id else {}
    office = next(iter(subject.values())).office if subject else None
    if item is None or (office is not None and not _answers_for(principal, office)):
        return refuse(request, session, principal, action="conversation_item.handled",
                      status=404, object_kind="conversation_item", object_id=item_id)  # fmt: skip
    conversations.mark_handled(session, item=item, actor=principal)
    return RedirectResponse("/officer/waiting?done=handled", status_code=303)
