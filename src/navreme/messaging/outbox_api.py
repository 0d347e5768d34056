"""Messages through the API: preview a template, a person's messages, failures for officers.

Preview renders exactly what a channel would carry (subject, text, HTML, SMS encoding and
segments), so a template author sees the Cyrillic SMS that costs three segments before a
campaign sends 1.8 million of them. Addresses are masked in every answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.config import get_settings
from navreme.identity import secrets
from navreme.identity.principal import Principal
from navreme.messaging import choices, segments, templates
from navreme.messaging.models import FORMATS, PURPOSES, ContactSettings, Delivery, Message
from navreme.registry.api import contact_changeable_person, readable_person
from navreme.registry.models import CHANNELS
from navreme.registry.schemas import error_responses
from navreme.web.deps import DB, AnyOfficer, SignedIn, officer_with
from navreme.web.errors import invalid_fields

router = APIRouter(prefix="/api/v1", tags=["messages"])
Answerer = Annotated[Principal, Depends(officer_with("officer", "supervisor"))]

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Format = Literal[FORMATS]  # type: ignore[valid-type]
Purpose = Literal[PURPOSES]  # type: ignore[valid-type]


class PreviewIn(BaseModel):
    template: str = Field(max_length=64)
    channel: Channel
    language: Literal["mk", "sq", "en"]
    format: Format = "standard"
    purpose: Purpose = "service"
    context: dict[str, Any] = Field(default_factory=dict, max_length=50)


class SmsParts(BaseModel):
    encoding: str  # gsm7 | ucs2
    segments: int
    characters: int


class PreviewOut(BaseModel):
    subject: str
    text: str
    html: str | None
    sms: SmsParts | None  # for SMS and push: what the operator will bill


class DeliveryOut(BaseModel):
    id: uuid.UUID
    step: int
    channel: str
    address: str  # masked
    status: str
    tries: int
    error_code: str | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None


class MessageOut(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID | None
    purpose: str
    template: str
    language: str
    format: str
    lane: str
    status: str
    created_at: datetime
    acknowledged_at: datetime | None
    deliveries: list[DeliveryOut]


def _delivery_out(row: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id, step=row.step, channel=row.channel,
        address=secrets.mask_address(row.channel, row.address)[-24:], status=row.status,
        tries=row.tries, error_code=row.error_code, error=row.error, created_at=row.created_at,
        sent_at=row.sent_at, delivered_at=row.delivered_at, read_at=row.read_at,
    )  # fmt: skip


def _messages_out(session: Session, messages: list[Message]) -> list[MessageOut]:
    ids = [m.id for m in messages]
    by_message: dict[uuid.UUID, list[DeliveryOut]] = {i: [] for i in ids}
    query = select(Delivery).where(Delivery.message_id.in_(ids)).order_by(Delivery.step)
    for row in session.scalars(query):
        by_message[row.message_id].append(_delivery_out(row))
    return [
        MessageOut(
            id=m.id,
            person_id=m.person_id,
            purpose=m.purpose,
            template=m.template,
            language=m.language,
            format=m.format,
            lane=m.lane,
            status=m.status,
            created_at=m.created_at,
            acknowledged_at=m.acknowledged_at,
            deliveries=by_message[m.id],
        )  # fmt: skip
        for m in messages
    ]


@router.get("/messages/templates", responses=error_responses(401, 403))
def template_names(principal: AnyOfficer) -> list[str]:
    """Every message template (staff)."""
    return templates.names()


@router.post("/messages/preview", responses=error_responses(401, 403, 422))
def preview(body: PreviewIn, principal: AnyOfficer) -> PreviewOut:
    """Render a template for one channel, language and format, sending nothing (staff)."""
    try:
        rendered = templates.render(
            body.template, channel=body.channel, language=body.language,
            context=body.context, format=body.format, purpose=body.purpose,
        )  # fmt: skip
    except templates.TemplateError as wrong:
        raise invalid_fields([{"field": "template", "problem": str(wrong)}]) from None
    sms = None
    if body.channel in ("sms", "push"):
        sms = SmsParts(encoding=segments.encoding(rendered.text),
                       segments=segments.segments(rendered.text),
                       characters=len(rendered.text))  # fmt: skip
    return PreviewOut(subject=rendered.subject, text=rendered.text, html=rendered.html, sms=sms)


@router.get("/persons/{person_id}/messages", responses=error_responses(401, 404))
def person_messages(
    person_id: uuid.UUID, session: DB, principal: SignedIn,
    before: datetime | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[MessageOut]:  # fmt: skip
    """What the state sent the person, on which channels, and what became of each try."""
    person = readable_person(session, principal, person_id, section="messages")
    query = select(Message).where(Message.person_id == person.id)
    if before is not None:
        query = query.where(Message.created_at < before)
    messages = list(session.scalars(query.order_by(Message.created_at.desc()).limit(limit)))
    return _messages_out(session, messages)


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give a time of day without an offset: it is read in `timezone`")
    return value


# A time of day on the person's wall clock. JSON Schema's "time" format means RFC 3339's
# full-time, which needs an offset, so the spec says what is really sent and accepted.
WallClock = Annotated[
    time,
    AfterValidator(_wall_clock),
    WithJsonSchema({"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
                    "examples": ["21:00"]}),
]  # fmt: skip


class ContactSettingsIn(BaseModel):
    """Quiet hours in the person's time zone; both empty: contact at any hour."""

    timezone: str = Field(default="Europe/Skopje", max_length=64)
    quiet_from: WallClock | None = time(21, 0)
    quiet_until: WallClock | None = time(8, 0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (use an IANA name such as Europe/Skopje)") from None
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> ContactSettingsIn:
        if (self.quiet_from is None) != (self.quiet_until is None):
            raise ValueError("give both quiet_from and quiet_until, or neither")
        return self


class ContactSettingsOut(ContactSettingsIn):
    person_id: uuid.UUID
    default: bool  # true: nothing chosen yet, these are the defaults


@router.get("/persons/{person_id}/contact-settings", responses=error_responses(401, 404))
def contact_settings(person_id: uuid.UUID, session: DB, principal: SignedIn) -> ContactSettingsOut:
    """The person's quiet hours (self, a minor's guardian, officers)."""
    person = readable_person(session, principal, person_id, section="contact_settings")
    row = session.get(ContactSettings, person.id)
    if row is None:
        zone = get_settings().timezone
        return ContactSettingsOut(person_id=person.id, timezone=zone, default=True)
    return ContactSettingsOut(person_id=person.id, timezone=row.timezone, quiet_from=row.quiet_from,
                              quiet_until=row.quiet_until, default=False)  # fmt: skip


@router.put("/persons/{person_id}/contact-settings", responses=error_responses(401, 403, 404, 422))
def set_contact_settings(
    person_id: uuid.UUID, body: ContactSettingsIn, session: DB, principal: SignedIn
) -> ContactSettingsOut:
    """Choose quiet hours (self, a minor's guardian, data managers); audited."""
    person = contact_changeable_person(
        session, principal, person_id, action="contact_settings.change"
    )
    choices.set_quiet_hours(
        session, person_id=person.id, timezone=body.timezone, quiet_from=body.quiet_from,
        quiet_until=body.quiet_until, actor=principal,
    )  # fmt: skip
    return ContactSettingsOut(person_id=person.id, **body.model_dump(), default=False)


@router.get("/deliveries/failed", responses=error_responses(401, 403))
def failed_deliveries(
    session: DB, principal: Answerer,
    status: Literal["technical-failure", "permanent-failure"] = "technical-failure",
    channel: Channel | None = None, before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:  # fmt: skip
    """Deliveries that ended in failure, newest first: what officers follow up (officers)."""
    query = select(Delivery).where(Delivery.status == status)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    if before is not None:
        query = query.where(Delivery.updated_at < before)
    rows = session.scalars(query.order_by(Delivery.updated_at.desc()).limit(limit))
    return [_delivery_out(row) for row in rows]
