"""Case intake throughput: Open311 GeoReport v2 POSTs accepted per second on PostgreSQL.

N service requests (default 5 000), each with its own client request id, form-encoded with an
API key, sent by `--concurrency` clients at once (aiohttp) to `navreme serve --workers W`
(default 2), its per-client `api` rate limit off (one client address sends everything). Then the
same N again: each must come back 200 with the reference made the first time (idempotent
replays), and the database must hold exactly N cases. There is no plain JSON
intake route yet (cases/api.py), so the Open311 path is measured alone.

    python bench/cases_intake.py [--requests 5000] [--concurrency 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess  # nosec B404 - starts our own server
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from navreme.cli.bench import log as _log

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "navreme_intake_bench"
SERVICES = ("waste", "roads", "street-lighting", "parking", "water", "other")
TEXTS = (
    "Контејнерот не е празнет веќе две недели.", "Дупка на патот пред училиштето.",
    "Three street lights out on the bridge.", "Car parked on the pavement every night.",
    "Water leaking from a pipe under the road.", "Someone dumped old furniture by the river.",
)  # fmt: skip


@dataclass
class Round:
    name: str
    seconds: float
    statuses: dict[int, int]
    latencies: list[float]

    def row(self, expected: int) -> str:
        q = statistics.quantiles(self.latencies, n=100)
        good = self.statuses.get(expected, 0)
        others = {k: v for k, v in sorted(self.statuses.items()) if k != expected}
        return (
            f"| {self.name} | {len(self.latencies):,} | {self.seconds:.1f} | {good:,} | "
            f"{good / self.seconds:,.0f} | {others or '—'} | {q[49] * 1000:.0f} | "
            f"{q[94] * 1000:.0f} | {q[98] * 1000:.0f} |"
        )


def _admin(sql: str, admin: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _url(admin: str) -> str:
    return admin.rsplit("/", 1)[0] + f"/{DATABASE}"


def prepare(args: argparse.Namespace) -> tuple[str, list[dict[str, str]]]:
    """A fresh database with the categories, Skopje's centre and a key; the request forms."""
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    _admin(f"CREATE DATABASE {DATABASE}", args.pg_admin)
    os.environ["NAVREME_DATABASE_URL"] = _url(args.pg_admin)
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
        key = open311_keys.issue_key(session, client="bench", actor=None)
    rng = random.Random(args.seed)  # noqa: S311 - bench data
    forms = [
        {"api_key": key, "service_code": rng.choice(SERVICES), "service_request_id": f"b-{n}",
         "lat": f"{41.99 + rng.random() / 50:.6f}", "long": f"{21.42 + rng.random() / 50:.6f}",
         "description": rng.choice(TEXTS), "email": f"p{n}@example.org"}
        for n in range(args.requests)
    ]  # fmt: skip
    return key, forms


def serve(port: int, workers: int, admin: str) -> subprocess.Popen[bytes]:
    # Every request comes from this one address: the per-client `api` limit (600/minute, T11)
    # would answer most of them 429, so it is off here unless NAVREME_RATE_LIMITS says otherwise.
    env = {"NAVREME_RATE_LIMITS": '{"api": ""}', **os.environ,
           "NAVREME_DATABASE_URL": _url(admin), "NAVREME_ENV": "development"}  # fmt: skip
    command = [str(Path(sys.executable).parent / "navreme"), "serve", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # noqa: S603  # nosec B603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(2)  # every worker process up
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


async def fire(url: str, forms: list[dict[str, str]], concurrency: int, name: str) -> Round:
    import aiohttp

    statuses: dict[int, int] = {}
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=300)) as client:  # fmt: skip

        async def one(form: dict[str, str]) -> None:
            async with gate:
                began = time.perf_counter()
                try:
                    async with client.post(url, data=form) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 599
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one(form) for form in forms))
        return Round(name, time.perf_counter() - started, statuses, latencies)


def count_cases(admin: str) -> int:
    import psycopg

    with psycopg.connect(_url(admin)) as connection:
        row = connection.execute("SELECT count(*) FROM cases").fetchone()
        return int(row[0]) if row else 0


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def main(args: argparse.Namespace, command: str) -> int:
    from navreme import clock

    _log(f"preparing {args.requests:,} Open311 requests …")
    _, forms = prepare(args)
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = int(port.getsockname()[1])
    port.close()
    server = serve(number, args.workers, args.pg_admin)
    url = f"http://127.0.0.1:{number}/open311/v2/requests.json"
    try:
        _log("new requests …")
        new = asyncio.run(fire(url, forms, args.concurrency, "new requests (201)"))
        _log("the same requests again …")
        again = asyncio.run(fire(url, forms, args.concurrency, "the same again (200, no new case)"))
    finally:
        server.terminate()
        server.wait(30)
    cases = count_cases(args.pg_admin)
    if not args.keep:
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    print(f"`{command}` — {clock.today():%Y-%m-%d}, PostgreSQL, `navreme serve --workers "
          f"{args.workers}`, {args.concurrency} clients in flight (aiohttp), on this machine\n")  # fmt: skip
    print("| round | requests | seconds | answered as expected | per second | other | "
          "p50 ms | p95 ms | p99 ms |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    print(new.row(201))
    print(again.row(200))
    print(f"\ncases in the database afterwards: {cases:,} (expected {args.requests:,})")
    return 0 if cases == args.requests else 1


if __name__ == "__main__":
    raise SystemExit(main(arguments(), " ".join(["python", *sys.argv])))
