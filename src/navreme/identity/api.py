"""Identity JSON routes: sign-in for officers and citizens, who am I, departments, tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from navreme.identity import actions, queries
from navreme.identity.models import ApiToken, Department, Officer
from navreme.identity.schemas import (
    CitizenCodeRequest,
    CitizenCodeVerify,
    CodeChallengeOut,
    DepartmentOut,
    Me,
    OfficerLogin,
    OfficerOut,
    SessionOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
)
from navreme.web import ratelimit
from navreme.web.deps import DB, Admin, AnyOfficer, SignedIn, Who, deny
from navreme.web.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["identity"])


def _session_out(new: actions.NewSession) -> SessionOut:
    row = new.row
    return SessionOut(
        token=new.token, expires_at=row.expires_at,
        subject_kind=row.subject_kind, subject_id=row.subject_id,
    )  # fmt: skip


@router.post("/auth/officer/login", responses={401: {"description": "refused"}})
def officer_login(body: OfficerLogin, session: DB, principal: Who, request: Request) -> SessionOut:
    """Password and TOTP; returns a bearer session token for API clients."""
    ratelimit.guard_officer_login(request, body.username)
    try:
        new = actions.login_officer(
            session, username=body.username, password=body.password, totp=body.totp,
            replaces=principal.session_id,
        )  # fmt: skip
    except actions.LoginFailed as refused:
        session.commit()  # keep the audit entry and the failure count
        raise ApiError(401, "login_failed", str(refused)) from None
    return _session_out(new)


@router.post("/auth/citizen/code", status_code=202)
def citizen_code(body: CitizenCodeRequest, session: DB, request: Request) -> CodeChallengeOut:
    """Send a one-time code to the person's verified endpoint (same answer if unknown)."""
    ratelimit.guard_code_request(request, body.national_id)
    challenge = actions.request_citizen_code(session, national_id=body.national_id)
    return CodeChallengeOut(challenge_id=challenge.challenge_id, sent_to=challenge.sent_to)


@router.post("/auth/citizen/verify", responses={401: {"description": "refused"}})
def citizen_verify(
    body: CitizenCodeVerify, session: DB, principal: Who, request: Request
) -> SessionOut:
    ratelimit.guard_code_try(request)
    try:
        new = actions.verify_citizen_code(
            session, challenge_id=body.challenge_id, code=body.code, replaces=principal.session_id
        )
    except actions.LoginFailed as refused:
        session.commit()
        raise ApiError(401, "login_failed", str(refused)) from None
    return _session_out(new)


@router.post("/auth/logout", status_code=204)
def logout(session: DB, principal: SignedIn) -> Response:
    actions.logout(session, principal)
    return Response(status_code=204)


@router.get("/me")
def me(principal: Who) -> Me:
    return Me(
        kind=principal.kind, id=principal.id, department_id=principal.department_id,
        roles=sorted(principal.roles), via=principal.via,
    )  # fmt: skip


@router.get("/departments")
def departments(session: DB) -> list[DepartmentOut]:
    rows = session.scalars(select(Department).order_by(Department.code))
    return [DepartmentOut.model_validate(row) for row in rows]


@router.get("/departments/{department_id}/officers")
def department_officers(
    department_id: uuid.UUID, session: DB, principal: AnyOfficer
) -> list[OfficerOut]:
    """Only the department's own officers (and admins) see its staff."""
    officers = queries.officers_of_department(session, principal, department_id)
    if officers is None:
        raise deny(session, principal, action="department.officers", object_kind="department",
                   object_id=department_id)  # fmt: skip
    return [OfficerOut.model_validate(officer) for officer in officers]


@router.get("/officers/{officer_id}")
def officer(officer_id: uuid.UUID, session: DB, principal: AnyOfficer) -> OfficerOut:
    found = queries.get_officer_for(session, principal, officer_id)
    if found is None:
        raise deny(session, principal, action="officer.view", object_kind="officer",
                   object_id=officer_id, status=404)  # fmt: skip
    return OfficerOut.model_validate(found)


@router.get("/tokens")
def list_tokens(session: DB, principal: Admin) -> list[TokenOut]:
    rows = session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc()))
    return [TokenOut.model_validate(row) for row in rows]


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, session: DB, principal: Admin) -> TokenCreated:
    """A machine client's token acting as `officer_id`; the token is shown only here."""
    if session.get(Officer, body.officer_id) is None:
        raise ApiError(422, "invalid", "No such officer.", [{"field": "officer_id"}])
    row, token = actions.create_api_token(
        session, officer_id=body.officer_id, name=body.name, actor=principal, days=body.days
    )
    return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: uuid.UUID, session: DB, principal: Admin) -> Response:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise ApiError(404, "not_found", "No such token.")
    actions.revoke_api_token(session, token=row, actor=principal)
    return Response(status_code=204)
