"""Case intake per case, in one process: `actions.receive` alone and the whole Open311 POST route.

A scratch database seeded as bench/cases_intake.py seeds it (the demo catalogue, the request
categories, Skopje's Centar, one client key), then, one case at a time, each in its own
transaction as the API makes them:

- `receive` with the service code chosen (what an Open311 POST asks of it), and with free text
  (the classifier decides); the time of the call alone, and its commit in a column of its own
  (the flush of what receive left pending, COMMIT, handing the message to the queue);
- `classify` alone, on the same free texts (target < 5 ms);
- the whole `POST /open311/v2/requests.json` (and `.xml`) through Starlette's TestClient: key
  check, form, nearest municipality, receive, commit, answer; then the same requests again
  (answered with the first case).

SQL statements are counted per case with SQLAlchemy's `before_cursor_execute` event (an
executemany is one). On PostgreSQL, BEGIN (sent by psycopg), COMMIT and the pool's pre-ping are
round trips the event does not see: `+ 3` per transaction. `audit` is the part of the statements
that the hash-chained audit entry makes (another engineer's work, src/navreme/audit/).

    python bench/cases_receive.py [--requests 2000] [--backends postgresql,sqlite] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from navreme.cli.bench import log

TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", re.IGNORECASE)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "navreme_receive_bench"
SERVICES = ("waste", "roads", "street-lighting", "parking", "water", "other")
TEXTS = (
    "Контејнерот не е празнет веќе две недели.", "Дупка на патот пред училиштето.",
    "Three street lights out on the bridge.", "Car parked on the pavement every night.",
    "Water leaking from a pipe under the road.", "Someone dumped old furniture by the river.",
)  # fmt: skip


@dataclass
class Statements:
    """Counts the statements an engine sends; `kinds` by verb and first table, for --verbose."""

    total: int = 0
    audit: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def __call__(self, _conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        self.total += 1
        if "audit_entries" in sql or "pg_advisory_xact_lock" in sql:
            self.audit += 1
        verb = sql.split(maxsplit=1)[0].upper() if sql.strip() else "?"
        table = TABLE.search(sql)
        self.kinds[f"{verb} {table.group(1) if table else ''}".strip()] += 1

    def reset(self) -> None:
        self.total, self.audit = 0, 0
        self.kinds.clear()


@dataclass
class Row:
    backend: str
    what: str
    count: int
    seconds: list[float]
    statements: int
    audit: int
    commits: list[float] = field(default_factory=list)

    def line(self) -> str:
        ms = [s * 1000 for s in self.seconds]
        q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
        commit = f"{statistics.fmean(self.commits) * 1000:.2f}" if self.commits else "—"
        return (
            f"| {self.backend} | {self.what} | {self.count:,} | {statistics.fmean(ms):.2f} | "
            f"{q[49]:.2f} | {q[94]:.2f} | {self.statements / self.count:.1f} | "
            f"{self.audit / self.count:.1f} | {commit} |"
        )


def _admin(sql: str, admin: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def prepare(backend: str, args: argparse.Namespace, home: Path) -> str:
    """A fresh, migrated, seeded database; returns the client's key."""
    if backend == "postgresql":
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
        _admin(f"CREATE DATABASE {DATABASE}", args.pg_admin)
        url = args.pg_admin.rsplit("/", 1)[0] + f"/{DATABASE}"
    else:
        url = f"sqlite:///{home / 'receive.db'}"
    os.environ["NAVREME_DATABASE_URL"] = url
    os.environ["NAVREME_HOME"] = str(home)
    from navreme import config

    config.get_settings.cache_clear()
    from navreme.cases import actions, open311_keys
    from navreme.catalogue.actions import load_demo_catalogue
    from navreme.db import session_scope
    from navreme.migrate import ensure_database
    from navreme.registry.models import Municipality

    ensure_database(config.get_settings())
    with session_scope() as session:
        load_demo_catalogue(session)
        actions.load_categories(session)
        session.add(Municipality(code="MK-77", name="Centar", name_mk="Центар", region="Skopje",
                                 in_city_of_skopje=True, latitude=41.996, longitude=21.431))  # fmt: skip
        return open311_keys.issue_key(session, client="bench", actor=None)


@contextmanager
def counted(statements: Statements) -> Iterator[Statements]:
    from sqlalchemy import event

    from navreme.db import get_engine

    engine = get_engine()
    statements.reset()
    event.listen(engine, "before_cursor_execute", statements)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", statements)


def _submissions(n: int, rng: random.Random, *, free_text: bool, tag: str) -> list[Any]:
    from navreme.cases import actions

    return [
        actions.Submission(
            text=rng.choice(TEXTS), channel="web" if free_text else "open311",
            category_code=None if free_text else rng.choice(SERVICES),
            idempotency_key=f"bench:{tag}-{i}", open311_client=None if free_text else "bench",
            municipality_code="MK-77", latitude=41.99 + rng.random() / 50,
            longitude=21.42 + rng.random() / 50, contact_channel="email",
            contact_address=f"p{i}@example.org",
        )
        for i in range(n)
    ]  # fmt: skip


def time_receive(backend: str, what: str, submissions: list[Any], stats: Statements) -> Row:
    from navreme.cases import actions, open311
    from navreme.db import session_scope

    seconds: list[float] = []
    commits: list[float] = []
    with counted(stats):
        for submission in submissions:
            with session_scope() as session:
                began = time.perf_counter()
                made = actions.receive(session, submission, actor=open311.ACTOR)
                received = time.perf_counter()
                seconds.append(received - began)
            commits.append(time.perf_counter() - received)
            if not made.created:
                raise SystemExit(f"{what}: a new submission was answered as a repeat")
    return Row(backend, what, len(submissions), seconds, stats.total, stats.audit, commits)


def time_classify(backend: str, n: int, rng: random.Random) -> Row:
    from navreme.cases.classifier import classify

    texts = [rng.choice(TEXTS) for _ in range(n)]
    seconds: list[float] = []
    for text in texts:
        began = time.perf_counter()
        classify(text)
        seconds.append(time.perf_counter() - began)
    return Row(backend, "`classify` alone (free text)", n, seconds, 0, 0)


def _forms(n: int, key: str, rng: random.Random, tag: str) -> list[dict[str, str]]:
    return [
        {"api_key": key, "service_code": rng.choice(SERVICES), "service_request_id": f"{tag}-{i}",
         "lat": f"{41.99 + rng.random() / 50:.6f}", "long": f"{21.42 + rng.random() / 50:.6f}",
         "description": rng.choice(TEXTS), "email": f"p{i}@example.org"}
        for i in range(n)
    ]  # fmt: skip


def time_route(
    backend: str, what: str, post: Callable[[dict[str, str]], Any], forms: list[dict[str, str]],
    expected: int, stats: Statements,
) -> Row:  # fmt: skip
    seconds: list[float] = []
    with counted(stats):
        for form in forms:
            began = time.perf_counter()
            response = post(form)
            seconds.append(time.perf_counter() - began)
            if response.status_code != expected:
                raise SystemExit(f"{what}: {response.status_code} {response.text[:300]}")
    return Row(backend, what, len(forms), seconds, stats.total, stats.audit)


def run_backend(backend: str, args: argparse.Namespace) -> list[Row]:
    from fastapi.testclient import TestClient

    from navreme.cases.classifier import classify

    rng = random.Random(args.seed)  # noqa: S311 - bench data
    home = Path(tempfile.mkdtemp(prefix="navreme-receive-"))
    log(f"{backend}: preparing …")
    key = prepare(backend, args, home)
    os.environ["NAVREME_RATE_LIMITS"] = '{"api": ""}'  # one client sends them all: measure intake
    from navreme import config
    from navreme.web.app import create_app

    config.get_settings.cache_clear()
    classify(TEXTS[0])  # the built-in model is trained once per process: not per case
    stats = Statements()
    n = args.requests
    rows: list[Row] = []
    warm = _submissions(20, rng, free_text=False, tag="warm")
    time_receive(backend, "warm-up", warm, stats)

    profile = cProfile.Profile() if args.profile else None
    log(f"{backend}: receive, {n:,} cases …")
    if profile:
        profile.enable()
    rows.append(time_receive(backend, "`receive`, service code chosen (Open311)",
                             _submissions(n, rng, free_text=False, tag="chosen"), stats))  # fmt: skip
    if profile:
        profile.disable()
    if args.verbose:
        _kinds("receive, chosen", stats, n)
    rows.append(time_receive(backend, "`receive`, free text (classifier)",
                             _submissions(n, rng, free_text=True, tag="free"), stats))  # fmt: skip
    rows.append(time_classify(backend, n, rng))
    with TestClient(create_app()) as client:
        for fmt in ("json", "xml"):
            forms = _forms(n, key, rng, f"route-{fmt}")
            url = f"/open311/v2/requests.{fmt}"

            def post(form: dict[str, str], url: str = url) -> Any:
                return client.post(url, data=form)

            log(f"{backend}: POST requests.{fmt}, {n:,} requests …")
            if profile and fmt == "json":
                profile.enable()
            rows.append(time_route(backend, f"POST requests.{fmt}, new (201)", post, forms, 201,
                                   stats))  # fmt: skip
            if profile:
                profile.disable()
            if args.verbose and fmt == "json":
                _kinds("POST requests.json", stats, n)
            if fmt == "json":
                rows.append(time_route(backend, "POST requests.json, the same again (200)", post,
                                       forms, 200, stats))  # fmt: skip
    if profile:
        out = Path(args.profile) / f"cases_receive_{backend}.prof"
        profile.dump_stats(out)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        log(f"profile written to {out}")
    if backend == "postgresql" and not args.keep:
        from navreme.db import engine_for

        engine_for.cache_clear()
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    return rows


def _kinds(title: str, stats: Statements, n: int) -> None:
    log(f"statements per case, {title}:")
    for kind, count in stats.kinds.most_common():
        log(f"  {count / n:5.2f}  {kind}")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2_000, help="cases per row")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL scratch database")
    parser.add_argument("--verbose", action="store_true", help="statements by kind (stderr)")
    parser.add_argument("--profile", metavar="DIR", help="cProfile the Open311 rows into DIR")
    return parser.parse_args(argv)


def main(args: argparse.Namespace, command: str) -> int:
    from navreme import clock

    rows = [row for backend in args.backends.split(",") for row in run_backend(backend, args)]
    load = os.getloadavg()[0]
    print(f"`{command}` — {clock.today():%Y-%m-%d}, one process, one case at a time, "
          f"load average {load:.2f} at the end\n")  # fmt: skip
    print("| database | per case | cases | mean ms | p50 ms | p95 ms | statements | "
          "of which audit | then commit, mean ms |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(arguments(), " ".join(["python", *sys.argv])))
