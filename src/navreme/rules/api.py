"""Proactive engine JSON routes: rules (officers), runs (supervisors), a person's offers.

Rules are read by any officer, written by catalogue editors, run by supervisors (admins
always). Offers are read through the registry's access getter; opting out of a service is
for the person, a minor's guardian and data managers.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from navreme import clock
from navreme.catalogue.queries import unknown_services
from navreme.identity.principal import Principal
from navreme.registry.queries import get_person_for_contact_change
from navreme.registry.schemas import error_responses
from navreme.rules import actions, queries
from navreme.rules.models import Rule
from navreme.rules.queries import DryRun, Language, OfferOut, RuleDetail, RuleSummary, RunOut
from navreme.rules.schemas import RuleDefinition
from navreme.web.deps import DB, AnyOfficer, SignedIn, deny, officer_with
from navreme.web.errors import ApiError, invalid_fields

router = APIRouter(prefix="/api/v1", tags=["rules"])

Editor = Annotated[Principal, Depends(officer_with("catalogue_editor"))]
Supervisor = Annotated[Principal, Depends(officer_with("supervisor"))]


# Rules look back by ages and ahead by horizons; outside these years the calendar arithmetic
# has no day to land on (year 0), so such a day is refused rather than crashing (T14).
EARLIEST_AS_OF, LATEST_AS_OF = date(1900, 1, 1), date(2199, 12, 31)


class AsOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: date | None = Field(
        default=None, ge=EARLIEST_AS_OF, le=LATEST_AS_OF,
        description="the day to evaluate (1900–2199); default today",
    )  # fmt: skip


class OptOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str = Field(min_length=1, max_length=48, description="a catalogue service code")


class OptOutOut(BaseModel):
    person_id: uuid.UUID
    service: str
    declined_offers: int


DefinitionBody = Annotated[
    dict[str, Any],
    Body(description="A rule definition (schema `RuleDefinition`); every problem is reported."),
]


def _invalid(invalid: actions.RuleInvalid) -> ApiError:
    return ApiError(422, "invalid", "The rule definition has problems.", invalid.problems)


def _rule(session: Session, rule_id: uuid.UUID) -> Rule:
    rule = queries.rule_by_id(session, rule_id)
    if rule is None:
        raise ApiError(404, "not_found", "No rule version here.")
    return rule


@router.get("/rules", responses=error_responses(401, 403))
def list_rules(session: DB, principal: AnyOfficer) -> list[RuleSummary]:
    """Every rule code with its versions (newest first), which one is published, its last run."""
    return queries.rules_overview(session)


@router.get("/rules/{rule_id}", responses=error_responses(401, 403, 404))
def rule(rule_id: uuid.UUID, session: DB, principal: AnyOfficer) -> RuleDetail:
    """One rule version with its full definition."""
    return queries.rule_detail(session, _rule(session, rule_id))


@router.post("/rules", status_code=201, responses=error_responses(401, 403, 422))
def create_rule(body: DefinitionBody, session: DB, principal: Editor) -> RuleDetail:
    """A new draft version of a rule (a change to a rule is always a new version)."""
    try:
        created = actions.create_rule_version(session, body, actor=principal)
    except actions.RuleInvalid as invalid:
        raise _invalid(invalid) from None
    return queries.rule_detail(session, created)


@router.post("/rules/{rule_id}/publish", responses=error_responses(401, 403, 404, 409))
def publish(rule_id: uuid.UUID, session: DB, principal: Editor) -> RuleDetail:
    """Publish a draft; the version published before it is retired."""
    found = _rule(session, rule_id)
    try:
        actions.publish_rule(session, found, actor=principal)
    except actions.RuleInvalid as invalid:
        raise ApiError(409, "conflict", "; ".join(invalid.problems)) from None
    return queries.rule_detail(session, found)


@router.post("/rules/{rule_id}/dry-run", responses=error_responses(401, 403, 404, 422))
def dry_run(
    rule_id: uuid.UUID, session: DB, principal: AnyOfficer, body: AsOf | None = None
) -> DryRun:
    """Who the version would match, broken down by municipality, age band and language."""
    definition = RuleDefinition.model_validate(_rule(session, rule_id).definition)
    as_of = (body.as_of if body else None) or clock.today()
    return queries.dry_run(session, definition, as_of)


@router.post("/rules/{rule_id}/run", responses=error_responses(401, 403, 404, 409, 422))
def run(rule_id: uuid.UUID, session: DB, principal: Supervisor, body: AsOf | None = None) -> RunOut:
    """Run a published version now; offers already made are never made again."""
    found = _rule(session, rule_id)
    as_of = (body.as_of if body else None) or clock.today()
    try:
        done = actions.run_rule(session, found, as_of=as_of, trigger="manual", actor=principal)
    except actions.RuleNotPublished as refused:
        raise ApiError(409, "not_published", str(refused)) from None
    return RunOut.model_validate(done)


@router.get("/rules/{rule_id}/runs", responses=error_responses(401, 403, 404))
def runs(rule_id: uuid.UUID, session: DB, principal: AnyOfficer) -> list[RunOut]:
    """The rule's runs (all versions), newest first."""
    return queries.runs_of(session, _rule(session, rule_id))


@router.get("/persons/{person_id}/offers", responses=error_responses(401, 404))
def offers(
    person_id: uuid.UUID, session: DB, principal: SignedIn,
    lang: Annotated[Language, Query(description="language of reasons and service names")] = "mk",
) -> list[OfferOut]:  # fmt: skip
    """The person's offers and those for their minor wards, with reason, facts and legal basis."""
    found = queries.offers_for(session, principal, person_id, lang)
    if found is None:
        raise deny(session, principal, action="person.view", object_kind="person",
                   object_id=person_id, status=404)  # fmt: skip
    return found


def _known_service(session: Session, code: str) -> None:
    if unknown_services(session, [code]):
        details = [{"field": "body.service", "problem": f"unknown service {code!r}"}]
        raise invalid_fields(details)


@router.post(
    "/persons/{person_id}/proactive-opt-outs", status_code=201,
    responses=error_responses(401, 403, 404, 422),
)  # fmt: skip
def opt_out(person_id: uuid.UUID, body: OptOut, session: DB, principal: SignedIn) -> OptOutOut:
    """No proactive handling of a service for this person: open offers for it are declined."""
    person = get_person_for_contact_change(session, principal, person_id)
    if person is None:
        status = 403 if principal.is_officer else 404
        raise deny(session, principal, action="offer.decline_proactive", object_kind="person",
                   object_id=person_id, status=status)  # fmt: skip
    _known_service(session, body.service)
    declined = actions.decline_proactive(
        session, person_id=person.id, service_code=body.service, actor=principal
    )
    return OptOutOut(person_id=person.id, service=body.service, declined_offers=declined)
