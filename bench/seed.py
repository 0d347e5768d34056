"""Benchmark `seed_demo_country`: 10 k, 100 k and 1.8 M people into fresh databases.

    .venv/bin/python bench/seed.py                      # SQLite
    .venv/bin/python bench/seed.py --postgres           # and PostgreSQL scratch databases
    .venv/bin/python bench/seed.py --sizes 10000 --backends postgres

Each run is its own process (so peak RSS is per run) seeding a new database; the table
reports the seeding alone (not migrations): wall time, persons/s, rows/s (all tables),
peak RSS of the writing process and of the drawing subprocess, and the database size.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import psycopg

from navreme import clock

DEFAULT_SIZES = (10_000, 100_000, 1_800_000)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CENSUS_DAY = "2021-09-05"  # the 2021 census reference date: a fixed 'today' for every run


@dataclass
class Result:
    backend: str
    persons: int
    rows: int
    seconds: float
    rss_mib: float  # the writing process
    child_rss_mib: float  # the drawing subprocess (0 below seed.PARALLEL_FROM people)
    db_mib: float


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL")
    parser.add_argument("--backends", help="comma list: sqlite,postgres (overrides --postgres)")
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="URL of a database to CREATE from")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--as-of", default=CENSUS_DAY)
    parser.add_argument("--write-method", default="auto", choices=["auto", "copy", "executemany"])
    parser.add_argument("--one", nargs=2, metavar=("URL", "PERSONS"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = _args()
    if args.one:
        _run_one(args.one[0], int(args.one[1]), args)
        return
    backends = (args.backends or ("sqlite,postgres" if args.postgres else "sqlite")).split(",")
    results = []
    for backend in backends:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"… {backend} {size:,}", file=sys.stderr, flush=True)
            results.append(_run(backend, size, args))
            print(f"  {results[-1].seconds:.1f} s", file=sys.stderr, flush=True)
    print(_table(results, args))


def _run(backend: str, size: int, args: argparse.Namespace) -> Result:
    folder = Path(tempfile.mkdtemp(prefix="navreme-bench-seed-"))
    name = f"navreme_seed_bench_{size}"
    url = f"sqlite:///{folder / 'navreme.db'}"
    if backend == "postgres":
        _pg(args.pg_admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _pg(args.pg_admin, f"CREATE DATABASE {name}")
        url = args.pg_admin.rsplit("/", 1)[0] + "/" + name
    try:
        command = [sys.executable, __file__, "--one", url, str(size), "--seed", str(args.seed),
                   "--as-of", args.as_of, "--write-method", args.write_method]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{backend} {size} failed:\n{done.stderr}")
        return Result(**{**json.loads(done.stdout.strip().splitlines()[-1]), "backend": backend})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if backend == "postgres":
            _pg(args.pg_admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pg(admin_url: str, sql: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _run_one(url: str, persons: int, args: argparse.Namespace) -> None:
    from navreme.config import Settings
    from navreme.demo.seed import seed_demo_country
    from navreme.migrate import ensure_database

    home = Path(tempfile.gettempdir())  # a scratch database: development settings suffice
    settings = Settings(database_url=url, home=home, env="development")
    ensure_database(settings)
    started = time.perf_counter()
    report = seed_demo_country(
        settings, persons=persons, seed=args.seed, as_of=date.fromisoformat(args.as_of),
        write_method=args.write_method,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    result = Result(
        backend="", persons=report.persons, rows=report.total_rows, seconds=seconds,
        rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        child_rss_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        db_mib=_size_mib(url),
    )  # fmt: skip
    print(json.dumps(asdict(result)))


def _size_mib(url: str) -> float:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        files = [path, Path(f"{path}-wal")]
        return sum(f.stat().st_size for f in files if f.exists()) / 2**20
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return (row[0] if row else 0) / 2**20


def _table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"`{' '.join(sys.argv)}` — {clock.today().isoformat()}, {platform.node()}, "
        f"Python {platform.python_version()}, seed {args.seed}, as of {args.as_of}",
        "",
        "| database | persons | rows (all tables) | wall time | persons/s | rows/s "
        "| peak RSS writer | peak RSS drawer | database size |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.backend} | {r.persons:,} | {r.rows:,} | {r.seconds:.1f} s "
        f"| {r.persons / r.seconds:,.0f} | {r.rows / r.seconds:,.0f} | {r.rss_mib:,.0f} MiB "
        f"| {r.child_rss_mib:,.0f} MiB | {r.db_mib:,.0f} MiB |"
        for r in results
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
