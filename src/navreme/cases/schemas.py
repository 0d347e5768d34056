"""Cases over JSON: what officers and citizens send and get back."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from navreme.cases.models import Case, CaseEvent, CaseTask

Text = Field(min_length=1, max_length=5000)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(Input):
    """An officer records a phone call or a counter visit."""

    text: str = Text
    channel: Literal["phone", "counter"] = "phone"
    person_id: uuid.UUID | None = None
    category: str | None = Field(default=None, min_length=1, max_length=48)
    municipality: str | None = Field(default=None, min_length=1, max_length=16)
    address: str | None = Field(default=None, max_length=300)
    language: Literal["mk", "sq", "en"] | None = None


class ReasonIn(Input):
    reason: str = Text


class TransferIn(Input):
    department_id: uuid.UUID
    note: str = Text


class ClassifyIn(Input):
    category: str | None = Field(default=None, min_length=1, max_length=48)
    department_id: uuid.UUID | None = None


class TaskIn(Input):
    department_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300)
    due_days: int = Field(ge=1, le=260, description="working days")


class TaskDoneIn(Input):
    note: str | None = Field(default=None, max_length=5000)


class NoteIn(Input):
    text: str = Text
    public: bool = False


class ResolveIn(Input):
    resolution: str = Text


class ReviewIn(Input):
    approve: bool
    note: str | None = Field(default=None, max_length=5000)
    reopen_days: int = Field(default=10, ge=1, le=60, description="working days to re-open")


class MergeIn(Input):
    into: uuid.UUID = Field(description="the case that lives on")


class RateIn(Input):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class CaseOut(BaseModel):
    id: uuid.UUID
    reference: str
    status: str
    channel: str
    text: str
    language: str | None
    category: str | None
    predicted_category: str | None
    confidence: float | None
    department_id: uuid.UUID | None
    person_id: uuid.UUID | None
    municipality: str | None
    address: str | None
    sla_state: str
    accept_due_at: datetime | None
    resolve_due_at: datetime | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopen_until: datetime | None
    resolution: str | None
    rating: int | None
    merged_into_id: uuid.UUID | None
    created_at: datetime


class EventOut(BaseModel):
    at: datetime
    kind: str
    actor_kind: str
    department_id: uuid.UUID | None
    note: str | None
    public: bool
    details: dict[str, Any]


class TaskOut(BaseModel):
    id: uuid.UUID
    department_id: uuid.UUID
    title: str
    due_at: datetime
    status: str
    note: str | None
    done_at: datetime | None


class CaseDetailOut(CaseOut):
    events: list[EventOut]
    tasks: list[TaskOut]


class AtRiskOut(CaseOut):
    escalated: list[str]


def case_out(case: Case) -> dict[str, Any]:
    return {
        "id": case.id, "reference": case.reference, "status": case.status,
        "channel": case.channel, "text": case.text, "language": case.language,
        "category": case.category_code, "predicted_category": case.predicted_category,
        "confidence": case.confidence, "department_id": case.department_id,
        "person_id": case.person_id, "municipality": case.municipality_code,
        "address": case.address, "sla_state": case.sla_state,
        "accept_due_at": case.accept_due_at, "resolve_due_at": case.resolve_due_at,
        "accepted_at": case.accepted_at, "resolved_at": case.resolved_at,
        "closed_at": case.closed_at, "reopen_until": case.reopen_until,
        "resolution": case.resolution, "rating": case.rating,
        "merged_into_id": case.merged_into_id, "created_at": case.created_at,
    }  # fmt: skip


def event_out(event: CaseEvent) -> EventOut:
    return EventOut(
        at=event.at, kind=event.kind, actor_kind=event.actor_kind,
        department_id=event.department_id, note=event.note, public=event.public,
        details=event.details,
    )  # fmt: skip


def task_out(task: CaseTask) -> TaskOut:
    return TaskOut(
        id=task.id, department_id=task.department_id, title=task.title, due_at=task.due_at,
        status=task.status, note=task.note, done_at=task.done_at,
    )  # fmt: skip
