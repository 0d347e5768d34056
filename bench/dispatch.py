"""Dispatch benchmark: the messaging hub's outbox and workers against a loopback HTTP gateway.

Three measurements, each beside a one-task-per-message baseline in the same run:

1. **throughput** — N messages written through `send` (the outbox, 500 per transaction) and
   handed by `navreme worker` processes over HTTP to the loopback gateway
   (`tests/servers/loopback.py`, a separate process): messages/s from the first write to the
   last `sent`. Baseline: the same with one Huey task per message (NAVREME_DISPATCH_BATCH=1).
2. **campaign fan-out** — select, render and queue a message for every person of a seeded
   registry (`--campaign-persons`, default 1.8 M) with `messaging.campaign.fan_out`; beside it,
   the per-person path (`send` one by one) timed on a sample and its rate reported.
3. **priority under bulk** — while the workers drain that campaign on the bulk lane, priority
   messages are written at `--priority-rate` per second for `--priority-seconds`; reported: the
   share sent within 10 s of being created (Notify's definition: sent_at − created_at ≤ 10 s).

    python bench/dispatch.py [--messages 20000] [--campaign-persons 1800000] [--workers 2]

The campaign needs a seeded registry: `--database URL` (seeded with `navreme seed --persons N`
beforehand), or it seeds one (minutes for 1.8 M).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess  # nosec B404 - starts our own gateway and workers
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from navreme.cli.bench import log

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("sms", "email", "telegram", "viber", "whatsapp", "matrix", "messenger", "xmpp",
            "push", "letter")  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def environment(
    url: str, home: Path, gateway_port: int, batch: int, *, bulk_api: bool = False
) -> dict[str, str]:
    base = f"http://127.0.0.1:{gateway_port}/messages"
    gateway: dict[str, object] = {"adapter": "http", "url": base, "timeout": 10}
    if bulk_api:
        gateway["batch_url"] = base + "/batch"
    return {
        "NAVREME_DATABASE_URL": url,
        "NAVREME_HOME": str(home),
        "NAVREME_ENV": "development",
        "NAVREME_CHANNELS": json.dumps(dict.fromkeys(CHANNELS, gateway)),
        "NAVREME_DISPATCH_BATCH": str(batch),
        "NAVREME_LEASE_SECONDS": "300",
    }


def apply(env: dict[str, str]) -> None:
    """Point this process's settings, adapters and queue at the benchmark's."""
    from huey.storage import SqliteStorage

    from navreme import config
    from navreme.messaging import actions, dispatch
    from navreme.workers.app import huey

    os.environ.update(env)
    config.get_settings.cache_clear()
    actions.reset_channels()
    dispatch.reset_process_state()
    huey.storage = SqliteStorage(
        name="navreme", filename=str(Path(env["NAVREME_HOME"]) / "queue.db")
    )


class Workers:
    """`navreme worker` processes on the benchmark's database and queue."""

    def __init__(self, env: dict[str, str], processes: int, threads: int) -> None:
        navreme = Path(sys.executable).parent / "navreme"
        self.procs = [
            subprocess.Popen(  # nosec B603 - our own command
                [str(navreme), "worker", "--workers", str(threads), "--no-periodic"],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            for _ in range(processes)
        ]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def reset_outbox(url: str, home: Path) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE delivery_events, deliveries, conversation_items, "
                                "inbound_messages, messages CASCADE"))  # fmt: skip
    engine.dispose()
    (home / "queue.db").unlink(missing_ok=True)


def sent_count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text("SELECT count(*) FROM deliveries WHERE status = 'sent'"))
        count = int(value.scalar_one())
    engine.dispose()
    return count


@dataclass
class Throughput:
    variant: str
    messages: int
    write_s: float
    total_s: float

    @property
    def per_second(self) -> float:
        return self.messages / self.total_s


def throughput(args: argparse.Namespace, url: str, home: Path, port: int, batch: int,
               variant: str, bulk_api: bool = False) -> Throughput:  # fmt: skip
    from navreme.db import session_scope
    from navreme.messaging.actions import send

    reset_outbox(url, home)
    env = environment(url, home, port, batch, bulk_api=bulk_api)
    apply(env)
    workers = Workers(env, args.workers, args.threads)
    try:
        time.sleep(2)  # the consumers are up and polling
        started = time.perf_counter()
        for start in range(0, args.messages, 500):
            with session_scope() as session:
                for n in range(start, min(start + 500, args.messages)):
                    send(session, person_id=None, purpose="service", template="login_code",
                         context={"code": f"{n % 1_000_000:06d}", "minutes": 5},
                         to=("sms", f"+3897{n:07d}"))  # fmt: skip
        written = time.perf_counter() - started
        deadline = time.monotonic() + args.timeout
        while sent_count(url) < args.messages:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{variant}: not all sent within {args.timeout} s")
            time.sleep(0.2)
        total = time.perf_counter() - started
    finally:
        workers.stop()
    return Throughput(variant, args.messages, written, total)


@dataclass
class FanOut:
    persons: int
    messages: int
    variants: int
    select_render_s: float
    write_s: float
    commit_queue_s: float
    total_s: float
    per_person_rate: float  # baseline: send() one by one, messages/s


def fan_out(args: argparse.Namespace, url: str, home: Path, port: int) -> FanOut:
    from sqlalchemy import select

    from navreme.db import session_scope
    from navreme.messaging import campaign
    from navreme.messaging.actions import send
    from navreme.registry.models import Person

    reset_outbox(url, home)
    apply(environment(url, home, port, 200))
    context = {"service_name": "Лична карта", "reason": "законот бара замена на личните карти",
               "reason_text": "Сите лични карти издадени пред 2024 мора да се заменат."}  # fmt: skip
    started = time.perf_counter()
    with session_scope() as session:
        report = campaign.fan_out(session, template="offer_inform", purpose="proactive_offers",
                                  context=context, created_by="bench")  # fmt: skip
        before_commit = time.perf_counter()
    total = time.perf_counter() - started
    # Baseline: the per-person path on a sample, in one transaction per 500 like a careful loop.
    with session_scope() as session:
        sample = list(session.scalars(select(Person.id).limit(args.baseline_persons)))
    reset_outbox(url, home)
    apply(environment(url, home, port, 1))
    base_started = time.perf_counter()
    for start in range(0, len(sample), 500):
        with session_scope() as session:
            for person_id in sample[start : start + 500]:
                send(session, person_id=person_id, purpose="proactive_offers",
                     template="offer_inform", context=context)  # fmt: skip
    base_rate = len(sample) / (time.perf_counter() - base_started)
    return FanOut(
        persons=report.selected_persons, messages=report.messages, variants=report.variants,
        select_render_s=report.seconds["select_render"], write_s=report.seconds["write"],
        commit_queue_s=total - (before_commit - started),
        total_s=total, per_person_rate=base_rate,
    )  # fmt: skip


@dataclass
class Priority:
    bulk_waiting: int
    sent: int
    written: int
    within_10s: float
    p50_s: float
    p99_s: float
    max_s: float
    bulk_sent_meanwhile: int


def priority_under_bulk(args: argparse.Namespace, url: str, home: Path, port: int,
                        batch: int, bulk_api: bool = True) -> Priority:  # fmt: skip
    """The campaign's bulk deliveries are waiting; priority messages arrive meanwhile."""
    from sqlalchemy import text

    from navreme.db import session_scope
    from navreme.messaging import campaign
    from navreme.messaging.actions import send

    reset_outbox(url, home)
    env = environment(url, home, port, batch, bulk_api=bulk_api)
    apply(env)
    context = {"service_name": "Пасош", "reason": "бенчмарк", "reason_text": "Бенчмарк."}
    with session_scope() as session:
        report = campaign.fan_out(session, template="offer_inform", purpose="proactive_offers",
                                  context=context, created_by="bench", limit=args.bulk_backlog)  # fmt: skip
    workers = Workers(env, args.workers, args.threads)
    ids: list[str] = []
    try:
        time.sleep(3)  # bulk is flowing
        bulk_before = sent_count(url)
        interval = 1.0 / args.priority_rate
        started = time.perf_counter()
        n = 0
        while time.perf_counter() - started < args.priority_seconds:
            with session_scope() as session:
                message = send(session, person_id=None, purpose="login", template="login_code",
                               context={"code": f"{n:06d}", "minutes": 5}, lane="priority",
                               urgent=True, to=("sms", f"+3897{n:07d}"))  # fmt: skip
                ids.append(str(message.id))
            n += 1
            time.sleep(max(0.0, started + n * interval - time.perf_counter()))
        time.sleep(15)  # the last ones have their 10 s and more
        bulk_after = sent_count(url)
    finally:
        workers.stop()
    with session_scope() as session:
        rows = session.execute(text(
            "SELECT EXTRACT(EPOCH FROM d.sent_at - m.created_at) FROM messages m "
            "JOIN deliveries d ON d.message_id = m.id WHERE m.lane = 'priority'"
        )).all()  # fmt: skip
    waits = sorted(float(r[0]) for r in rows if r[0] is not None)
    written = len(ids)
    within = sum(1 for w in waits if w <= 10.0) / written if written else 0.0
    return Priority(
        bulk_waiting=report.messages, sent=len(waits), written=written, within_10s=within,
        p50_s=statistics.median(waits) if waits else float("nan"),
        p99_s=waits[int(len(waits) * 0.99) - 1] if waits else float("nan"),
        max_s=waits[-1] if waits else float("nan"), bulk_sent_meanwhile=bulk_after - bulk_before,
    )  # fmt: skip


def database(args: argparse.Namespace) -> str:
    if args.database:
        return str(args.database)
    import psycopg

    name = "navreme_dispatch_bench"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        admin.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    log(f"seeding {args.campaign_persons:,} persons into {name} …")
    subprocess.run(  # nosec B603 - our own command
        [str(Path(sys.executable).parent / "navreme"), "seed", "--persons",
         str(args.campaign_persons)],
        env={**os.environ, "NAVREME_DATABASE_URL": url}, check=True,
    )  # fmt: skip
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--campaign-persons", type=int, default=1_800_000)
    parser.add_argument("--baseline-persons", type=int, default=20_000)
    parser.add_argument(
        "--bulk-backlog",
        type=int,
        default=None,
        help="campaign messages waiting during the priority test [default: all]",
    )
    parser.add_argument("--priority-rate", type=float, default=10.0)
    parser.add_argument("--priority-seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--database", help="a seeded PostgreSQL database URL (else seeded here)")
    parser.add_argument("--skip", default="", help="comma list: throughput,fanout,priority")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    url = database(args)
    from navreme.migrate import ensure_database

    home = Path(tempfile.mkdtemp(prefix="navreme-bench-dispatch-"))
    os.environ.update({"NAVREME_DATABASE_URL": url, "NAVREME_HOME": str(home)})
    from navreme import config

    config.get_settings.cache_clear()
    ensure_database(config.get_settings())
    port = free_port()
    gateway = subprocess.Popen(  # nosec B603 - our own test gateway
        [sys.executable, "-m", "tests.servers.loopback", "--port", str(port)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results: dict[str, Any] = {}
    try:
        wait_for_port(port)
        if "throughput" not in skip:
            variants = ((200, "batches of 200 ids, gateway's bulk API", True),
                        (200, "batches of 200 ids, one request each", False),
                        (1, "one task per message", False))  # fmt: skip
            for batch, variant, bulk in variants:
                log(f"throughput: {variant} …")
                results[variant] = throughput(args, url, home, port, batch, variant, bulk)
        if "fanout" not in skip:
            log("campaign fan-out …")
            results["fanout"] = fan_out(args, url, home, port)
        if "priority" not in skip:
            log("priority under bulk …")
            results["priority"] = priority_under_bulk(args, url, home, port, 200)
    finally:
        gateway.terminate()
        gateway.wait(10)
    report(results, args)


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n`python bench/dispatch.py` — PostgreSQL, Huey on SQLite, {args.workers} worker "
          f"processes × {args.threads} threads, loopback HTTP gateway; {os.cpu_count()} cores\n")  # fmt: skip
    rows = [r for r in results.values() if isinstance(r, Throughput)]
    if rows:
        print(
            "| dispatch | messages | written in | all sent in | messages/s | vs one task per message |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        base = next((r for r in rows if r.variant == "one task per message"), None)
        for r in rows:
            ratio = f"{r.per_second / base.per_second:.2f}×" if base else "–"
            print(f"| {r.variant} | {r.messages:,} | {r.write_s:.1f} s | {r.total_s:.1f} s | "
                  f"{r.per_second:,.0f} | {ratio} |")  # fmt: skip
    fan = results.get("fanout")
    if fan:
        rate = fan.messages / fan.total_s
        print("\n| campaign fan-out | persons selected | messages | variants rendered | "
              "select+render | write | total | messages/s | per-person send() | ratio |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {args.campaign_persons:,} registry | {fan.persons:,} | {fan.messages:,} | "
              f"{fan.variants} | {fan.select_render_s:.1f} s | {fan.write_s:.1f} s | "
              f"{fan.total_s:.1f} s | {rate:,.0f} | {fan.per_person_rate:,.0f}/s | "
              f"{rate / fan.per_person_rate:.1f}× |")  # fmt: skip
    pri = results.get("priority")
    if pri:
        print("\n| priority under bulk | bulk waiting | priority written | sent | within 10 s | "
              "p50 | p99 | max | bulk sent meanwhile |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {args.priority_rate:g}/s for {args.priority_seconds:g} s | {pri.bulk_waiting:,} | "
              f"{pri.written} | {pri.sent} | {pri.within_10s:.2%} | {pri.p50_s:.2f} s | "
              f"{pri.p99_s:.2f} s | {pri.max_s:.2f} s | {pri.bulk_sent_meanwhile:,} |")  # fmt: skip


if __name__ == "__main__":
    main()
