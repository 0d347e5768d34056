"""`Idempotency-Key`: a retried POST has its effect once and gets the first answer again.

The key row is inserted in the same transaction as the effect. A concurrent request with the same
key blocks on that insert until the first commits (PostgreSQL; SQLite serialises writers
anyway), then finds the stored answer and replays it. A key reused with a different request body
is refused with 422. Failed requests roll back with their key, so retrying them is safe.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import JSON, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from navreme import clock
from navreme.db import Base, created_column
from navreme.identity.principal import Principal
from navreme.web.errors import ApiError

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{8,200}$")
KEEP = timedelta(hours=24)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)  # "citizen:<uuid>", …
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(default=0)
    response: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    created_at: Mapped[datetime] = created_column()


def _owner(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id or '-'}"


def fingerprint(request: Request, body: Any) -> str:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).hexdigest()


def _replay(row: IdempotencyKey, print_: str) -> JSONResponse:
    if row.fingerprint != print_:
        raise ApiError(
            422, "idempotency_key_reused",
            f"This {HEADER} was already used for a different request; use a new key.",
        )  # fmt: skip
    return JSONResponse(
        row.response, status_code=row.status_code, headers={"Idempotent-Replayed": "true"}
    )


def run_once(
    session: Session,
    request: Request,
    principal: Principal,
    body: Any,
    effect: Callable[[], Any],
    *,
    status_code: int = 200,
) -> Any:
    """Run `effect` unless this principal already sent this key; answer as the first time."""
    key = request.headers.get(HEADER)
    if key is None:
        return JSONResponse(jsonable_encoder(effect()), status_code=status_code)
    if not KEY_PATTERN.match(key):
        raise ApiError(
            422, "invalid",
            f"{HEADER} must be 8–200 characters of letters, digits and . _ : -",
        )  # fmt: skip
    owner, print_ = _owner(principal), fingerprint(request, body)
    found = session.get(IdempotencyKey, (owner, key))
    if found is not None:
        return _replay(found, print_)
    try:
        with session.begin_nested():
            row = IdempotencyKey(owner=owner, key=key, fingerprint=print_)
            session.add(row)
            session.flush()
    except IntegrityError:
        # Another request with this key committed while we waited on the insert.
        again = session.execute(
            select(IdempotencyKey)
            .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        ).scalar_one()
        return _replay(again, print_)
    answer = jsonable_encoder(effect())
    row.status_code, row.response = status_code, answer
    session.flush()
    return JSONResponse(answer, status_code=status_code)


def forget_old(session: Session) -> int:
    """Drop keys older than a day (a retry after that is a new request)."""
    result = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < clock.now() - KEEP)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
