"""`seed_demo_country`: a deterministic synthetic North Macedonia, from 0 to millions of people.

Reference data (municipalities, the catalogue, offices, demo officers) goes in through the
ORM and the owning domains' actions; people and their records are drawn block by block and
streamed into the database in chunks, all in one transaction: the country is seeded whole or
not at all. The same (seed, as_of) gives the same registry, row for row.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import Settings
from navreme.db import get_engine, is_postgres, session_scope
from navreme.demo.draw import Chunk, DrawPlan, draw_chunks
from navreme.demo.offices import create_offices
from navreme.demo.persons import SeedError
from navreme.demo.pipeline import draw_in_subprocess
from navreme.demo.reference import MunicipalityFacts, load_reference
from navreme.demo.rows import TABLE_ORDER
from navreme.demo.writer import RowWriter, writer_for
from navreme.registry.models import Municipality, Person

MAX_PERSONS = 5_000_000  # document and phone number series hold 8–10 million each
PARALLEL_FROM = 100_000  # people: below this a drawing subprocess costs more than it saves
SQLITE_CACHE_KIB = 512 * 1024  # keep the indexes with random keys (EMBG, dates) in memory

Progress = Callable[[int, int], None]  # (people written, people wanted)

__all__ = ["SeedError", "SeedReport", "seed_demo_country"]


@dataclass
class SeedReport:
    """What a seed run did; `skipped` when the registry already had people."""

    skipped: bool
    as_of: date
    seed: int
    persons: int = 0
    households: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    municipalities_created: int = 0
    offices_created: int = 0
    demo_accounts_created: int | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def seed_demo_country(
    settings: Settings, *, persons: int, seed: int = 2021, as_of: date | None = None,
    progress: Progress | None = None, write_method: str = "auto", parallel: bool | None = None,
) -> SeedReport:  # fmt: skip
    """Seed the demo country into an empty registry; does nothing if people already exist.

    `write_method`: "auto" (COPY on PostgreSQL), "copy" or "executemany"; `parallel`: draw
    in a subprocess (default: from PARALLEL_FROM people on).
    """
    if not 0 <= persons <= MAX_PERSONS:
        raise ValueError(f"persons must be between 0 and {MAX_PERSONS:,}")
    started = time.perf_counter()
    report = SeedReport(skipped=False, as_of=as_of or clock.today(settings.timezone), seed=seed)
    with session_scope(settings) as session:
        existing = session.scalar(select(func.count()).select_from(Person)) or 0
        if existing:
            report.skipped = True
            report.notes.append(f"{existing:,} persons already exist: nothing seeded")
            return report
        municipalities = load_reference()
        _reference_data(session, municipalities, report)
        if persons:
            taken = set(session.scalars(select(Person.national_id)))
            _populate(session, municipalities, taken, persons=persons, report=report,
                      progress=progress, write_method=write_method, parallel=parallel)  # fmt: skip
    if persons and settings.is_sqlite:
        _give_back_wal_space(settings)
    report.elapsed_s = time.perf_counter() - started
    return report


def _give_back_wal_space(settings: Settings) -> None:
    """The one big transaction left a WAL file as large as the data: fold it in, truncate it."""
    with get_engine(settings).connect() as connection:
        # Outside a transaction (navreme.db begins every transaction IMMEDIATE otherwise).
        connection.execution_options(sqlite_begin="none")
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _reference_data(
    session: Session, municipalities: list[MunicipalityFacts], report: SeedReport
) -> None:
    report.municipalities_created = load_municipalities(session, municipalities)
    _load_catalogue(session)
    report.offices_created = create_offices(session, municipalities)
    report.demo_accounts_created = _demo_accounts(session, report)


def load_municipalities(session: Session, municipalities: list[MunicipalityFacts]) -> int:
    """Insert the municipalities that are missing (by code); returns how many."""
    existing = set(session.scalars(select(Municipality.code)))
    missing = [m for m in municipalities if m.code not in existing]
    session.add_all(
        Municipality(
            code=m.code,
            name=m.name,
            name_mk=m.name_mk,
            region=m.region,
            in_city_of_skopje=m.in_city_of_skopje,
            latitude=m.latitude,
            longitude=m.longitude,
            population=m.population,
        )
        for m in missing
    )
    session.flush()
    return len(missing)


def _load_catalogue(session: Session) -> None:
    try:
        from navreme.catalogue.actions import load_demo_catalogue
    except ImportError as missing:
        raise SeedError(
            "the demo catalogue (navreme.catalogue.actions.load_demo_catalogue) is not "
            f"available, and offices need its departments: {missing}"
        ) from missing
    load_demo_catalogue(session)
    from navreme.cases.actions import load_categories

    load_categories(session)  # request categories route to the catalogue's departments


def _demo_accounts(session: Session, report: SeedReport) -> int | None:
    try:
        from navreme.identity.demo import create_demo_accounts
    except ImportError as missing:
        report.notes.append(f"no demo officer accounts (navreme.identity.demo: {missing})")
        return None
    return create_demo_accounts(session)


def _populate(
    session: Session, municipalities: list[MunicipalityFacts], taken: set[str], *,
    persons: int, report: SeedReport, progress: Progress | None, write_method: str,
    parallel: bool | None,
) -> None:  # fmt: skip
    connection = session.connection()
    plan = DrawPlan(
        seed=report.seed, as_of=report.as_of, persons=persons, postgres=is_postgres(session),
        municipalities=tuple(municipalities), taken_national_ids=frozenset(taken),
    )  # fmt: skip
    in_subprocess = persons >= PARALLEL_FROM if parallel is None else parallel
    chunks = draw_in_subprocess(plan) if in_subprocess else draw_chunks(plan)
    writer = writer_for(connection, method=write_method)
    with _bulk_settings(connection), closing(chunks):
        for chunk in chunks:
            _write(writer, chunk, report)
            if progress:
                progress(report.rows["persons"], persons)
    report.persons = report.rows["persons"]


def _write(writer: RowWriter, chunk: Chunk, report: SeedReport) -> None:
    for table in TABLE_ORDER:
        writer.write(table, chunk.rows[table])
        report.rows[table] += len(chunk.rows[table])
    report.households += chunk.households


class _bulk_settings:  # noqa: N801 - used as a context manager
    """A big page cache on SQLite while seeding (random UUID keys touch every index page)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._sqlite = connection.dialect.name == "sqlite"

    def __enter__(self) -> None:
        if self._sqlite:
            self._connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")

    def __exit__(self, *_: object) -> None:
        if self._sqlite:
            self._connection.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default
