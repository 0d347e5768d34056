"""Open311 GeoReport v2: services and service requests, JSON and XML."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/open311/v2", tags=["open311"])
