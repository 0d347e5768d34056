"""Messages become cases: what a person writes on any channel that is not an answer to an
offer or an appointment is a request, and every request is a case.

The messaging hub records each inbound message exactly once (channel × provider message id is
unique, a replay is dropped before it gets here), and `Case.inbound_id` is unique as well, so
one message makes at most one case however often the provider sends it.

Follow-ups join the open case instead of opening another one. The rule:
a message from the same sender (the same person, or for an unlinked sender the same channel
and address) joins their latest case as a note when
  - that case is still open (triage, new, accepted, in progress, resolved), and
  - the case was received, or the sender last wrote to it, less than `JOIN_WINDOW` (2 hours)
    ago, and
  - no case of that sender was closed, rejected or merged since it was received (a case
    closed in between means a new matter starts).
Otherwise the message becomes a new case. People write one thought in three messages; two
hours later, or after we answered a case, it is usually something new, and an officer can
still merge two cases of one matter.

A bare number from 1 to 5 answers the closing message's question ("How did we do? Reply with
a number 1–5"): it rates the sender's latest case when that case is closed, not yet rated, and
still inside its re-opening window; otherwise it is an ordinary message.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.cases import actions, handling
from navreme.cases.models import INTAKE_CHANNELS, OPEN_STATUSES, Case, CaseEvent
from navreme.identity.principal import Principal

log = logging.getLogger("navreme.cases.intake")
JOIN_WINDOW = timedelta(hours=2)
SYSTEM = Principal(kind="system")


@dataclass(frozen=True)
class FromMessage:
    """What became of a message: a new case, or a note on an open one (`joined`)."""

    case: Case
    created: bool
    joined: bool = False
    rated: bool = False


def _sender_cases(person_id: uuid.UUID | None, channel: str, address: str):  # noqa: ANN202
    if person_id is not None:
        return Case.person_id == person_id
    return (Case.person_id.is_(None)) & (Case.contact_channel == channel) & (
        Case.contact_address == address
    )  # fmt: skip


def open_case_to_join(
    session: Session, *, person_id: uuid.UUID | None, channel: str, address: str
) -> Case | None:
    """The sender's open case a new message joins, by the rule in this module's docstring."""
    mine = _sender_cases(person_id, channel, address)
    latest = session.scalar(select(Case).where(mine).order_by(Case.created_at.desc()).limit(1))
    if latest is None or latest.status not in OPEN_STATUSES:
        return None
    since = clock.now() - JOIN_WINDOW
    last_words = session.scalar(
        select(CaseEvent.at)
        .where(CaseEvent.case_id == latest.id, CaseEvent.kind.in_(("received", "note")),
               CaseEvent.actor_kind.in_(("citizen", "sender", "system")))
        .order_by(CaseEvent.at.desc())
        .limit(1)
    )  # fmt: skip
    if max(latest.created_at, last_words or latest.created_at) < since:
        return None
    ended = session.scalar(
        select(Case.id)
        .where(mine, Case.id != latest.id, Case.status.in_(("closed", "rejected", "merged")),
               Case.updated_at >= latest.created_at)
        .limit(1)
    )  # fmt: skip
    return None if ended is not None else latest


def from_message(
    session: Session, *, inbound_id: uuid.UUID, channel: str, sender: str, text: str,
    person_id: uuid.UUID | None = None, municipality_code: str | None = None,
    language: str | None = None,
) -> FromMessage | None:  # fmt: skip
    """Make the case for an inbound message, or add it to the sender's open case as a note.
    None when the channel cannot carry requests (nothing to do) or the message is empty."""
    if channel not in INTAKE_CHANNELS or not text.strip():
        return None
    already = session.scalar(select(Case).where(Case.inbound_id == inbound_id))
    if already is not None:
        return FromMessage(already, created=False)
    actor = Principal(kind="citizen", id=person_id) if person_id else SYSTEM
    rated = _rate_by_reply(session, text, actor=actor, person_id=person_id, channel=channel,
                           address=sender)  # fmt: skip
    if rated is not None:
        return FromMessage(rated, created=False, rated=True)
    joined = open_case_to_join(session, person_id=person_id, channel=channel, address=sender)
    if joined is not None:
        _add_note(session, joined, actor, inbound_id=inbound_id, channel=channel, text=text)
        return FromMessage(joined, created=False, joined=True)
    submission = actions.Submission(
        text=text, channel=channel, person_id=person_id,
        contact_channel=None if person_id else channel,
        contact_address=None if person_id else sender,
        inbound_id=inbound_id, municipality_code=municipality_code, language=language,
    )  # fmt: skip
    made = actions.receive(session, submission, actor=actor)
    return FromMessage(made.case, created=made.created)


RATING = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")


def _rate_by_reply(
    session: Session, text: str, *, actor: Principal, person_id: uuid.UUID | None, channel: str,
    address: str,
) -> Case | None:  # fmt: skip
    """The rated case when `text` is a rating for the sender's latest, closed, unrated case."""
    number = RATING.match(text)
    if number is None:
        return None
    mine = _sender_cases(person_id, channel, address)
    latest = session.scalar(select(Case).where(mine).order_by(Case.created_at.desc()).limit(1))
    now = clock.now()
    if (
        latest is None or latest.status != "closed" or latest.rating is not None
        or latest.reopen_until is None or latest.reopen_until < now
    ):  # fmt: skip
        return None
    return handling.rate_by_reply(session, latest, actor=actor, rating=int(number.group(1)))


def _add_note(
    session: Session, case: Case, actor: Principal, *, inbound_id: uuid.UUID, channel: str,
    text: str,
) -> None:  # fmt: skip
    now = clock.now()
    session.add(
        CaseEvent(case_id=case.id, at=now, kind="note",
                  actor_kind="citizen" if actor.is_citizen else "sender", actor_id=actor.id,
                  note=text.strip(), public=True,
                  details={"inbound_id": str(inbound_id), "channel": channel, "from": "sender"})
    )  # fmt: skip
    case.updated_at = now
    session.flush()
    record(
        session, action="case.note", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="case", object_id=case.id,
        details={"channel": channel, "inbound_id": str(inbound_id), "joined": True},
    )  # fmt: skip
    log.info("message on %s joined an open case", channel)
