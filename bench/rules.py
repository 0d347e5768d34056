"""Benchmark the proactive engine: 20 rules over a seeded registry, with OpenFisca as the peer.

    .venv/bin/navreme bench rules --persons 10000,100000 --backend both
    .venv/bin/python bench/rules.py --persons 1800000 --backend sqlite --reuse

Per backend and size, in one process and on the same persons:

- Navreme evaluate: for each of the 20 published rules, `SELECT count(*)` over the rule's
  compiled set-based query (the matching work of `run_rule`), summed over the 20 rules.
- OpenFisca calculate: the same 20 rules as boolean/integer OpenFisca variables whose
  formulas are vectorised numpy over the same persons, documents, guardian links and life
  events, loaded from the database once (load time reported, not counted); every
  repetition drops the computed arrays and calculates all 20 variables again.
- Materialise: `run_rule` for the 20 rules on an empty offers table (INSERT … SELECT), and
  the idempotent re-run right after it (every offer a conflict, nothing inserted).

One warm-up, then `--repeat` repetitions; medians. Match counts of both engines are
compared rule by rule; a mismatch is printed and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from navreme.cli.bench import log as _log
from navreme.cli.bench import parse_sizes

DEFAULT_SIZES = (10_000, 100_000, 1_800_000)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
AS_OF = date(2026, 11, 22)
SEED = 2021
REUSE_DIR = Path("var/bench")

# ------------------------------------------------------------------------------------------
# The 20 rules: every trigger kind, every target condition, services from the catalogue.


def _text(en: str) -> dict[str, str]:
    return {"mk": en, "sq": en, "en": en}


def _rule(code: str, service: str, trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "code": f"bench-{code}",
        "title": _text(code.replace("-", " ").capitalize()),
        "service": service,
        "level": extra.pop("level", "offer"),
        "legal_basis": "Benchmark rule (not a real legal basis)",
        "reason": _text("{service}: {fact_date}"),
        "trigger": trigger,
        **extra,
    }


def bench_rules() -> list[dict[str, Any]]:
    """20 rule definitions: a realistic mix over all five trigger kinds."""
    expiry = "document_expiry"
    replace = "mandated_replacement"
    event = "life_event"
    return [
        _rule("passport-expiry", "passport",
              {"kind": expiry, "document": "passport", "horizons_days": [180, 90, 30],
               "grace_days": 30}),
        _rule("id-card-expiry", "id-card",
              {"kind": expiry, "document": "id_card", "horizons_days": [90, 30]}),
        _rule("driving-licence-expiry", "driving-licence",
              {"kind": expiry, "document": "driving_licence", "horizons_days": [60, 14],
               "grace_days": 90}),
        _rule("passport-expiry-abroad", "passport",
              {"kind": expiry, "document": "passport", "horizons_days": [365, 180]},
              target={"residence": "abroad"}),
        _rule("id-card-replacement", "id-card",
              {"kind": replace, "documents": ["id_card"], "issued_before": "2019-02-12",
               "deadline": "2027-06-30"}),
        _rule("passport-replacement", "passport",
              {"kind": replace, "documents": ["passport"], "issued_before": "2019-02-12",
               "deadline": "2027-12-31"}, target={"min_age": 18}),
        _rule("old-documents-replacement", "driving-licence",
              {"kind": replace, "documents": ["id_card", "driving_licence"],
               "issued_before": "2018-01-01", "deadline": "2028-06-30"}),
        _rule("birth-certificate", "birth-certificate",
              {"kind": event, "event": "birth", "within_days": 60}, level="automatic"),
        _rule("birth-grant", "birth-grant",
              {"kind": event, "event": "birth", "within_days": 90},
              target={"residence": "resident"}),
        _rule("address-change", "address-change",
              {"kind": event, "event": "move", "within_days": 30}),
        _rule("death-certificate", "death-certificate",
              {"kind": event, "event": "death", "within_days": 30}, guardians_for_minors=False),
        _rule("turned-18-id-card", "first-adult-id-card",
              {"kind": event, "event": "turned_18", "within_days": 60}),
        _rule("first-adult-id-card", "first-adult-id-card",
              {"kind": "age_reached", "age": 18, "within_days": 30, "grace_days": 30}),
        _rule("pension-application", "pension-application",
              {"kind": "age_reached", "age": 65, "within_days": 90, "grace_days": 30},
              target={"residence": "resident"}),
        _rule("child-benefit", "child-benefit", {"kind": "eligibility", "period": "yearly"},
              target={"residence": "resident", "has_child_under": 18},
              guardians_for_minors=False),
        _rule("parental-allowance", "parental-allowance",
              {"kind": "eligibility", "period": "once"},
              target={"residence": "resident", "has_child_under": 1}),
        _rule("school-enrolment", "school-enrolment", {"kind": "eligibility", "period": "yearly"},
              target={"residence": "resident", "min_age": 6, "max_age": 6}),
        _rule("social-assistance", "social-assistance",
              {"kind": "eligibility", "period": "monthly"},
              target={"residence": "resident", "min_age": 18, "household_min_size": 5,
                      "languages": ["mk", "sq"]}),
        _rule("tax-residence-abroad", "tax-residence-certificate",
              {"kind": "eligibility", "period": "yearly"},
              target={"residence": "abroad", "min_age": 18, "max_age": 64}),
        _rule("student-grant", "student-grant", {"kind": "eligibility", "period": "yearly"},
              target={"residence": "resident", "min_age": 18, "max_age": 26,
                      "languages": ["sq", "en"]}),
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------
# Databases: seeded once per (backend, size); kept under var/bench/ with --reuse.


@dataclass
class Database:
    backend: str
    persons: int
    url: str
    seed_seconds: float | None = None  # None: reused


def _pg(admin_url: str, sql: str) -> Any:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        cursor = connection.execute(sql)  # type: ignore[arg-type]
        return cursor.fetchall() if sql.startswith("SELECT") else None


def _settings(url: str) -> Any:
    from navreme.config import Settings

    return Settings(database_url=url, home=Path(tempfile.gettempdir()), env="development")


@contextmanager
def prepared(backend: str, persons: int, args: argparse.Namespace) -> Iterator[Database]:
    """A migrated, seeded database; fresh and thrown away unless --reuse."""
    name = f"navreme_rules_bench_{persons}"
    folder = REUSE_DIR if args.reuse else Path(tempfile.mkdtemp(prefix="navreme-bench-rules-"))
    folder.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        path = folder / f"rules-{persons}.db"
        if not args.reuse:
            path.unlink(missing_ok=True)
        url = f"sqlite:///{path.resolve()}"
    else:
        exists = _pg(args.pg_admin, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
        if exists and not args.reuse:
            _pg(args.pg_admin, f"DROP DATABASE {name} WITH (FORCE)")
        if not exists or not args.reuse:
            _pg(args.pg_admin, f"CREATE DATABASE {name}")
        url = args.pg_admin.rsplit("/", 1)[0] + "/" + name
    database = Database(backend, persons, url)
    try:
        _seed(database, args)
        yield database
    finally:
        if not args.reuse:
            from navreme.db import get_engine

            get_engine(_settings(url)).dispose()
            if backend == "postgres":
                _pg(args.pg_admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                shutil.rmtree(folder, ignore_errors=True)


def _seed(database: Database, args: argparse.Namespace) -> None:
    from sqlalchemy import func, select, text

    from navreme.db import get_engine, session_scope
    from navreme.demo.seed import seed_demo_country
    from navreme.migrate import ensure_database
    from navreme.registry.models import Person

    settings = _settings(database.url)
    ensure_database(settings)
    with session_scope(settings) as session:
        have = session.scalar(select(func.count()).select_from(Person)) or 0
    if have and have != database.persons:
        raise SystemExit(f"{database.url} holds {have:,} persons, not {database.persons:,}")
    if not have:
        _log(f"  seeding {database.persons:,} persons ({database.backend}) …")
        started = time.perf_counter()
        seed_demo_country(settings, persons=database.persons, seed=args.seed, as_of=args.as_of)
        database.seed_seconds = time.perf_counter() - started
        with get_engine(settings).connect() as connection:
            # Planner statistics and (PostgreSQL) the visibility map, as autovacuum would set
            # after a bulk load: the index-only scans of the rule statements depend on it.
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(
                text("VACUUM ANALYZE" if database.backend == "postgres" else "ANALYZE")
            )
        _log(f"  seeded in {database.seed_seconds:.1f} s")
    _publish(settings)


def _publish(settings: Any) -> None:
    """Create and publish the bench rules (a new version only where a definition changed)."""
    from sqlalchemy import select

    from navreme.db import session_scope
    from navreme.rules import actions
    from navreme.rules.models import Rule
    from navreme.rules.schemas import RuleDefinition

    with session_scope(settings) as session:
        for data in bench_rules():
            wanted = RuleDefinition.model_validate(data).model_dump(
                mode="json", exclude={"version"}
            )
            current = session.scalar(
                select(Rule).where(Rule.code == data["code"], Rule.status == "published")
            )
            if current is not None:
                stored = dict(current.definition)
                stored.pop("version", None)
                if stored == wanted:
                    continue
            rule = actions.create_rule_version(session, data, actor=None)
            actions.publish_rule(session, rule, actor=None)


# ------------------------------------------------------------------------------------------
# Navreme: evaluation (count over each compiled rule) and materialisation (run_rule).


def _timed(repeat: int, work: Callable[[], Any]) -> tuple[float, list[float], Any]:
    """Run once to warm up, then `repeat` times; (median seconds, all seconds, last result)."""
    result = work()
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), seconds, result


def _published(session: Any) -> list[Any]:
    from sqlalchemy import select

    from navreme.rules.models import Rule

    query = select(Rule).where(Rule.code.like("bench-%"), Rule.status == "published")
    return list(session.scalars(query.order_by(Rule.code)))


def navreme_evaluate(settings: Any, as_of: date, repeat: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from navreme.db import session_scope
    from navreme.rules.compiler import compile_rule
    from navreme.rules.queries import without_jit
    from navreme.rules.schemas import RuleDefinition

    with session_scope(settings) as session:
        definitions = [RuleDefinition.model_validate(r.definition) for r in _published(session)]
    per_rule: dict[str, list[float]] = {d.code: [] for d in definitions}

    def evaluate() -> dict[str, int]:
        counts = {}
        with session_scope(settings) as session:
            without_jit(session)  # as run_rule does
            for definition in definitions:
                started = time.perf_counter()
                query = compile_rule(definition, as_of)
                counts[definition.code] = session.scalar(
                    select(func.count()).select_from(query.subquery())
                )
                per_rule[definition.code].append(time.perf_counter() - started)
        return counts

    median, _, counts = _timed(repeat, evaluate)
    slowest = {code: statistics.median(times[1:]) for code, times in per_rule.items()}
    return {"seconds": median, "counts": counts, "per_rule": slowest}


def navreme_materialise(settings: Any, as_of: date, repeat: int) -> dict[str, Any]:
    from sqlalchemy import delete, func, select

    from navreme.db import get_engine, session_scope
    from navreme.rules import actions
    from navreme.rules.models import Offer, RuleRun

    def clear() -> None:
        """Empty offers and rule_runs, outside the timing.

        Not a plain DELETE: offers.waits_on_offer_id references offers.id without an index,
        so every deleted offer makes the foreign-key check scan the whole table (quadratic:
        minutes at 100 k persons). TRUNCATE on PostgreSQL; on SQLite, DELETE with the
        foreign-key checks off for that connection.
        """
        engine = get_engine(settings)
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.exec_driver_sql("TRUNCATE offers, rule_runs CASCADE")
            return
        with engine.connect() as connection:
            connection.execution_options(sqlite_begin="none")  # PRAGMA is a no-op in a transaction
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                connection.execute(delete(Offer))
                connection.execute(delete(RuleRun))
                connection.exec_driver_sql("COMMIT")
            finally:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")

    def run_all() -> tuple[int, int]:
        with session_scope(settings) as session:
            runs = [actions.run_rule(session, r, as_of=as_of) for r in _published(session)]
        return sum(r.matched for r in runs), sum(r.created for r in runs)

    def offers_now() -> int:  # counted independently of RuleRun.created, as a cross-check
        with session_scope(settings) as session:
            return session.scalar(select(func.count()).select_from(Offer)) or 0

    first, rerun = [], []
    offers = reinserted = matched = reported = 0
    warm_up = 1 if repeat > 1 else 0  # one repetition alone: the evaluation has warmed the caches
    for n in range(repeat + warm_up):
        clear()
        started = time.perf_counter()
        matched, reported = run_all()
        first_s = time.perf_counter() - started
        offers = offers_now()
        started = time.perf_counter()
        run_all()
        rerun_s = time.perf_counter() - started
        reinserted = offers_now() - offers
        if n >= warm_up:
            first.append(first_s)
            rerun.append(rerun_s)
    clear()
    return {
        "first": statistics.median(first), "rerun": statistics.median(rerun),
        "matched": matched, "offers": offers, "reinserted": reinserted, "reported": reported,
    }  # fmt: skip


# ------------------------------------------------------------------------------------------
# OpenFisca: the same persons as numpy arrays, the same rules as vectorised formulas.


@dataclass
class Registry:
    """The registry as columns; dates are days since 1970-01-01 (int64), NO_DATE when absent."""

    n: int
    birth: Any
    death: Any
    resident: Any
    abroad: Any
    language: Any  # int codes, see LANGUAGE_CODES
    household: Any  # index into households; each person without one gets a household of 1
    has_household: Any
    households: int
    doc_expires: dict[str, Any] = field(default_factory=dict)
    doc_issued: dict[str, Any] = field(default_factory=dict)
    doc_status: dict[str, Any] = field(default_factory=dict)  # int codes, DOC_STATUS
    guardian: Any = None
    ward: Any = None
    event_person: Any = None
    event_kind: Any = None  # int codes, EVENT_CODES
    event_day: Any = None
    opted_out: dict[str, Any] = field(default_factory=dict)  # service → bool per person


NO_DATE = 10**9
LANGUAGE_CODES = {"mk": 0, "sq": 1, "en": 2}
DOC_STATUS = {"none": 0, "valid": 1, "expired": 2, "revoked": 3, "lost": 4, "replaced": 5}
EVENT_CODES = {"birth": 0, "turned_18": 1, "move": 2, "death": 3}


def _days(values: list[Any]) -> Any:
    """ISO strings (SQLite) or dates (PostgreSQL), None allowed → int64 days since epoch."""
    import numpy as np

    array = np.array([NO_DATE if v is None else v for v in values], dtype=object)
    present = array != NO_DATE
    out = np.full(len(values), NO_DATE, dtype=np.int64)
    if present.any():
        out[present] = np.array(array[present].astype(str), dtype="datetime64[D]").astype(np.int64)
    return out


def _day(value: date) -> int:
    return (value - date(1970, 1, 1)).days


def load_registry(settings: Any) -> Registry:
    """Persons, documents (one per person and kind), guardian links, life events, opt-outs."""
    import numpy as np
    from sqlalchemy import text

    from navreme.db import get_engine

    with get_engine(settings).connect() as connection:
        rows = connection.execute(
            text("SELECT id, birth_date, death_date, municipality_code IS NOT NULL, "
                 "abroad_country IS NOT NULL, language, household_id FROM persons")
        ).all()  # fmt: skip
        ids, birth, death, resident, abroad, language, household = zip(*rows, strict=True)
        index = {pid: i for i, pid in enumerate(ids)}
        n = len(ids)
        households: dict[Any, int] = {}
        hh = np.fromiter(
            (households.setdefault(h if h is not None else ("alone", i), len(households))
             for i, h in enumerate(household)), dtype=np.int64, count=n,
        )  # fmt: skip
        registry = Registry(
            n=n, birth=_days(list(birth)), death=_days(list(death)),
            resident=np.array(resident, dtype=bool), abroad=np.array(abroad, dtype=bool),
            language=np.array([LANGUAGE_CODES[v] for v in language], dtype=np.int8),
            household=hh, has_household=np.array([h is not None for h in household]),
            households=len(households),
        )  # fmt: skip
        del rows
        docs = connection.execute(
            text("SELECT person_id, kind, issued_on, expires_on, status FROM documents")
        ).all()
        for kind in ("id_card", "passport", "driving_licence"):
            chosen = [d for d in docs if d[1] == kind]
            at = np.array([index[d[0]] for d in chosen], dtype=np.int64)
            if len(np.unique(at)) != len(at):
                raise SystemExit(f"a person has two {kind} documents: the pivot assumes one")
            for target, values in (
                (registry.doc_issued, _days([d[2] for d in chosen])),
                (registry.doc_expires, _days([d[3] for d in chosen])),
            ):
                column = np.full(n, NO_DATE, dtype=np.int64)
                column[at] = values
                target[kind] = column
            status = np.zeros(n, dtype=np.int8)
            status[at] = [DOC_STATUS[d[4]] for d in chosen]
            registry.doc_status[kind] = status
        del docs
        links = connection.execute(text("SELECT guardian_id, ward_id FROM guardian_links")).all()
        registry.guardian = np.array([index[g] for g, _ in links], dtype=np.int64)
        registry.ward = np.array([index[w] for _, w in links], dtype=np.int64)
        events = connection.execute(
            text("SELECT person_id, kind, occurred_on FROM life_events")
        ).all()
        registry.event_person = np.array([index[e[0]] for e in events], dtype=np.int64)
        registry.event_kind = np.array([EVENT_CODES[e[1]] for e in events], dtype=np.int8)
        registry.event_day = _days([e[2] for e in events])
        for person_id, service in connection.execute(
            text("SELECT person_id, service_code FROM proactive_opt_outs")
        ):
            registry.opted_out.setdefault(service, np.zeros(n, dtype=bool))[index[person_id]] = 1
    return registry


def _years_before_day(as_of: date, years: int) -> int:
    from navreme.rules.compiler import years_before

    return _day(years_before(as_of, years))


def build_openfisca(registry: Registry, definitions: list[Any], as_of: date) -> tuple[Any, Any]:
    """A TaxBenefitSystem (person, household) with one variable per rule; its Simulation."""
    import numpy as np
    from openfisca_core.entities import build_entity
    from openfisca_core.periods import DAY, ETERNITY
    from openfisca_core.simulations import SimulationBuilder
    from openfisca_core.taxbenefitsystems import TaxBenefitSystem
    from openfisca_core.variables import Variable

    person_entity = build_entity(key="person", plural="persons", label="Person", is_person=True)
    household_entity = build_entity(
        key="household", plural="households", label="Household",
        roles=[{"key": "member", "plural": "members", "label": "Member"}],
    )  # fmt: skip
    system = TaxBenefitSystem([person_entity, household_entity])
    today = _day(as_of)
    r = registry

    def variable(name: str, entity: Any, value_type: type, period: str, formula: Any) -> None:
        body: dict[str, Any] = {"value_type": value_type, "entity": entity,
                                "definition_period": period, "label": name}  # fmt: skip
        if formula is not None:
            body["formula"] = formula
        system.add_variable(type(name, (Variable,), body))

    # Inputs: the registry's columns.
    inputs = {"birth_day": r.birth, "death_day": r.death, "resident": r.resident,
              "abroad": r.abroad, "language": r.language.astype(np.int32),
              "has_household": r.has_household}  # fmt: skip
    for kind in r.doc_status:
        inputs[f"{kind}_expires"] = r.doc_expires[kind]
        inputs[f"{kind}_issued"] = r.doc_issued[kind]
        inputs[f"{kind}_status"] = r.doc_status[kind].astype(np.int32)
    for name, values in inputs.items():
        variable(name, person_entity, bool if values.dtype == bool else int, ETERNITY, None)

    # Shared intermediate variables (OpenFisca caches them across rules within a period).
    def living(person: Any, period: Any) -> Any:
        return person("death_day", period) > today

    def household_size(person: Any, period: Any) -> Any:
        size = person.household.nb_persons()
        return np.where(person("has_household", period), size, 0)

    variable("living", person_entity, bool, DAY, living)
    variable("household_size", person_entity, int, DAY, household_size)

    def child_under(years: int) -> Callable[[Any, Any], Any]:
        bound = _years_before_day(as_of, years)

        def formula(person: Any, period: Any) -> Any:
            birth = person("birth_day", period)
            found = np.zeros(person.count, dtype=bool)
            found[r.guardian[birth[r.ward] > bound]] = True
            return found

        return formula

    def target(definition: Any) -> Callable[[Any, Any], Any]:
        t = definition.target
        opted_out = r.opted_out.get(definition.service)

        def mask(person: Any, period: Any) -> Any:
            ok = person("living", period)
            if t.residence != "any":
                ok = ok & person(t.residence, period)
            birth = person("birth_day", period)
            if t.min_age is not None:
                ok = ok & (birth <= _years_before_day(as_of, t.min_age))
            if t.max_age is not None:
                ok = ok & (birth > _years_before_day(as_of, t.max_age + 1))
            if t.languages:
                codes = [LANGUAGE_CODES[v] for v in t.languages]
                ok = ok & np.isin(person("language", period), codes)
            if t.municipalities:
                raise NotImplementedError("municipalities are not loaded into the peer")
            if t.household_min_size is not None:
                ok = ok & (person("household_size", period) >= t.household_min_size)
            if t.has_child_under is not None:
                ok = ok & person(f"has_child_under_{t.has_child_under}", period)
            if opted_out is not None:
                ok = ok & ~opted_out
            return ok

        return mask

    children = {d.target.has_child_under for d in definitions} - {None}
    for years in sorted(children):
        variable(f"has_child_under_{years}", person_entity, bool, DAY, child_under(years))

    def rule_formula(definition: Any) -> tuple[type, Callable[[Any, Any], Any]]:
        trigger, base = definition.trigger, target(definition)
        if trigger.kind == "document_expiry":
            kind, widest = trigger.document, trigger.horizons_days[0]

            def expiry(person: Any, period: Any) -> Any:
                expires = person(f"{kind}_expires", period)
                status = person(f"{kind}_status", period)
                return (
                    ((status == DOC_STATUS["valid"]) | (status == DOC_STATUS["expired"]))
                    & (expires <= today + widest) & (expires >= today - trigger.grace_days)
                    & base(person, period)
                )  # fmt: skip

            return bool, expiry
        if trigger.kind == "mandated_replacement":
            before = _day(trigger.issued_before)

            def mandated(person: Any, period: Any) -> Any:
                if as_of > trigger.deadline:
                    return np.zeros(person.count, dtype=np.int32)
                total = np.zeros(person.count, dtype=np.int32)
                for kind in trigger.documents:
                    status = person(f"{kind}_status", period)
                    issued = person(f"{kind}_issued", period)
                    total += (status == DOC_STATUS["valid"]) & (issued < before)
                return total * base(person, period)

            return int, mandated
        if trigger.kind == "life_event":
            code, earliest = EVENT_CODES[trigger.event], today - trigger.within_days

            def life_event(person: Any, period: Any) -> Any:
                day = r.event_day
                hit = (r.event_kind == code) & (day <= today) & (day >= earliest)
                count = np.bincount(r.event_person[hit], minlength=person.count)
                return count * base(person, period)

            return int, life_event
        if trigger.kind == "age_reached":
            latest = _years_before_day(as_of + timedelta(days=trigger.within_days), trigger.age)
            first = _years_before_day(as_of - timedelta(days=trigger.grace_days), trigger.age) - 1

            def age_reached(person: Any, period: Any) -> Any:
                birth = person("birth_day", period)
                return (birth <= latest) & (birth > first) & base(person, period)

            return bool, age_reached
        return bool, base

    for definition in definitions:
        value_type, formula = rule_formula(definition)
        variable(_variable_name(definition.code), person_entity, value_type, DAY, formula)

    builder = SimulationBuilder()
    builder.create_entities(system)
    builder.declare_person_entity("person", np.arange(r.n))
    households = builder.declare_entity("household", np.arange(r.households))
    builder.join_with_persons(households, r.household, np.zeros(r.n, dtype=np.int64))
    simulation = builder.build(system)
    for name, values in inputs.items():
        simulation.set_input(name, "eternity", values)
    return system, simulation


def _variable_name(code: str) -> str:
    return code.replace("-", "_")


def openfisca_calculate(
    registry: Registry, definitions: list[Any], as_of: date, repeat: int
) -> dict[str, Any]:
    started = time.perf_counter()
    system, simulation = build_openfisca(registry, definitions, as_of)
    build_s = time.perf_counter() - started
    computed = [n for n, v in system.variables.items() if v.formulas]
    period = as_of.isoformat()

    def calculate() -> dict[str, int]:
        for name in computed:  # a fresh computation every time, inputs kept
            simulation.delete_arrays(name)
        return {
            d.code: int(simulation.calculate(_variable_name(d.code), period).sum())
            for d in definitions
        }

    median, _, counts = _timed(repeat, calculate)
    return {"seconds": median, "counts": counts, "build": build_s}


# ------------------------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    persons: int
    rules: int
    evaluate_s: float
    openfisca_s: float
    load_s: float
    materialise_s: float
    offers: int
    rerun_s: float
    seed_s: float | None
    per_rule: dict[str, float]
    mismatches: list[str]


def run_one(database: Database, args: argparse.Namespace) -> Row:
    from navreme.db import session_scope
    from navreme.rules.schemas import RuleDefinition

    settings = _settings(database.url)
    with session_scope(settings) as session:
        definitions = [RuleDefinition.model_validate(r.definition) for r in _published(session)]
    definitions = definitions[: args.rules]
    if len(definitions) < args.rules:
        raise SystemExit(f"only {len(definitions)} bench rules exist")
    _log("  Navreme evaluate …")
    evaluated = navreme_evaluate(settings, args.as_of, args.repeat)
    counts = {c: evaluated["counts"][c] for c in (d.code for d in definitions)}
    _log(f"    {evaluated['seconds']:.3f} s")
    _log("  loading the registry into numpy …")
    started = time.perf_counter()
    registry = load_registry(settings)
    load_s = time.perf_counter() - started
    _log(f"    {load_s:.1f} s; OpenFisca calculate …")
    peer = openfisca_calculate(registry, definitions, args.as_of, args.repeat)
    _log(f"    {peer['seconds']:.4f} s (system and simulation built in {peer['build']:.1f} s)")
    del registry
    mismatches = []
    for code, count in counts.items():
        theirs = peer["counts"][code]
        mark = "" if theirs == count else "   ← MISMATCH"
        _log(f"    {code:<34} Navreme {count:>9,}  OpenFisca {theirs:>9,}{mark}")
        if mark:
            mismatches.append(f"{code}: Navreme {count}, OpenFisca {theirs}")
    _log("  materialise (run_rule × 20, then the re-run) …")
    made = navreme_materialise(settings, args.as_of, args.materialise_repeat)
    _log(
        f"    first {made['first']:.3f} s ({made['offers']:,} offers), re-run {made['rerun']:.3f} s"
    )
    if made["reported"] != made["offers"]:
        _log(
            f"    note: RuleRun.created adds up to {made['reported']:,}, offers counted {made['offers']:,}"
        )
    if made["reinserted"]:
        mismatches.append(f"the re-run inserted {made['reinserted']} offers")
    if made["matched"] != sum(counts.values()):
        mismatches.append(f"run_rule matched {made['matched']}, count(*) {sum(counts.values())}")
    return Row(
        backend=database.backend, persons=database.persons, rules=len(definitions),
        evaluate_s=evaluated["seconds"], openfisca_s=peer["seconds"], load_s=load_s,
        materialise_s=made["first"], offers=made["offers"], rerun_s=made["rerun"],
        seed_s=database.seed_seconds, per_rule=evaluated["per_rule"], mismatches=mismatches,
    )  # fmt: skip


def table(rows: list[Row], args: argparse.Namespace, command: str) -> str:
    from navreme import clock

    lines = [
        f"`{command}` — {clock.now():%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"Python {platform.python_version()}, seed {args.seed}, as of {args.as_of}, "
        f"warm-up + {args.repeat} repetitions, medians (materialisation: "
        f"{args.materialise_repeat}{' after a warm-up' if args.materialise_repeat > 1 else ''})",
        "",
        "| backend | persons | rules | Navreme evaluate (s) | persons/s | OpenFisca calculate (s) "
        "| ratio (OpenFisca / Navreme) | OpenFisca load + calculate (s) | ratio end to end "
        "| materialise first run (s) | offers | re-run (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.backend} | {r.persons:,} | {r.rules} | {r.evaluate_s:.3f} "
            f"| {r.persons * r.rules / r.evaluate_s:,.0f} ({r.persons / r.evaluate_s:,.0f} per rule set) "
            f"| {r.openfisca_s:.4f} | {r.openfisca_s / r.evaluate_s:.2g}× "
            f"| {r.load_s + r.openfisca_s:.1f} | {(r.load_s + r.openfisca_s) / r.evaluate_s:.2g}× "
            f"| {r.materialise_s:.3f} | {r.offers:,} | {r.rerun_s:.3f} |"
        )
    lines.append("")
    for r in rows:
        slow = sorted(r.per_rule.items(), key=lambda item: -item[1])[:3]
        load = f"registry → numpy {r.load_s:.1f} s"
        seed = f", seeded in {r.seed_s:.0f} s" if r.seed_s is not None else ", reused database"
        top = ", ".join(f"{code.removeprefix('bench-')} {s:.3f} s" for code, s in slow)
        lines.append(f"- {r.backend} {r.persons:,}: slowest rules {top}; {load}{seed}.")
        lines.extend(f"  - MISMATCH {m}" for m in r.mismatches)
    return "\n".join(lines)


def main(args: argparse.Namespace, command: str) -> int:
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if not 1 <= args.rules <= len(bench_rules()):
        raise SystemExit(f"--rules must be between 1 and {len(bench_rules())}")
    rows = []
    for backend in backends:
        for size in args.persons:
            _log(f"… {backend} {size:,} persons")
            with prepared(backend, size, args) as database:
                if not args.seed_only:
                    rows.append(run_one(database, args))
    if args.seed_only:
        return 0
    print(table(rows, args, command))
    return 1 if any(r.mismatches for r in rows) else 0


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", action="append", help="sizes, repeatable or a comma list")
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--materialise-repeat", type=int, help="repetitions of run_rule × 20 (default: --repeat)"
    )
    parser.add_argument("--seed-only", action="store_true", help="prepare the databases, exit")
    parser.add_argument("--reuse", action="store_true", help="keep databases under var/bench/")
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    args = parser.parse_args(argv)
    args.persons = parse_sizes(args.persons, DEFAULT_SIZES)
    args.materialise_repeat = args.materialise_repeat or args.repeat
    return args


if __name__ == "__main__":
    sys.exit(main(arguments(), " ".join(["python", *sys.argv])))
