"""Cases for officers and citizens: the JSON API (filled in with the handling actions)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["cases"])
