"""Booking throughput through the API on PostgreSQL, beside a naive SELECT-then-INSERT baseline.

N racing clients (default 10 000), each signed in with its own session, try to book one of a
smaller set of slots (default 4 000: 10 offices × 4 counters × 100 starts) at random, all at
once through `navreme serve --workers W`. Then the database is checked for over-bookings: two
live appointments on one counter and slot.

The baseline is the booking everyone writes first: one FastAPI route, SELECT how many bookings
the office has at that time, INSERT if fewer than its counters, in one READ COMMITTED
transaction, no constraint. It does less work (no sign-in check, no validation, no audit) and
over-books under the same race; both run behind uvicorn with the same number of processes.

    python bench/booking.py [--clients 10000] [--slots-per-counter 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess  # nosec B404 - starts our own servers
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from navreme.cli.bench import log as _log

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "navreme_booking_bench"
OFFICES, COUNTERS = 10, 4
NAIVE_APP = """
from datetime import datetime
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import create_engine, text
import os

engine = create_engine(os.environ["NAIVE_URL"], pool_size=10, max_overflow=20)
app = FastAPI()

class Booking(BaseModel):
    office: str
    starts_at: datetime
    person_id: str

@app.post("/book", status_code=201)
def book(body: Booking):
    from fastapi import HTTPException
    with engine.begin() as connection:
        taken = connection.execute(text(
            "SELECT count(*) FROM naive_bookings WHERE office = :o AND starts_at = :s"),
            {"o": body.office, "s": body.starts_at}).scalar_one()
        if taken >= COUNTERS:
            raise HTTPException(409, "slot taken")
        connection.execute(text(
            "INSERT INTO naive_bookings (office, starts_at, person_id) VALUES (:o, :s, :p)"),
            {"o": body.office, "s": body.starts_at, "p": body.person_id})
    return {"ok": True}
"""


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies: list[float]
    over_booked: int

    def row(self) -> str:
        q = statistics.quantiles(self.latencies, n=100)
        booked = self.statuses.get(201, 0)
        others = {k: v for k, v in sorted(self.statuses.items()) if k not in (201, 409)}
        return (
            f"| {self.name} | {self.requests:,} | {self.seconds:.1f} | "
            f"{self.requests / self.seconds:,.0f} | {booked:,} | {booked / self.seconds:,.0f} | "
            f"{self.statuses.get(409, 0):,} | {others or '—'} | {q[49] * 1000:.0f} | "
            f"{q[94] * 1000:.0f} | {q[98] * 1000:.0f} | {self.over_booked:,} |"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _admin(sql: str, admin: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql)


def _url(admin: str) -> str:
    return admin.rsplit("/", 1)[0] + f"/{DATABASE}"


def prepare(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    """A fresh database with offices, citizens and their session tokens; the booking bodies."""
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    _admin(f"CREATE DATABASE {DATABASE}", args.pg_admin)
    os.environ["NAVREME_DATABASE_URL"] = _url(args.pg_admin)
    from navreme import config

    config.get_settings.cache_clear()
    settings = config.get_settings()
    from sqlalchemy import select

    from navreme.catalogue.actions import load_demo_catalogue
    from navreme.db import session_scope
    from navreme.identity.actions import start_session
    from navreme.identity.models import Department
    from navreme.migrate import ensure_database
    from navreme.registry.models import Municipality, Person
    from navreme.scheduling.actions import equip_office
    from navreme.scheduling.calendar import working_days
    from navreme.scheduling.models import Office

    ensure_database(settings)
    rng = random.Random(args.seed)  # noqa: S311 - bench data
    with session_scope(settings) as session:
        load_demo_catalogue(session)
        mvr = session.scalar(select(Department.id).where(Department.code == "MVR"))
        session.add(Municipality(code="MK-101", name="Veles", name_mk="Велес", region="Vardar",
                                 in_city_of_skopje=False, latitude=41.7, longitude=21.8,
                                 population=48463))  # fmt: skip
        session.flush()
        offices = []
        for n in range(OFFICES):
            office = Office(code=f"BENCH-{n:02d}", name=f"Bench {n}", department_id=mvr,
                            municipality_code="MK-101", address="—", latitude=41.7,
                            longitude=21.8, counters=COUNTERS)  # fmt: skip
            session.add(office)
            session.flush()
            equip_office(session, office, counters=COUNTERS, services={"id-card": 15},
                         hours=[(d, datetime.min.time().replace(hour=8),
                                 datetime.min.time().replace(hour=16)) for d in range(5)])  # fmt: skip
            offices.append(office.code)
        people = [Person(national_id=f"{n:013d}", given_name="B", family_name="Bench",
                         birth_date=datetime(1980, 1, 1).date(), sex="F",
                         municipality_code="MK-101") for n in range(args.clients)]  # fmt: skip
        session.add_all(people)
        session.flush()
        tokens = [start_session(session, subject_kind="citizen", subject_id=p.id,
                                replaces=None).token for p in people]  # fmt: skip
        ids = [str(p.id) for p in people]
    from zoneinfo import ZoneInfo

    from navreme import clock

    zone = ZoneInfo(settings.timezone)
    today = clock.today(settings.timezone)
    starts: list[datetime] = []
    for day in working_days(today + timedelta(days=1), today + timedelta(days=60)):
        for slot in range(32):
            starts.append(datetime.combine(day, datetime.min.time().replace(hour=8), zone)
                          + timedelta(minutes=15 * slot))  # fmt: skip
            if len(starts) == args.slots_per_counter:
                break
        if len(starts) == args.slots_per_counter:
            break
    bodies = []
    for person_id in ids:
        office, start = rng.choice(offices), rng.choice(starts)
        bodies.append({"office": office, "starts_at": start.isoformat(), "person_id": person_id,
                       "items": [{"person_id": person_id, "service": "id-card"}]})  # fmt: skip
    return bodies, tokens


def serve(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # noqa: S603  # nosec B603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


async def fire(url: str, bodies: list[dict[str, Any]], headers: list[dict[str, str]],
               concurrency: int) -> tuple[float, dict[int, int], list[float]]:  # fmt: skip
    """Every request at once, `concurrency` in flight (aiohttp: httpx's pool tops out near
    130 requests/s at 200 connections on this machine, aiohttp near 1,700)."""
    import aiohttp

    statuses: dict[int, int] = {}
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def one(body: dict[str, Any], header: dict[str, str]) -> None:
            async with gate:
                began = time.perf_counter()
                try:
                    async with client.post(url, json=body, headers=header) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 599
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one(b, h) for b, h in zip(bodies, headers, strict=True)))
        return time.perf_counter() - started, statuses, latencies


def over_booked_navreme(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT count(*) FROM (SELECT counter_id, starts_at FROM appointments "
            "WHERE status = 'booked' GROUP BY counter_id, starts_at HAVING count(*) > 1) t"
        ).fetchone()[0]


def over_booked_naive(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(
            f"SELECT coalesce(sum(n - {COUNTERS}), 0) FROM (SELECT count(*) n FROM naive_bookings"  # noqa: S608  # nosec B608
            f" GROUP BY office, starts_at HAVING count(*) > {COUNTERS}) t"
        ).fetchone()[0]


def run_navreme(
    args: argparse.Namespace, bodies: list[dict[str, Any]], tokens: list[str]
) -> Result:
    port = _free_port()
    env = {**os.environ, "NAVREME_DATABASE_URL": _url(args.pg_admin), "NAVREME_ENV": "development"}
    server = serve([str(Path(sys.executable).parent / "navreme"), "serve", "--port", str(port),
                    "--workers", str(args.workers)], env, port)  # fmt: skip
    try:
        time.sleep(2)  # every worker process up
        payload = [{k: v for k, v in b.items() if k != "person_id"} for b in bodies]
        headers = [{"Authorization": f"Bearer {t}"} for t in tokens]
        seconds, statuses, latencies = asyncio.run(fire(
            f"http://127.0.0.1:{port}/api/v1/appointments", payload, headers, args.concurrency))  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    return Result("Navreme API (claims + key, auth, audit-ready)", len(bodies), seconds, statuses,
                  latencies, over_booked_navreme(_url(args.pg_admin)))  # fmt: skip


def run_naive(args: argparse.Namespace, bodies: list[dict[str, Any]]) -> Result:
    import psycopg

    url = _url(args.pg_admin)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS naive_bookings")
        connection.execute("CREATE TABLE naive_bookings (id bigserial PRIMARY KEY, office text,"
                           " starts_at timestamptz, person_id uuid)")  # fmt: skip
        connection.execute("CREATE INDEX ON naive_bookings (office, starts_at)")
    folder = Path(tempfile.mkdtemp(prefix="naive-"))
    (folder / "naive_booking_app.py").write_text(NAIVE_APP.replace("COUNTERS", str(COUNTERS)))
    port = _free_port()
    env = {**os.environ, "NAIVE_URL": url.replace("postgresql://", "postgresql+psycopg://")}
    server = serve([sys.executable, "-m", "uvicorn", "--app-dir", str(folder), "--port", str(port),
                    "--workers", str(args.workers), "--log-level", "warning",
                    "naive_booking_app:app"], env, port)  # fmt: skip
    try:
        time.sleep(2)
        payload = [{"office": b["office"], "starts_at": b["starts_at"], "person_id": b["person_id"]}
                   for b in bodies]  # fmt: skip
        seconds, statuses, latencies = asyncio.run(fire(
            f"http://127.0.0.1:{port}/book", payload, [{}] * len(payload), args.concurrency))  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    return Result("naive SELECT-then-INSERT", len(bodies), seconds, statuses, latencies,
                  over_booked_naive(url))  # fmt: skip


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--slots-per-counter", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--concurrency", type=int, default=200, help="requests in flight")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def main(args: argparse.Namespace, command: str) -> int:
    from navreme import clock

    _log(f"preparing {args.clients:,} citizens and {OFFICES * COUNTERS * args.slots_per_counter:,}"
         " slots …")  # fmt: skip
    bodies, tokens = prepare(args)
    _log("racing through the Navreme API …")
    ours = run_navreme(args, bodies, tokens)
    _log("racing through the naive baseline …")
    naive = run_naive(args, bodies)
    if not args.keep:
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    slots = OFFICES * COUNTERS * args.slots_per_counter
    print(
        f"`{command}` — {clock.today():%Y-%m-%d}, {args.clients:,} racing clients, "
        f"{slots:,} slots ({OFFICES} offices × {COUNTERS} counters × {args.slots_per_counter}"
        f" starts), {args.workers} server processes, {args.concurrency} requests in flight\n"
    )
    print(
        "| implementation | requests | seconds | requests/s | booked | bookings/s | 409 |"
        " other | p50 ms | p95 ms | p99 ms | over-booked |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    print(ours.row())
    print(naive.row())
    print(
        f"\nratio Navreme / naive, requests/s: "
        f"{(ours.requests / ours.seconds) / (naive.requests / naive.seconds):.2f}×"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(arguments(), " ".join(["python", *sys.argv])))
