"""Bulk import of persons from CSV or JSON Lines: every row is checked; all are written, or none.

One streaming pass: rows are checked as they are read and inserted a chunk at a time (COPY on
PostgreSQL, executemany on SQLite) while no problem has been found. Any problem stops the
loading and, at the end, raises RowsRefused so the caller's transaction rolls back. Only the
national identifiers seen so far are kept (for duplicates). Problems are reported in line order.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg import sql
from psycopg.types.json import Json
from sqlalchemy import Table, insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from navreme import clock
from navreme.audit.actions import record
from navreme.db import is_postgres
from navreme.registry import embg, queries
from navreme.registry.models import (
    ACCESSIBILITY_NEEDS,
    LANGUAGES,
    SEXES,
    ContactEndpoint,
    Person,
)
from navreme.registry.schemas import (
    address_problem,
    birth_date_problem,
    country_problem,
    sex_problem,
)

REQUIRED = ("national_id", "given_name", "family_name", "birth_date", "sex", "municipality")
OPTIONAL = ("abroad_country", "language", "accessibility", "email", "phone")
COLUMNS = REQUIRED + OPTIONAL
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CHUNK = 5000
BULK_CACHE_KIB = -65536  # negative: KiB, i.e. 64 MiB
MAX_NAME = 100
MAX_ADDRESS = 320
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass
class Outcome:
    rows: int = 0
    problems: int = 0
    persons: int = 0
    contacts: int = 0
    written: bool = False


class ImportRefused(Exception):
    """The import cannot start (unknown format, unreadable file); the message says why."""


def detect_format(path: Path, given: str | None) -> str:
    if given:
        return given
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise ImportRefused(f"cannot tell the format of {path.name}; pass --format csv|jsonl")
    return found


# --- reporting problems in line order with bounded memory ---


def _by_line(problem: Problem) -> int:
    return problem.line


class _Problems:
    """Holds the problems of the current chunk; flush() reports them sorted by line."""

    def __init__(self, report: Callable[[Problem], None]) -> None:
        self.report, self.pending, self.count = report, list[Problem](), 0

    def add(self, line: int, field_name: str, reason: str) -> None:
        self.pending.append(Problem(line, field_name, reason))
        self.count += 1

    def flush(self) -> None:
        for problem in sorted(self.pending, key=_by_line):  # stable: fields keep their order
            self.report(problem)
        self.pending.clear()


# --- reading: physical lines, then records as {column: text} ---

Record = tuple[int, dict[str, str] | None]  # (first physical line, values or None if unreadable)


def _lines(stream: BinaryIO, problems: _Problems) -> Iterator[str]:
    """Decoded lines (BOM dropped); bytes that are not UTF-8 are reported with their line."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            byte = raw[bad.start]
            problems.add(number, "file", f"not UTF-8 (byte 0x{byte:02x} at column {bad.start + 1})")
            yield raw.decode("utf-8", errors="replace")


def _header(reader: Any, problems: _Problems) -> list[str] | None:
    names = [name.strip().lower() for name in next(reader, [])]
    if not names:
        problems.add(1, "file", "is empty; the first line must name the columns")
        return None
    missing = [name for name in REQUIRED if name not in names]
    unknown = [name for name in names if name not in COLUMNS]
    repeated = sorted({name for name in names if names.count(name) > 1})
    for label, found in (("missing", missing), ("unknown", unknown), ("repeated", repeated)):
        if found:
            problems.add(1, "header", f"{label} column(s): {', '.join(found)}")
    return None if missing or unknown or repeated else names


def _csv_records(stream: BinaryIO, problems: _Problems) -> Iterator[Record]:
    reader = csv.reader(_lines(stream, problems))
    header = _header(reader, problems)
    if header is None:
        return
    start = reader.line_num + 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row:
                continue
            if len(row) != len(header):
                problems.add(line, "row", f"has {len(row)} fields; the header has {len(header)}")
                yield line, None
                continue
            yield line, dict(zip(header, row, strict=True))
    except csv.Error as broken:
        problems.add(start, "file", f"unreadable CSV ({broken}); reading stopped here")


def _json_text(key: str, value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    is_list_of_text = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if key == "accessibility" and is_list_of_text:
        return ";".join(value)
    return None


def _json_record(line: int, text: str, problems: _Problems) -> dict[str, str] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as broken:
        problems.add(line, "row", f"not valid JSON ({broken.msg} at column {broken.colno})")
        return None
    if not isinstance(value, dict):
        problems.add(line, "row", "must be a JSON object")
        return None
    unknown = [key for key in value if key not in COLUMNS]
    if unknown:
        problems.add(line, "row", f"unknown field(s): {', '.join(map(str, unknown))}")
    values = {key: _json_text(key, item) for key, item in value.items() if key in COLUMNS}
    for key in [key for key, text_value in values.items() if text_value is None]:
        problems.add(line, key, "must be text (a JSON string)")
    return None if unknown or None in values.values() else values  # type: ignore[return-value]


def _jsonl_records(stream: BinaryIO, problems: _Problems) -> Iterator[Record]:
    empty = True
    for line, content in enumerate(_lines(stream, problems), start=1):
        if content.strip():
            empty = False
            yield line, _json_record(line, content, problems)
    if empty:
        problems.add(1, "file", "is empty; expected one JSON object per line")


def _records(stream: BinaryIO, fmt: str, problems: _Problems) -> Iterator[Record]:
    return _csv_records(stream, problems) if fmt == "csv" else _jsonl_records(stream, problems)


# --- checking one row ---


class _Row:
    """One record being checked: its stripped values and whether any field was bad."""

    def __init__(self, line: int, values: dict[str, str], problems: _Problems) -> None:
        self.line, self.problems, self.ok = line, problems, True
        self.values = {name: (value or "").strip() for name, value in values.items()}

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def bad(self, field_name: str, reason: str) -> None:
        self.problems.add(self.line, field_name, reason)
        self.ok = False


@dataclass
class _Context:
    municipalities: dict[str, str]
    today: date
    seen: dict[str, int] = field(default_factory=dict)  # national_id → first line
    unchecked: list[tuple[int, str]] = field(default_factory=list)  # awaiting the registry check


def _check_required(row: _Row) -> None:
    for name in REQUIRED[:-1]:  # municipality may be empty when abroad_country is given
        if not row.get(name):
            row.bad(name, "is required")


def _check_national_id(row: _Row, context: _Context) -> embg.Embg | None:
    value = row.get("national_id")
    if not value:
        return None
    try:
        parsed = embg.parse(value)
    except embg.InvalidEmbg as invalid:
        row.bad("national_id", str(invalid))
        return None
    first = context.seen.setdefault(value, row.line)
    if first != row.line:
        row.bad("national_id", f"repeats the national_id of line {first}")
        return None
    context.unchecked.append((row.line, value))
    return parsed


def _check_name(row: _Row, name: str) -> str:
    value = row.get(name)
    if len(value) > MAX_NAME:
        row.bad(name, f"longer than {MAX_NAME} characters")
    elif not value.isprintable():
        row.bad(name, "contains control characters")
    return value


def _check_birth_date(row: _Row, parsed: embg.Embg | None, today: date) -> date | None:
    text = row.get("birth_date")
    if not text:
        return None
    try:
        born = date.fromisoformat(text) if ISO_DATE.match(text) else None
    except ValueError:
        born = None
    if born is None:
        row.bad("birth_date", f"{text[:20]!r} is not a real date in the form YYYY-MM-DD")
    elif born > today:
        row.bad("birth_date", "is in the future")
    elif parsed and (problem := birth_date_problem(parsed, born)):
        row.bad("birth_date", problem)
    return born


def _check_sex(row: _Row, parsed: embg.Embg | None) -> str:
    sex = row.get("sex").upper()
    if sex and sex not in SEXES:
        row.bad("sex", "must be F or M")
    elif sex and parsed and (problem := sex_problem(parsed, sex)):
        row.bad("sex", problem)
    return sex


def _check_residence(row: _Row, context: _Context) -> tuple[str | None, str | None]:
    name, country = row.get("municipality"), row.get("abroad_country").upper()
    if name and country:
        row.bad("municipality", "must be empty when abroad_country is given")
    elif not name and not country:
        row.bad("municipality", "is required (or give abroad_country)")
    elif country and (problem := country_problem(country)):
        row.bad("abroad_country", problem)
    elif name and name.casefold() not in context.municipalities:
        row.bad("municipality", f"unknown municipality {name[:80]!r}")
    code = context.municipalities.get(name.casefold()) if name else None
    return code, country or None


def _check_language(row: _Row) -> str:
    language = row.get("language").lower() or "mk"
    if language not in LANGUAGES:
        row.bad("language", f"unknown language; one of {', '.join(LANGUAGES)}")
    return language


def _check_accessibility(row: _Row) -> list[str]:
    needs = [need.strip() for need in row.get("accessibility").split(";") if need.strip()]
    for need in needs:
        if need not in ACCESSIBILITY_NEEDS:
            row.bad(
                "accessibility",
                f"unknown need {need[:40]!r}; one of {', '.join(ACCESSIBILITY_NEEDS)}",
            )
    return list(dict.fromkeys(needs))


def _check_contact(row: _Row, name: str, channel: str) -> str | None:
    address = row.get(name)
    if name == "phone":
        address = address.replace(" ", "").replace("-", "")
    if not address:
        return None
    if len(address) > MAX_ADDRESS:
        row.bad(name, f"longer than {MAX_ADDRESS} characters")
    elif problem := address_problem(channel, address):
        row.bad(name, problem)
    return address


def _check(row: _Row, context: _Context) -> dict[str, Any]:
    """Every field of one row; returns the person's column values (valid only if row.ok)."""
    _check_required(row)
    parsed = _check_national_id(row, context)
    municipality_code, abroad_country = _check_residence(row, context)
    return {
        "national_id": parsed.value if parsed else None,
        "given_name": _check_name(row, "given_name"),
        "family_name": _check_name(row, "family_name"),
        "birth_date": _check_birth_date(row, parsed, context.today),
        "sex": _check_sex(row, parsed),
        "municipality_code": municipality_code,
        "abroad_country": abroad_country,
        "language": _check_language(row),
        "accessibility": _check_accessibility(row),
        "email": _check_contact(row, "email", "email"),
        "phone": _check_contact(row, "phone", "sms"),
    }


def _check_registry(session: Session, context: _Context, problems: _Problems) -> None:
    """National identifiers already in the registry, one query per chunk."""
    lines = {value: line for line, value in context.unchecked}
    for value in sorted(queries.national_ids_registered(session, lines)):
        problems.add(lines[value], "national_id", "is already in the registry")
    context.unchecked.clear()


# --- loading: chunks are inserted as they pass; any problem rolls the whole load back ---


def _rows(values: dict[str, Any], instant: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The person's column values and their (unverified) contact endpoints."""
    person_id = uuid.uuid4()
    email, phone = values.pop("email"), values.pop("phone")
    person = {"id": person_id, **values, "created_at": instant, "updated_at": instant}
    contacts = [
        {"id": uuid.uuid4(), "person_id": person_id, "channel": channel, "address": address,
         "preference": preference, "created_at": instant}
        for channel, address, preference in (("email", email, 100), ("sms", phone, 90))
        if address
    ]  # fmt: skip
    return person, contacts


def _copy(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY: many times faster than INSERT for a bulk load."""
    columns = sql.SQL(", ").join(map(sql.Identifier, rows[0]))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), columns)
    cursor = session.connection().connection.cursor()
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([Json(v) if isinstance(v, list) else v for v in row.values()])


def _executemany(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """SQLite: each column's converter applied directly, then one executemany per chunk."""
    dialect, names = session.get_bind().dialect, list(rows[0])
    statement = str(insert(table).compile(dialect=dialect, column_keys=names))
    convert = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    values = [
        tuple(c(v) if c else v for c, v in zip(convert, row.values(), strict=True)) for row in rows
    ]
    session.connection().exec_driver_sql(statement, values)


def _insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows and is_postgres(session):
        _copy(session, table.name, rows)
    elif rows:
        _executemany(session, table, rows)
    rows.clear()


class _Load:
    """Rows waiting to be inserted; once any problem is found, nothing more is kept."""

    def __init__(self, session: Session, *, enabled: bool) -> None:
        self.session, self.enabled, self.instant = session, enabled, clock.now()
        self.persons: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.outcome = Outcome()

    def add(self, values: dict[str, Any]) -> None:
        person, endpoints = _rows(values, self.instant)
        if self.enabled:
            self.persons.append(person)
            self.contacts.extend(endpoints)
        self.outcome.persons += 1
        self.outcome.contacts += len(endpoints)

    def insert(self) -> None:
        _insert(self.session, Person.__table__, self.persons)
        _insert(self.session, ContactEndpoint.__table__, self.contacts)


@contextmanager
def _bulk_load(session: Session) -> Iterator[None]:
    """On SQLite, a bigger page cache while loading: the indexes are updated in random order."""
    if is_postgres(session):
        yield
        return
    previous = session.execute(text("PRAGMA cache_size")).scalar_one()
    session.execute(text(f"PRAGMA cache_size = {BULK_CACHE_KIB}"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(previous)}"))


class RowsRefused(Exception):
    """Some rows are bad (each was reported); raised so that the caller's transaction rolls back."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(f"{outcome.problems} problem(s) in {outcome.rows} rows")
        self.outcome = outcome


class RegistryChanged(Exception):
    """A concurrent writer added one of the file's national identifiers during the import."""


def _end_of_chunk(load: _Load, context: _Context, problems: _Problems) -> None:
    """Check the chunk's national identifiers against the registry, report, insert if all good."""
    _check_registry(load.session, context, problems)
    problems.flush()
    load.enabled = load.enabled and problems.count == 0
    if load.enabled:
        load.insert()


def _load(
    session: Session, path: Path, *, fmt: str, load: _Load, report: Callable[[Problem], None]
) -> Outcome:
    outcome, problems, context = load.outcome, _Problems(report), _context(session)
    with path.open("rb") as stream, _bulk_load(session):
        for line, values in _records(stream, fmt, problems):
            outcome.rows += 1
            if values is not None:
                row = _Row(line, values, problems)
                checked = _check(row, context)
                if row.ok:
                    load.add(checked)
            if len(context.unchecked) >= CHUNK:
                _end_of_chunk(load, context, problems)
        _end_of_chunk(load, context, problems)
    outcome.problems = problems.count
    return outcome


def _context(session: Session) -> _Context:
    return _Context(municipalities=queries.municipality_codes_by_name(session), today=clock.today())


def import_file(
    session: Session, path: Path, *, fmt: str, dry_run: bool, report: Callable[[Problem], None]
) -> Outcome:
    """Check every row and, unless a dry run, insert them all in the caller's transaction.

    Every problem goes to `report` in line order. If any row is bad, RowsRefused is raised
    so the transaction rolls back: nothing is written. A good import is audited (counts only).
    """
    load = _Load(session, enabled=not dry_run)
    try:
        outcome = _load(session, path, fmt=fmt, load=load, report=report)
    except (IntegrityError, psycopg.IntegrityError):  # COPY raises the driver's own error
        raise RegistryChanged(
            "a national_id was registered meanwhile; nothing was written"
        ) from None
    if outcome.problems:
        raise RowsRefused(outcome)
    if not dry_run:
        outcome.written = True
        record(
            session, action="registry.import", actor_kind="system", object_kind="registry",
            details={"format": fmt, "persons": outcome.persons, "contacts": outcome.contacts},
        )  # fmt: skip
    return outcome
