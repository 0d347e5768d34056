"""Reading the proactive engine: rules and their runs, a person's offers, and dry runs.

Offers are read through the registry's access getter; dry runs are set-based (GROUP BY over
the compiled rule) and write nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Select, case, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from navreme import clock
from navreme.catalogue.models import Service
from navreme.db import is_postgres
from navreme.identity.principal import Principal
from navreme.registry import actions as registry_actions
from navreme.registry.models import Document, Person
from navreme.registry.queries import age_on, get_person_for
from navreme.rules.compiler import compile_rule, years_before
from navreme.rules.models import Offer, Rule, RuleRun
from navreme.rules.schemas import RuleDefinition

Language = Literal["mk", "sq", "en"]
AGE_BANDS = (("0-17", 18), ("18-29", 30), ("30-44", 45), ("45-64", 65))
OLDEST_BAND = "65+"
ABROAD = "abroad"
SAMPLE_SIZE = 5


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- rules and runs -----------------------------------------------------------------------------


class RunOut(Out):
    id: uuid.UUID
    rule_id: uuid.UUID
    rule_code: str
    as_of: date
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    matched: int
    created: int
    seconds: float


class RuleVersionOut(Out):
    id: uuid.UUID
    code: str
    version: int
    status: Literal["draft", "published", "retired"]
    service: str
    level: Literal["inform", "offer", "automatic"]
    trigger_kind: str
    created_at: datetime
    published_at: datetime | None


class RuleDetail(RuleVersionOut):
    definition: RuleDefinition
    last_run: RunOut | None


class RuleSummary(Out):
    code: str
    published_version: int | None
    versions: list[RuleVersionOut]
    last_run: RunOut | None


def version_out(rule: Rule) -> RuleVersionOut:
    definition = rule.definition
    return RuleVersionOut(
        id=rule.id, code=rule.code, version=rule.version, status=rule.status,  # type: ignore[arg-type]
        service=rule.service_code, level=definition["level"],
        trigger_kind=definition["trigger"]["kind"], created_at=rule.created_at,
        published_at=rule.published_at,
    )  # fmt: skip


def last_runs(session: Session) -> dict[str, RuleRun]:
    """The latest run of each rule code."""
    latest = (
        select(RuleRun.rule_code, func.max(RuleRun.started_at).label("at"))
        .group_by(RuleRun.rule_code)
        .subquery()
    )
    query = select(RuleRun).join(
        latest, (latest.c.rule_code == RuleRun.rule_code) & (latest.c.at == RuleRun.started_at)
    )
    query = query.order_by(RuleRun.as_of)  # runs started together (a catch-up): the latest day
    return {run.rule_code: run for run in session.scalars(query)}


def rules_overview(session: Session) -> list[RuleSummary]:
    """Every rule code with all its versions (newest first) and its last run."""
    versions: dict[str, list[Rule]] = defaultdict(list)
    for rule in session.scalars(select(Rule).order_by(Rule.code, Rule.version.desc())):
        versions[rule.code].append(rule)
    runs = last_runs(session)
    return [
        RuleSummary(
            code=code,
            versions=[version_out(rule) for rule in rules],
            published_version=next((r.version for r in rules if r.status == "published"), None),
            last_run=RunOut.model_validate(runs[code]) if code in runs else None,
        )
        for code, rules in versions.items()
    ]


def rule_by_id(session: Session, rule_id: uuid.UUID) -> Rule | None:
    return session.get(Rule, rule_id)


def rule_detail(session: Session, rule: Rule) -> RuleDetail:
    run = last_runs(session).get(rule.code)
    return RuleDetail(
        **version_out(rule).model_dump(),
        definition=RuleDefinition.model_validate(rule.definition),
        last_run=RunOut.model_validate(run) if run else None,
    )


def runs_of(session: Session, rule: Rule, *, limit: int = 100) -> list[RunOut]:
    """The rule code's runs (every version), newest first."""
    query = select(RuleRun).where(RuleRun.rule_code == rule.code)
    query = query.order_by(RuleRun.started_at.desc()).limit(limit)
    return [RunOut.model_validate(run) for run in session.scalars(query)]


# --- a person's offers --------------------------------------------------------------------------


class ServiceRef(Out):
    code: str
    name: str


class OfferFacts(Out):
    kind: str
    id: uuid.UUID | None
    date: date | None
    horizon_days: int | None
    as_of: date


class RuleRef(Out):
    code: str
    version: int


class WaitsOn(Out):
    offer_id: uuid.UUID
    service: str


class OfferOut(Out):
    id: uuid.UUID
    person_id: uuid.UUID
    recipient_id: uuid.UUID
    service: ServiceRef
    level: Literal["inform", "offer", "automatic"]
    status: str
    period: str
    reason: str
    facts: OfferFacts
    legal_basis: str
    rule: RuleRef
    waits_on: WaitsOn | None
    created_at: datetime


def mask_number(number: str) -> str:
    """A document number shown without its middle: "P1234589" → "P1…89"."""
    if len(number) <= 4:
        return number[:1] + "…"
    return f"{number[:2]}…{number[-2:]}"


def local_date(day: date | None) -> str:
    return day.strftime("%d.%m.%Y") if day else ""


def birthday(born: date, age: int) -> date:
    """The day someone born on `born` reaches `age` (29 February → 1 March in common years)."""
    try:
        return born.replace(year=born.year + age)
    except ValueError:
        return date(born.year + age, 3, 1)


def _fact_day(definition: RuleDefinition, offer: Offer) -> date | None:
    """The date the reason speaks of: an expiry, an event, or the birthday reaching the age."""
    trigger = definition.trigger
    if trigger.kind == "age_reached" and offer.fact_date:
        return birthday(offer.fact_date, trigger.age)
    return offer.fact_date


def _deadline(definition: RuleDefinition, offer: Offer) -> date | None:
    trigger = definition.trigger
    if trigger.kind == "mandated_replacement":
        return trigger.deadline
    if trigger.kind == "life_event" and offer.fact_date:
        return offer.fact_date + timedelta(days=trigger.within_days)
    return _fact_day(definition, offer)


def _age(definition: RuleDefinition, born: date, as_of: date) -> int:
    trigger = definition.trigger
    return trigger.age if trigger.kind == "age_reached" else age_on(born, as_of)


def render_reason(
    definition: RuleDefinition, offer: Offer, *, language: Language, service_name: str,
    document_number: str | None, born: date,
) -> str:  # fmt: skip
    """The rule version's reason in `language`, its placeholders filled from the offer's facts."""
    deadline = _deadline(definition, offer)
    values = {
        "service": service_name,
        "document": mask_number(document_number) if document_number else "",
        "fact_date": local_date(_fact_day(definition, offer)),
        "deadline": local_date(deadline),
        "days": max((deadline - clock.today()).days, 0) if deadline else "",
        "age": _age(definition, born, offer.as_of),
        "legal_basis": definition.legal_basis,
    }
    return getattr(definition.reason, language).format_map(defaultdict(str, values))


def service_names(session: Session, language: Language) -> dict[str, str]:
    """Each service code's name in `language` (its latest published version)."""
    query = select(Service.code, Service.name).where(Service.status == "published")
    return {
        code: name.get(language, code)
        for code, name in session.execute(query.order_by(Service.version))
    }


def _document_numbers(session: Session, offers: list[Offer]) -> dict[uuid.UUID, str]:
    ids = [o.fact_id for o in offers if o.fact_kind == "document" and o.fact_id]
    if not ids:
        return {}
    query = select(Document.id, Document.number).where(Document.id.in_(ids))
    return {document_id: number for document_id, number in session.execute(query)}


def _offer_rows(
    session: Session, person_id: uuid.UUID
) -> list[tuple[Offer, Rule, str | None, date]]:
    earlier, subject = aliased(Offer), aliased(Person)
    query = (
        select(Offer, Rule, earlier.service_code, subject.birth_date)
        .join(Rule, Rule.id == Offer.rule_id)
        .join(subject, subject.id == Offer.person_id)
        .outerjoin(earlier, earlier.id == Offer.waits_on_offer_id)
        .where(or_(Offer.person_id == person_id, Offer.recipient_id == person_id))
        .order_by(Offer.created_at.desc(), Offer.id)
    )
    return [(o, r, s, b) for o, r, s, b in session.execute(query)]


def _offer_out(
    offer: Offer, rule: Rule, waits_on_service: str | None, *, reason: str, service_name: str
) -> OfferOut:
    definition = RuleDefinition.model_validate(rule.definition)
    waits = (
        WaitsOn(offer_id=offer.waits_on_offer_id, service=waits_on_service)
        if offer.waits_on_offer_id and waits_on_service else None
    )  # fmt: skip
    return OfferOut(
        id=offer.id, person_id=offer.person_id, recipient_id=offer.recipient_id,
        service=ServiceRef(code=offer.service_code, name=service_name), level=offer.level,  # type: ignore[arg-type]
        status=offer.status, period=offer.period, reason=reason,
        facts=OfferFacts(kind=offer.fact_kind, id=offer.fact_id, date=offer.fact_date,
                         horizon_days=offer.horizon_days, as_of=offer.as_of),
        legal_basis=definition.legal_basis, rule=RuleRef(code=rule.code, version=rule.version),
        waits_on=waits, created_at=offer.created_at,
    )  # fmt: skip


def offers_of(session: Session, person_id: uuid.UUID, language: Language) -> list[OfferOut]:
    """The person's own offers and those made to them for their wards, newest first."""
    rows = _offer_rows(session, person_id)
    names = service_names(session, language)
    numbers = _document_numbers(session, [offer for offer, *_ in rows])
    rendered = []
    for offer, rule, waits_on_service, born in rows:
        name = names.get(offer.service_code, offer.service_code)
        reason = render_reason(
            RuleDefinition.model_validate(rule.definition), offer, language=language,
            service_name=name, document_number=numbers.get(offer.fact_id) if offer.fact_id else None,
            born=born,
        )  # fmt: skip
        rendered.append(_offer_out(offer, rule, waits_on_service, reason=reason, service_name=name))
    return rendered


def offers_for(
    session: Session, principal: Principal, person_id: uuid.UUID, language: Language
) -> list[OfferOut] | None:
    """The offers if `principal` may read the person (self, a minor's guardian, any officer —
    audited as a view of the person's "offers"); None when they may not."""
    person = get_person_for(session, principal, person_id)
    if person is None:
        return None
    if principal.is_officer:
        registry_actions.record_person_view(
            session, person=person, actor=principal, section="offers"
        )
    return offers_of(session, person_id, language)


# --- dry runs -----------------------------------------------------------------------------------


class Count(Out):
    key: str
    count: int


class Sample(Out):
    person_id: uuid.UUID
    municipality: str
    age_band: str
    language: str


class DryRun(Out):
    rule_code: str
    as_of: date
    matched: int
    by_municipality: list[Count]
    by_age_band: list[Count]
    by_language: list[Count]
    sample: list[Sample]


def _age_band(as_of: date) -> ColumnElement[str]:
    return case(
        *((Person.birth_date > years_before(as_of, upper), band) for band, upper in AGE_BANDS),
        else_=OLDEST_BAND,
    )


def _place() -> ColumnElement[str]:
    return func.coalesce(Person.municipality_code, ABROAD)


def _counts(session: Session, matches: Any, column: ColumnElement[Any]) -> list[Count]:
    key = column.label("key")
    query = select(key, func.count().label("n")).select_from(matches)
    query = query.join(Person, Person.id == matches.c.person_id).group_by(key)
    rows = session.execute(query.order_by(func.count().desc(), key)).all()
    return [Count(key=str(row.key), count=row.n) for row in rows]


def _sample(session: Session, matches: Any, as_of: date) -> list[Sample]:
    query: Select[Any] = (
        select(matches.c.person_id, _place(), _age_band(as_of), Person.language)
        .join(Person, Person.id == matches.c.person_id)
        .order_by(matches.c.person_id)
        .limit(SAMPLE_SIZE)
    )
    return [
        Sample(person_id=row[0], municipality=row[1], age_band=row[2], language=row[3])
        for row in session.execute(query)
    ]


def without_jit(session: Session) -> None:
    """PostgreSQL: no JIT compilation for the rest of the transaction.

    Rule statements at national scale cost enough to cross `jit_above_cost`, yet run in
    about a second; compiling them took 55–130 ms each at 1.8 M persons (EXPLAIN ANALYZE),
    about 0.7 s per run of 20 rules, never earned back.
    """
    if is_postgres(session):
        session.execute(text("SET LOCAL jit = off"))


def dry_run(session: Session, definition: RuleDefinition, as_of: date) -> DryRun:
    """Who the rule would match on `as_of`, broken down, without writing anything."""
    without_jit(session)
    matches = compile_rule(definition, as_of).subquery("matches")
    total = session.scalar(select(func.count()).select_from(matches)) or 0
    return DryRun(
        rule_code=definition.code, as_of=as_of, matched=total,
        by_municipality=_counts(session, matches, _place()),
        by_age_band=_counts(session, matches, _age_band(as_of)),
        by_language=_counts(session, matches, Person.language),
        sample=_sample(session, matches, as_of),
    )  # fmt: skip
