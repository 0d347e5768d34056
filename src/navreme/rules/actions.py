"""The proactive engine's writes: rule versions, publishing, runs that make offers exactly once."""

from __future__ import annotations

import time
import uuid
import zlib
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, func, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from navreme import clock
from navreme.audit.actions import record
from navreme.catalogue.models import Service
from navreme.db import UTCDateTime, is_postgres
from navreme.identity.principal import Principal
from navreme.rules.compiler import MATCH_COLUMNS, compile_rule
from navreme.rules.models import OPEN_OFFER_STATUSES, Offer, ProactiveOptOut, Rule, RuleRun
from navreme.rules.queries import without_jit
from navreme.rules.schemas import RuleDefinition

CATCH_UP_LIMIT_DAYS = 31


class RuleInvalid(ValueError):
    """The definition has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class RuleNotPublished(RuntimeError):
    """Only a published rule version may run."""


def _pydantic_problems(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}" for e in error.errors()]


def _catalogue_problems(session: Session, definition: RuleDefinition) -> list[str]:
    known = set(session.scalars(select(Service.code).where(Service.status == "published")))
    problems = []
    if definition.service not in known:
        problems.append(f"service: unknown service {definition.service!r}")
    for code in definition.prerequisites:
        if code not in known:
            problems.append(f"prerequisites: unknown service {code!r}")
    return problems


def validate_definition(session: Session, data: dict[str, Any]) -> RuleDefinition:
    """Parse and check a definition against the schema and the catalogue; list every problem."""
    try:
        definition = RuleDefinition.model_validate(data)
    except ValidationError as invalid:
        problems = _pydantic_problems(invalid)
        service = data.get("service") if isinstance(data, dict) else None
        if isinstance(service, str) and not session.scalar(
            select(Service.id).where(Service.code == service)
        ):
            problems.append(f"service: unknown service {service!r}")
        raise RuleInvalid(problems) from None
    problems = _catalogue_problems(session, definition)
    if problems:
        raise RuleInvalid(problems)
    return definition


def _next_version(session: Session, code: str) -> int:
    latest = session.scalar(select(func.max(Rule.version)).where(Rule.code == code))
    return (latest or 0) + 1


def create_rule_version(session: Session, data: dict[str, Any], *, actor: Principal | None) -> Rule:
    """A new draft version; published versions are never edited."""
    definition = validate_definition(session, data)
    version = _next_version(session, definition.code)
    if "version" in data and definition.version != version:
        raise RuleInvalid(
            [f"version: {definition.code} v{definition.version} exists; a change is a new "
             f"version (next: {version})"]
        )  # fmt: skip
    stored = definition.model_copy(update={"version": version}).model_dump(mode="json")
    rule = Rule(
        code=definition.code, version=version, status="draft",
        service_code=definition.service, definition=stored,
    )  # fmt: skip
    session.add(rule)
    session.flush()
    _audit(session, "rule.create", rule, actor)
    return rule


def publish_rule(session: Session, rule: Rule, *, actor: Principal | None) -> Rule:
    """Publish a draft; the previously published version of the same rule is retired."""
    if rule.status != "draft":
        raise RuleInvalid([f"status: only a draft can be published (this one is {rule.status})"])
    session.execute(
        update(Rule)
        .where(Rule.code == rule.code, Rule.status == "published")
        .values(status="retired")
    )
    rule.status, rule.published_at = "published", clock.now()
    _audit(session, "rule.publish", rule, actor)
    return rule


def _audit(
    session: Session, action: str, rule: Rule, actor: Principal | None, **details: Any
) -> None:
    record(
        session, action=action, actor_kind=actor.audit_kind if actor else "system",
        actor_id=actor.id if actor else None, object_kind="rule", object_id=rule.id,
        details={"code": rule.code, "version": rule.version, **details},
    )  # fmt: skip


def _new_id(session: Session) -> Any:
    if is_postgres(session):
        return func.gen_random_uuid()
    return func.lower(func.hex(func.randomblob(16)))  # SQLite keeps UUIDs as 32 hex digits


def _offer_source(session: Session, rule: Rule, run: RuleRun, found: Any) -> Select:
    """The offers rows to insert from `found` (the matches): only those not offered already.

    The NOT EXISTS probe skips matches that already have their offer before any row is built
    (a re-run used to build every row and let the unique index reject it); ON CONFLICT stays
    for offers made concurrently by another run.
    """
    definition = RuleDefinition.model_validate(rule.definition)
    instant = literal(clock.now(), UTCDateTime())
    offered = select(Offer.id).where(
        Offer.rule_code == rule.code,
        Offer.person_id == found.c.person_id,
        Offer.period == found.c.period,
    )
    return select(
        _new_id(session),
        literal(rule.id),
        literal(rule.code),
        literal(run.id),
        *(found.c[name] for name in MATCH_COLUMNS),
        literal(definition.service),
        literal(definition.level),
        literal("pending"),
        literal(run.as_of),
        instant,
        instant,
    ).where(
        ~offered.exists()
    )  # fmt: skip  (also the WHERE SQLite's upsert needs after INSERT … SELECT)


def _insert_from(session: Session, source: Select) -> Any:
    columns = ["id", "rule_id", "rule_code", "run_id", *MATCH_COLUMNS, "service_code", "level",
               "status", "as_of", "created_at", "updated_at"]  # fmt: skip
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    return (
        dialect_insert(Offer)
        .from_select(columns, source)
        .on_conflict_do_nothing(index_elements=["person_id", "rule_code", "period"])
    )


def _materialise_postgres(
    session: Session, rule: Rule, run: RuleRun, matches: Select
) -> tuple[int, int]:
    """(matched, created) from one evaluation of the rule: the matches are a MATERIALIZED CTE
    that both the count and the INSERT read (it used to be evaluated once for each)."""
    found = matches.cte("matches").prefix_with("MATERIALIZED")
    inserted = (
        _insert_from(session, _offer_source(session, rule, run, found))
        .returning(literal(1))
        .cte("inserted")
    )
    counts = select(
        select(func.count()).select_from(found).scalar_subquery(),
        select(func.count()).select_from(inserted).scalar_subquery(),
    )
    matched, created = session.execute(counts).one()
    return matched, created


def _materialise_sqlite(
    session: Session, rule: Rule, run: RuleRun, matches: Select
) -> tuple[int, int]:
    """(matched, created): SQLite has no INSERT inside a WITH, so count, then insert."""
    matched = session.scalar(select(func.count()).select_from(matches.subquery())) or 0
    statement = _insert_from(
        session, _offer_source(session, rule, run, matches.subquery("matches"))
    )
    result = session.execute(statement)
    return matched, max(result.rowcount, 0)


def _materialise(session: Session, rule: Rule, run: RuleRun, matches: Select) -> tuple[int, int]:
    if is_postgres(session):
        return _materialise_postgres(session, rule, run, matches)
    return _materialise_sqlite(session, rule, run, matches)


def _link_prerequisites(session: Session, rule: Rule, run: RuleRun) -> None:
    """A new offer waits on the same person's open offer of each prerequisite service."""
    prerequisites = RuleDefinition.model_validate(rule.definition).prerequisites
    if not prerequisites:
        return
    earlier = aliased(Offer)
    waits_on = (
        select(earlier.id)
        .where(
            earlier.person_id == Offer.person_id,
            earlier.service_code.in_(prerequisites),
            earlier.status.in_(OPEN_OFFER_STATUSES),
        )
        .order_by(earlier.created_at)
        .limit(1)
        .scalar_subquery()
    )
    session.execute(update(Offer).where(Offer.run_id == run.id).values(waits_on_offer_id=waits_on))


def run_rule(
    session: Session,
    rule: Rule,
    *,
    as_of: date,
    trigger: str = "manual",
    actor: Principal | None = None,
) -> RuleRun:
    """Evaluate one published rule as of a date; offers already made are never made again."""
    if rule.status != "published":
        raise RuleNotPublished(f"{rule.code} v{rule.version} is {rule.status}; publish it first")
    started = time.perf_counter()
    run = RuleRun(rule_id=rule.id, rule_code=rule.code, as_of=as_of, trigger=trigger)
    session.add(run)
    session.flush()
    without_jit(session)
    matches = compile_rule(RuleDefinition.model_validate(rule.definition), as_of)
    run.matched, run.created = _materialise(session, rule, run, matches)
    _link_prerequisites(session, rule, run)
    run.finished_at, run.seconds = clock.now(), round(time.perf_counter() - started, 4)
    _audit(session, "rule.run", rule, actor, as_of=as_of.isoformat(), matched=run.matched,
           created=run.created, trigger=trigger)  # fmt: skip
    return run


def published_rules(session: Session) -> list[Rule]:
    return list(session.scalars(select(Rule).where(Rule.status == "published").order_by(Rule.code)))


def run_published(session: Session, *, as_of: date, trigger: str = "schedule") -> list[RuleRun]:
    return [
        run_rule(session, rule, as_of=as_of, trigger=trigger) for rule in published_rules(session)
    ]


def days_to_catch_up(session: Session, rule: Rule, *, until: date) -> list[date]:
    """Every day since the rule last ran (at most a month back), ending with `until`."""
    last = session.scalar(select(func.max(RuleRun.as_of)).where(RuleRun.rule_code == rule.code))
    if last is None or last >= until:
        return [] if last == until else [until]
    start = max(last + timedelta(days=1), until - timedelta(days=CATCH_UP_LIMIT_DAYS))
    return [start + timedelta(days=n) for n in range((until - start).days + 1)]


def _lock_rule(session: Session, rule: Rule) -> None:
    """Schedulers running at once take turns per rule (PostgreSQL; SQLite has one writer),
    so the second finds the day already done instead of evaluating it again."""
    if is_postgres(session):
        key = zlib.crc32(f"navreme-rule:{rule.code}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def catch_up(session: Session, *, until: date) -> list[RuleRun]:
    """The daily run: each published rule for every day it missed (after downtime), then today."""
    runs = []
    for rule in published_rules(session):
        _lock_rule(session, rule)
        for day in days_to_catch_up(session, rule, until=until):
            trigger = "schedule" if day == until else "catch_up"
            runs.append(run_rule(session, rule, as_of=day, trigger=trigger))
    return runs


def decline_proactive(
    session: Session, *, person_id: uuid.UUID, service_code: str, actor: Principal
) -> int:
    """The person wants no proactive handling of a service: open offers are declined."""
    exists_already = session.scalar(
        select(ProactiveOptOut.id).where(
            ProactiveOptOut.person_id == person_id, ProactiveOptOut.service_code == service_code
        )
    )
    if not exists_already:
        session.add(ProactiveOptOut(person_id=person_id, service_code=service_code))
    result = session.execute(
        update(Offer)
        .where(Offer.person_id == person_id, Offer.service_code == service_code)
        .where(Offer.status.in_(OPEN_OFFER_STATUSES))
        .values(status="declined", updated_at=clock.now())
    )
    record(
        session, action="offer.decline_proactive", actor_kind=actor.audit_kind, actor_id=actor.id,
        object_kind="person", object_id=person_id, details={"service": service_code},
    )  # fmt: skip
    return result.rowcount or 0
