"""Rules compile to set-based SQL (SQLAlchemy Core): one SELECT of matches per rule.

Every date bound is computed here, in Python, from `as_of`; the SQL only compares columns
with parameters, so the same statement runs on SQLite and PostgreSQL and uses the indexes.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from navreme.registry.models import Document, GuardianLink, LifeEvent, Person
from navreme.rules.models import ProactiveOptOut
from navreme.rules.schemas import (
    AgeReached,
    DocumentExpiry,
    Eligibility,
    LifeEventTrigger,
    MandatedReplacement,
    RuleDefinition,
    Target,
)

ADULT_AGE = 18
# Typed NULLs: PostgreSQL would otherwise take a bare NULL in the subquery for text.
_NO_HORIZON = cast(null(), Integer)
_NO_DATE = cast(null(), Date)
MATCH_COLUMNS = (
    "person_id",
    "recipient_id",
    "period",
    "fact_kind",
    "fact_id",
    "fact_date",
    "horizon_days",
)


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier; 29 February falls back to 28 February.

    So a person born on 29 February reaches an age on 1 March in common years
    (born ≤ as_of − age years ⇔ has reached that age).
    """
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _living(as_of: date, person: type[Person] = Person) -> ColumnElement[bool]:
    return or_(person.death_date.is_(None), person.death_date > as_of)


def _target(target: Target, as_of: date) -> list[ColumnElement[bool]]:
    conditions = [_living(as_of)]
    if target.residence == "resident":
        conditions.append(Person.municipality_code.is_not(None))
    if target.residence == "abroad":
        conditions.append(Person.abroad_country.is_not(None))
    if target.min_age is not None:
        conditions.append(Person.birth_date <= years_before(as_of, target.min_age))
    if target.max_age is not None:
        conditions.append(Person.birth_date > years_before(as_of, target.max_age + 1))
    if target.languages:
        conditions.append(Person.language.in_(target.languages))
    if target.municipalities:
        conditions.append(Person.municipality_code.in_(target.municipalities))
    if target.household_min_size is not None:
        conditions.append(_households_of_at_least(target.household_min_size, as_of))
    if target.has_child_under is not None:
        conditions.append(_has_child_under(target.has_child_under, as_of))
    return conditions


def _households_of_at_least(size: int, as_of: date) -> ColumnElement[bool]:
    """In a household of at least `size` living members (one grouped pass, not one per person)."""
    member = aliased(Person)
    households = (
        select(member.household_id)
        .where(member.household_id.is_not(None), _living(as_of, member))
        .group_by(member.household_id)
        .having(func.count() >= size)
    )
    return Person.household_id.in_(households)


def _has_child_under(years: int, as_of: date) -> ColumnElement[bool]:
    """Guardian of a living child under `years` (one uncorrelated set, probed per person)."""
    child = aliased(Person)
    guardians = (
        select(GuardianLink.guardian_id)
        .join(child, child.id == GuardianLink.ward_id)
        .where(child.birth_date > years_before(as_of, years), _living(as_of, child))
    )
    return Person.id.in_(guardians)


def _not_opted_out(service: str) -> ColumnElement[bool]:
    opted_out = select(ProactiveOptOut.person_id).where(ProactiveOptOut.service_code == service)
    return Person.id.not_in(opted_out)


def _recipient(definition: RuleDefinition, as_of: date) -> ColumnElement[object]:
    """Minors' offers go to a living guardian (the first by id, a stable choice), else themselves."""
    if not definition.guardians_for_minors:
        return Person.id
    guardian_person = aliased(Person)
    guardian = (
        select(GuardianLink.guardian_id)
        .join(guardian_person, guardian_person.id == GuardianLink.guardian_id)
        .where(GuardianLink.ward_id == Person.id, _living(as_of, guardian_person))
        .order_by(GuardianLink.guardian_id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )
    minor = Person.birth_date > years_before(as_of, ADULT_AGE)
    return case((minor, func.coalesce(guardian, Person.id)), else_=Person.id)


def _base(definition: RuleDefinition, as_of: date) -> list[ColumnElement[bool]]:
    return [*_target(definition.target, as_of), _not_opted_out(definition.service)]


def _document_expiry(trigger: DocumentExpiry, definition: RuleDefinition, as_of: date) -> Select:
    newer = aliased(Document)
    widest = trigger.horizons_days[0]
    horizon = case(
        *(
            (Document.expires_on <= as_of + timedelta(days=h), h)
            for h in reversed(trigger.horizons_days)
        ),
        else_=widest,
    )
    return (
        select(
            Person.id,
            _recipient(definition, as_of),
            (Document.kind + literal(":") + cast(Document.expires_on, String)),
            literal("document"),
            Document.id,
            Document.expires_on,
            horizon,
        )  # fmt: skip
        .join(Document, Document.person_id == Person.id)
        .where(
            Document.kind == trigger.document,
            Document.status.in_(("valid", "expired")),
            Document.expires_on <= as_of + timedelta(days=widest),
            Document.expires_on >= as_of - timedelta(days=trigger.grace_days),
            ~exists(
                select(1).where(
                    newer.person_id == Document.person_id,
                    newer.kind == Document.kind,
                    newer.expires_on > Document.expires_on,
                    newer.status == "valid",
                )  # fmt: skip
            ),
            *_base(definition, as_of),
        )
    )


def _mandated(trigger: MandatedReplacement, definition: RuleDefinition, as_of: date) -> Select:
    newer = aliased(Document)
    campaign = f"replace-{trigger.issued_before.isoformat()}:"
    return (
        select(
            Person.id,
            _recipient(definition, as_of),
            literal(campaign) + Document.kind,
            literal("document"),
            Document.id,
            literal(trigger.deadline),
            _NO_HORIZON,
        )  # fmt: skip
        .join(Document, Document.person_id == Person.id)
        .where(
            true() if as_of <= trigger.deadline else false(),
            Document.kind.in_(trigger.documents),
            Document.status == "valid",
            Document.issued_on < trigger.issued_before,
            ~exists(
                select(1).where(
                    newer.person_id == Document.person_id,
                    newer.kind == Document.kind,
                    newer.issued_on >= trigger.issued_before,
                    newer.status == "valid",
                )
            ),
            *_base(definition, as_of),
        )
    )


def _life_event(trigger: LifeEventTrigger, definition: RuleDefinition, as_of: date) -> Select:
    return (
        select(
            Person.id,
            _recipient(definition, as_of),
            literal(f"{trigger.event}:") + cast(LifeEvent.occurred_on, String),
            literal("life_event"),
            LifeEvent.id,
            LifeEvent.occurred_on,
            _NO_HORIZON,
        )  # fmt: skip
        .join(LifeEvent, LifeEvent.person_id == Person.id)
        .where(
            LifeEvent.kind == trigger.event,
            LifeEvent.occurred_on <= as_of,
            LifeEvent.occurred_on >= as_of - timedelta(days=trigger.within_days),
            *_base(definition, as_of),
        )
    )


def _age_reached(trigger: AgeReached, definition: RuleDefinition, as_of: date) -> Select:
    latest_birth = years_before(as_of + timedelta(days=trigger.within_days), trigger.age)
    # Reached the age on a day in [as_of - grace, as_of + within]: by its last day, and not
    # yet by the day before its first (birth dates compared, 29 February handled once here).
    not_yet = years_before(as_of - timedelta(days=trigger.grace_days + 1), trigger.age)
    return select(
        Person.id,
        _recipient(definition, as_of),
        literal(f"age:{trigger.age}"),
        literal("person"),
        Person.id,
        Person.birth_date,
        _NO_HORIZON,
    ).where(  # fmt: skip
        Person.birth_date <= latest_birth,
        Person.birth_date > not_yet,
        *_base(definition, as_of),
    )


def eligibility_period(period: str, as_of: date) -> str:
    return {"once": "once", "yearly": f"{as_of.year}", "monthly": f"{as_of:%Y-%m}"}[period]


def _eligibility(trigger: Eligibility, definition: RuleDefinition, as_of: date) -> Select:
    return select(
        Person.id, _recipient(definition, as_of),
        literal(f"eligible:{eligibility_period(trigger.period, as_of)}"),
        literal("person"), Person.id, _NO_DATE, _NO_HORIZON,
    ).where(*_base(definition, as_of))  # fmt: skip


COMPILERS = {
    "document_expiry": _document_expiry,
    "mandated_replacement": _mandated,
    "life_event": _life_event,
    "age_reached": _age_reached,
    "eligibility": _eligibility,
}


def compile_rule(definition: RuleDefinition, as_of: date) -> Select:
    """The persons the rule matches on `as_of`, as rows of MATCH_COLUMNS."""
    trigger = definition.trigger
    query = COMPILERS[trigger.kind](trigger, definition, as_of)  # type: ignore[operator]
    if trigger.kind in ("age_reached", "eligibility"):
        query = query.select_from(Person)
    labelled = (c.label(n) for c, n in zip(query.selected_columns, MATCH_COLUMNS, strict=True))
    return query.with_only_columns(*labelled, maintain_column_froms=True)
