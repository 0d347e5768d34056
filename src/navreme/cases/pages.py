"""Pages of this domain (server-rendered, working without JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
