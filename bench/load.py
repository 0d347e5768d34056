"""T25: the realistic mix through the scaled mode with locust, then p50/p95/p99 and errors.

Seeds the demo country into a fresh PostgreSQL database, signs citizens and officers in
(session tokens written straight to the database, as bench/booking.py does, so the run measures
the mix and not a thousand log-ins), starts the cluster (2 API processes, 3 workers; or uses a
running one with --running), queues an outbound campaign (`navreme messages campaign`), runs
locust headless as a SUBPROCESS for the duration, then waits for the queue to drain and prints a
table per request type and overall. Locust is never imported here: gevent monkey-patches.

    python bench/load.py [--duration 120s] [--users 40] [--spawn-rate 10] [--persons 3000]
    python bench/load.py --duration 30m        # the nightly run (make load DURATION=30m)

RELIABILITY.md T25 targets: p95 ≤ 300 ms, p99 ≤ 1 s, errors ≤ 0.1 %, the queue drains after.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess  # nosec B404 - locust and our own CLI, no shell
import sys
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfile.py"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "navreme_load"
CAMPAIGN_CONTEXT = {"service_name": "Лична карта", "reason_text": "Сите лични карти се менуваат.",
                    "reason": "законот бара замена на личните карти"}  # fmt: skip
OFFICERS = ("officer.mvr", "supervisor.mvr")
UNFINISHED = ("created", "failed-temporary")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Row:
    """One line of locust's stats CSV: a request type, or "Aggregated" for all of them."""

    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Drain:
    """What the queue and the outbox held once the load stopped and the workers caught up."""

    drained: bool
    seconds: float
    queued_tasks: int
    due_unfinished: int
    campaign_messages: int
    handed_to_channel: int


# --- preparing -------------------------------------------------------------------------------


def seed(persons: int) -> None:
    """The demo country (offices with counters, people with endpoints and consents, offers)."""
    from navreme.cli.seed import start_proactive_rules
    from navreme.config import get_settings
    from navreme.demo.seed import seed_demo_country
    from navreme.migrate import ensure_database

    settings = get_settings()
    ensure_database(settings)
    seed_demo_country(settings, persons=persons)
    log(start_proactive_rules())


def sign_in(citizens: int) -> dict[str, list[dict[str, Any]]]:
    """Session tokens for adult citizens and for the MVR officers (with their offices)."""
    from sqlalchemy import select

    from navreme import clock
    from navreme.db import session_scope
    from navreme.identity.actions import start_session
    from navreme.identity.models import Officer
    from navreme.registry.models import Person
    from navreme.scheduling.models import Office

    adult_before = clock.today() - timedelta(days=20 * 366)
    with session_scope() as session:
        people = session.scalars(
            select(Person).where(Person.death_date.is_(None), Person.birth_date < adult_before)
            .order_by(Person.national_id).limit(citizens)
        ).all()  # fmt: skip
        signed = [{"person_id": str(p.id), "token": start_session(
            session, subject_kind="citizen", subject_id=p.id, replaces=None).token}
            for p in people]  # fmt: skip
        officers = []
        for username in OFFICERS:
            officer = session.scalars(select(Officer).where(Officer.username == username)).one()
            offices = session.scalars(
                select(Office.code).where(Office.department_id == officer.department_id)
            ).all()
            token = start_session(session, subject_kind="officer", subject_id=officer.id,
                                  replaces=None).token  # fmt: skip
            officers.append({"token": token, "offices": list(offices)})
    return {"citizens": signed, "officers": officers}


def write_plan(folder: Path, hosts: list[str], people: dict[str, Any]) -> Path:
    """The locustfile's input; it holds bearer tokens, so it stays in the run's own folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan.json"
    path.write_text(json.dumps({"hosts": hosts, "service": "id-card", **people}), "utf-8")
    path.chmod(0o600)
    return path


def queue_campaign(env: dict[str, str]) -> str:
    """The outbound campaign, as an operator queues it: everyone who consented to offers."""
    done = subprocess.run(  # noqa: S603  # nosec B603
        [sys.executable, "-m", "navreme.cli.main", "messages", "campaign", "offer_inform",
         "--purpose", "proactive_offers", "--context", json.dumps(CAMPAIGN_CONTEXT), "--commit"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the campaign was refused:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


# --- running and reading ---------------------------------------------------------------------


def run_locust(
    plan: Path, out: Path, *, users: int, spawn_rate: float, duration: str,
    env: dict[str, str] | None = None,
) -> Path:  # fmt: skip
    """Locust headless in its own process; returns the stats CSV it wrote."""
    prefix = out / "locust"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "-u", str(users), "-r", str(spawn_rate), "-t", duration, "--csv", str(prefix),
               "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "0",
               "--loglevel", "WARNING"]  # fmt: skip
    run_env = {**(os.environ if env is None else env), "NAVREME_LOAD_PLAN": str(plan)}
    with (out / "locust.log").open("wb") as output:
        done = subprocess.run(command, env=run_env, stdout=output, stderr=subprocess.STDOUT,  # noqa: S603  # nosec B603
                              check=False)  # fmt: skip
    stats = Path(f"{prefix}_stats.csv")
    if done.returncode != 0 or not stats.exists():
        tail = (out / "locust.log").read_text("utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"locust exited with {done.returncode}:\n{tail}")
    return stats


def read_stats(path: Path) -> list[Row]:
    """Per request type, then the "Aggregated" row; latencies in milliseconds."""
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line in csv.DictReader(handle):
            rows.append(Row(
                name=line["Name"] if line["Name"] != "Aggregated" else "overall",
                requests=int(line["Request Count"]), failures=int(line["Failure Count"]),
                rps=float(line["Requests/s"]), p50=_ms(line["50%"]), p95=_ms(line["95%"]),
                p99=_ms(line["99%"]),
            ))  # fmt: skip
    return rows


def _ms(value: str) -> float:
    return float(value) if value not in ("", "N/A") else float("nan")


def wait_drained(within_s: float = 300) -> Drain:
    """Poll until the Redis queue is empty and no due delivery is unfinished (or time is up)."""
    from sqlalchemy import func, or_, select

    from navreme import clock
    from navreme.config import get_settings
    from navreme.db import session_scope
    from navreme.messaging.models import Delivery, Message
    from navreme.workers.app import make_huey

    queue = make_huey(get_settings())
    started = time.monotonic()
    while True:
        queued = queue.pending_count()
        with session_scope() as session:
            due = session.scalar(select(func.count()).select_from(Delivery).where(or_(
                Delivery.status == "sending",
                Delivery.status.in_(UNFINISHED) & (Delivery.not_before <= clock.now()),
            ))) or 0  # fmt: skip
            campaign = session.scalar(select(func.count()).select_from(Message)
                                      .where(Message.created_by == "cli")) or 0  # fmt: skip
            handed = session.scalar(
                select(func.count()).select_from(Delivery).join(Message)
                .where(Message.created_by == "cli", Delivery.status.in_(("sent", "delivered", "read")))
            ) or 0  # fmt: skip
        waited = time.monotonic() - started
        if (queued == 0 and due == 0) or waited > within_s:
            return Drain(queued == 0 and due == 0, round(waited, 1), queued, due, campaign, handed)
        time.sleep(1)


def table(rows: list[Row]) -> str:
    lines = ["| request | requests | req/s | p50 ms | p95 ms | p99 ms | errors | error % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in rows:
        lines.append(f"| {row.name} | {row.requests:,} | {row.rps:.1f} | {row.p50:.0f} | "
                     f"{row.p95:.0f} | {row.p99:.0f} | {row.failures:,} | "
                     f"{100 * row.error_rate:.2f} |")  # fmt: skip
    return "\n".join(lines)


def summary(rows: list[Row], drain: Drain) -> dict[str, Any]:
    """What a test or the nightly job records: overall numbers, per type, and the drain."""
    overall = next(r for r in rows if r.name == "overall")
    return {"requests": overall.requests, "error_rate": overall.error_rate,
            "p50_ms": overall.p50, "p95_ms": overall.p95, "p99_ms": overall.p99,
            "rps": overall.rps, "per_request": [asdict(r) for r in rows],
            "drain": asdict(drain)}  # fmt: skip


# --- the whole run ---------------------------------------------------------------------------


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="120s", help="locust -t: 120s, 30m, …")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--persons", type=int, default=3000, help="demo country size")
    parser.add_argument("--citizens", type=int, default=1000, help="signed-in citizens")
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--port", type=int, default=8100, help="first API port")
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--queue-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--out", type=Path, default=Path("var/load"))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


def _admin(sql: str, admin: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def main(args: argparse.Namespace) -> int:
    from navreme import cluster, config

    url = args.pg_admin.rsplit("/", 1)[0] + f"/{DATABASE}"
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    _admin(f"CREATE DATABASE {DATABASE}", args.pg_admin)
    out = args.out.resolve()
    os.environ.update({"NAVREME_DATABASE_URL": url, "NAVREME_QUEUE_URL": args.queue_url,
                       "NAVREME_HOME": str(out / "home")})  # fmt: skip
    config.get_settings.cache_clear()
    _flush_queue()
    state = None
    try:
        log(f"seeding {args.persons:,} persons …")
        seed(args.persons)
        people = sign_in(args.citizens)
        plan = cluster.Plan(apis=args.apis, workers=args.workers, base_port=args.port)
        log("starting the cluster …")
        state = cluster.up(config.get_settings(), plan)
        log(queue_campaign(dict(os.environ)))
        path = write_plan(out, state.urls, people)
        log(f"locust: {args.users} users, {args.duration} …")
        rows = read_stats(run_locust(path, out, users=args.users, spawn_rate=args.spawn_rate,
                                     duration=args.duration))  # fmt: skip
        drain = wait_drained()
    finally:
        if state is not None:
            cluster.stop(state)
        if not args.keep:
            from navreme import db

            db.engine_for(url).dispose()
            _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    result = summary(rows, drain)
    (out / "result.json").write_text(json.dumps(result, indent=2), "utf-8")
    print(
        f"`python bench/load.py --duration {args.duration} --users {args.users}` — "
        f"{args.apis} API processes, {args.workers} workers, {args.persons:,} persons\n"
    )
    print(table(rows))
    print(
        f"\nqueue drained: {drain.drained} after {drain.seconds} s "
        f"(campaign messages {drain.campaign_messages:,}, handed to a channel "
        f"{drain.handed_to_channel:,}); T25: p95 ≤ 300 ms, p99 ≤ 1 s, errors ≤ 0.1 %"
    )
    return 0


def _flush_queue() -> None:
    """Tasks a previous run left in Navreme's queue would be worked against the new database
    (only Huey's own keys go: the Redis may be shared)."""
    from navreme.config import get_settings
    from navreme.workers.app import make_huey

    make_huey(get_settings()).flush()


if __name__ == "__main__":
    raise SystemExit(main(arguments()))
