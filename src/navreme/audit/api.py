"""Audit log routes (admins): recent entries and chain verification."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from navreme.audit import queries
from navreme.web.deps import DB, Admin

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    at: datetime
    actor_kind: str
    actor_id: uuid.UUID | None
    action: str
    object_kind: str | None
    object_id: str | None
    outcome: str
    details: dict[str, Any]
    position: int | None  # its place in the chain; None until the chainer links it
    hash: str | None


class ChainReport(BaseModel):
    entries: int
    head: str
    intact: bool
    problems: list[dict[str, Any]]


@router.get("")
def recent(
    session: DB,
    principal: Admin,
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = Query(None, max_length=64),
) -> list[AuditEntryOut]:
    return [
        AuditEntryOut.model_validate(e) for e in queries.recent(session, limit=limit, action=action)
    ]


@router.get("/verify")
def verify(session: DB, principal: Admin) -> ChainReport:
    """Chain pending entries, then walk the whole hash chain; `intact` is false if any entry
    was edited, removed or forged, or could not be chained."""
    count, head, problems = queries.verify_chain(session)
    return ChainReport(
        entries=count, head=head, intact=not problems,
        problems=[{"seq": p.seq, "reason": p.reason} for p in problems[:100]],
    )  # fmt: skip
