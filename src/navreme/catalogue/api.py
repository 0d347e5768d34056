"""The public service catalogue over HTTP: read-only, no sign-in needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from navreme.catalogue import queries
from navreme.catalogue.schemas import (
    Audience,
    CategoryOut,
    DepartmentOut,
    Language,
    ServiceDetail,
    ServicePage,
)
from navreme.web.deps import DB
from navreme.web.errors import ApiError

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])

Lang = Annotated[
    Language,
    Query(description="language of `name`, `description` and `label`; all are also returned"),
]
# Numbers go to the database as INTEGER/BIGINT: bounded, so a huge one is a 422, not a crash (T14).
MAX_VERSION, MAX_OFFSET = 9999, 1_000_000


@router.get("/services", response_model=ServicePage)
def list_services(
    session: DB,
    category: Annotated[str | None, Query(max_length=48)] = None,
    department: Annotated[str | None, Query(max_length=32, description="department code")] = None,
    audience: Audience | None = None,
    q: Annotated[str | None, Query(max_length=200, description="words in any language")] = None,
    lang: Lang = "mk",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ServicePage:
    """Published services (latest version of each), filtered, by name in `lang`."""
    found = queries.published_services(
        session, category=category, department=department, audience=audience, q=q, language=lang
    )
    return ServicePage(
        items=found[offset : offset + limit], total=len(found), limit=limit, offset=offset
    )


@router.get(
    "/services/{code}",
    response_model=ServiceDetail,
    responses={404: {"description": "No published service with this code (and version)"}},
)
def get_service(
    session: DB,
    code: str,
    lang: Lang = "mk",
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> ServiceDetail:
    """A service in full: steps, evidence, fees, prerequisites, lead time and visits needed."""
    detail = queries.service_detail(session, code, version=version, language=lang)
    if detail is None:
        raise ApiError(404, "not_found", f"There is no published service {code!r}.")
    return detail


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(session: DB, lang: Lang = "mk") -> list[CategoryOut]:
    """Categories that have published services, with their counts."""
    return queries.categories(session, language=lang)


@router.get("/departments", response_model=list[DepartmentOut])
def list_departments(session: DB, lang: Lang = "mk") -> list[DepartmentOut]:
    """The departments that provide services, by code."""
    return queries.departments(session, language=lang)
