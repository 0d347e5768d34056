"""The public, anonymised feed of handled cases (Atom and JSON Feed)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["open data"])
