"""T05 and T06 in the scaled mode: PostgreSQL holds the deliveries, Redis carries the ids.

T05: three `navreme worker` processes deliver a campaign while one of them, chosen at random,
is SIGKILLed three times (and started again). T06: the same campaign while PostgreSQL itself
crashes (`pg_ctl stop -m immediate`, then start): the API answers 503 with the error envelope
while the database is down and 200 again once it is back, with nobody touching anything.
Afterwards, both: nothing lost, one delivery and one `sent` record per message, and the
loopback gateway (the citizen's phone) holds every message once, by its Idempotency-Key.

Real servers throughout: a private PostgreSQL cluster and Redis (tests/servers), real worker
and API processes. NAVREME_T05_MESSAGES sets the campaign's size (CI 2,000; nightly 10,000).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huey.storage import PriorityRedisStorage
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from navreme import config, db, migrate
from navreme.messaging import actions, dispatch
from navreme.messaging.models import Delivery, DeliveryEvent, Message
from navreme.workers.app import huey
from tests.cluster.crash_support import kill, navreme, point_at, serving, wait_for
from tests.messaging.support import login_code_campaign
from tests.servers.loopback import Gateway, Running
from tests.servers.postgres import PrivatePostgres
from tests.servers.redis import PrivateRedis

MESSAGES = int(os.environ.get("NAVREME_T05_MESSAGES", "2000"))
WORKERS = 3
FINISH_WITHIN_S = max(180, MESSAGES // 8)  # CI's 2,000 take well under a minute here
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(FINISH_WITHIN_S + 120)]
_databases = itertools.count()


@dataclass
class Scaled:
    """The scaled mode of one test: its database, queue, gateway and settings."""

    cluster: PrivatePostgres
    database: str
    gateway: Gateway
    settings: config.Settings
    home: Path


@pytest.fixture(scope="module")
def migrated_template(private_postgres: PrivatePostgres) -> str:
    """Migrated once per module; each test's database is a copy (CREATE DATABASE … TEMPLATE)."""
    name = "navreme_crash_template"
    private_postgres.drop_database(name)
    engine = db.engine_for(private_postgres.create_database(name))
    migrate.upgrade(engine)
    engine.dispose()
    db.engine_for.cache_clear()
    return name


@pytest.fixture
def scaled(
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    migrated_template: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Scaled]:
    name = f"navreme_crash_{next(_databases)}"
    private_postgres.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    url = private_postgres.url(name)
    previous_storage = huey.storage
    huey.storage = PriorityRedisStorage(name="navreme", url=private_redis.url)
    huey.storage.flush_all()  # nothing left over from another test
    with Running(Gateway()) as running:
        channels = {"sms": {"adapter": "http", "url": running.url, "timeout": 5}}
        monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(channels))
        monkeypatch.setenv("NAVREME_LEASE_SECONDS", "5")
        monkeypatch.setenv("NAVREME_SWEEP_GRACE_SECONDS", "5")
        monkeypatch.setenv("NAVREME_DISPATCH_BATCH", "25")  # many batches: kills land mid-batch
        settings = point_at(monkeypatch, url, tmp_path, queue_url=private_redis.url)
        actions.reset_channels()
        try:
            yield Scaled(private_postgres, name, running.gateway, settings, tmp_path)
        finally:
            huey.storage.flush_all()
            huey.storage = previous_storage
            actions.reset_channels()
            db.engine_for(url).dispose()
            config.get_settings.cache_clear()
            if not private_postgres.answers():  # a failed T06 may leave it down
                private_postgres.start()
            private_postgres.drop_database(name)


def queue_campaign(messages: int) -> None:
    """The campaign through the real action; its ids reach Redis when the transaction commits."""
    with db.session_scope() as session:
        login_code_campaign(session, messages)


def start_worker(home: Path, number: int) -> subprocess.Popen[bytes]:
    return navreme(["worker", "--workers", "4", "--no-periodic"], home / f"worker-{number}.log")


def sent() -> int:
    """Deliveries recorded as sent; -1 while the database cannot be asked."""
    try:
        with db.session_scope() as session:
            where = Delivery.status == "sent"
            return int(session.scalar(select(func.count()).select_from(Delivery).where(where)) or 0)
    except OperationalError:
        return -1


def sweep(settings: config.Settings) -> bool:
    """What the periodic sweeper does every minute (the workers here run without a schedule):
    expired leases and deliveries nobody took go back to the queue. False while the database is
    down, as it is for the real sweeper."""
    try:
        with db.session_scope() as session:
            dispatch.sweep(session, settings)
    except OperationalError:
        return False
    return True


class Progress:
    """Polls the count of sent deliveries, sweeping every few seconds as the periodic job would,
    so a killed worker's leases run out and its deliveries go back to the queue meanwhile."""

    def __init__(self, settings: config.Settings, sweep_every_s: float = 2.0) -> None:
        self.settings, self.every = settings, sweep_every_s
        self.swept = time.monotonic()

    def reached(self, target: int) -> bool:
        if sent() >= target:
            return True
        if time.monotonic() - self.swept >= self.every:
            sweep(self.settings)
            self.swept = time.monotonic()
        return False


def assert_nothing_lost_nothing_doubled(scaled: Scaled) -> None:
    with db.session_scope() as session:
        deliveries = session.scalar(select(func.count()).select_from(Delivery))
        messages = session.scalar(select(func.count()).select_from(Message))
        doubled = session.execute(
            select(DeliveryEvent.delivery_id, func.count())
            .where(DeliveryEvent.status == "sent")
            .group_by(DeliveryEvent.delivery_id)
            .having(func.count() > 1)
        ).all()
        sent_events = session.scalar(
            select(func.count()).select_from(DeliveryEvent).where(DeliveryEvent.status == "sent")
        )
        rows = session.execute(select(Delivery.id, Delivery.address))
        recorded = {str(row.id): row.address for row in rows}
    assert messages == MESSAGES
    assert deliveries == MESSAGES  # one delivery per message
    assert sent() == MESSAGES  # 0 lost
    assert doubled == []  # exactly one record of sending each
    assert sent_events == MESSAGES
    received = scaled.gateway.received
    assert len(received) == MESSAGES  # the citizen's side holds each message once
    assert {key: body["to"] for key, body in received.items()} == recorded


@pytest.fixture
def workers(scaled: Scaled) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three worker processes on the private Redis; whatever runs at the end is killed."""
    running = [start_worker(scaled.home, n) for n in range(WORKERS)]
    try:
        yield running
    finally:
        for worker in running:
            kill(worker)


def test_t05_scaled_workers_killed_three_times_lose_nothing_and_duplicate_nothing(
    scaled: Scaled, workers: list[subprocess.Popen[bytes]]
) -> None:
    queue_campaign(MESSAGES)
    rng = random.Random(5)
    progress = Progress(scaled.settings)
    kills = 0
    while kills < 3 and sent() < MESSAGES:
        # mid-run: once some more have been delivered since the last kill (a poll, not a sleep)
        target = min(MESSAGES, sent() + rng.randint(MESSAGES // 40, MESSAGES // 12))
        wait_for("deliveries moving", lambda: progress.reached(target), FINISH_WITHIN_S, 0.1)  # noqa: B023
        victim = rng.randrange(WORKERS)
        kill(workers[victim])
        kills += 1
        workers[victim] = start_worker(scaled.home, victim + WORKERS * kills)
    wait_for("every delivery sent", lambda: progress.reached(MESSAGES), FINISH_WITHIN_S)
    assert kills == 3, "the campaign finished before the third kill: make it bigger"
    assert_nothing_lost_nothing_doubled(scaled)


def answers_503_envelope(url: str) -> bool:
    """The API, asked while the database is down: a quick 503 with the error envelope."""
    for path in ("/healthz", "/api/v1/offices"):
        response = httpx.get(url + path, timeout=10)
        if response.status_code != 503:
            return False
        assert response.json()["error"]["code"] == "unavailable"
    return True


def answers_200(url: str) -> bool:
    try:
        return all(
            httpx.get(url + path, timeout=10).status_code == 200
            for path in ("/healthz", "/api/v1/offices")
        )
    except httpx.HTTPError:
        return False


def test_t06_database_crash_mid_campaign_api_says_503_and_everything_recovers(
    scaled: Scaled, workers: list[subprocess.Popen[bytes]]
) -> None:
    with serving(scaled.home / "serve.log") as api:
        assert answers_200(api)
        queue_campaign(MESSAGES)
        progress = Progress(scaled.settings)
        wait_for("deliveries moving", lambda: progress.reached(MESSAGES // 4), FINISH_WITHIN_S)
        assert sent() < MESSAGES, "the campaign finished before the crash: make it bigger"
        scaled.cluster.crash()  # pg_ctl stop -m immediate, mid-campaign
        try:
            during = sent()
            assert during == -1  # the database really is down
            for _ in range(3):  # several asks while it is down: each a quick 503, never a 500
                assert answers_503_envelope(api)
            assert not sweep(scaled.settings)
        finally:
            scaled.cluster.start()  # the operator's part ends here: no other step
        wait_for("the API back", lambda: answers_200(api), 60)
        wait_for("every delivery sent", lambda: progress.reached(MESSAGES), FINISH_WITHIN_S)
    assert all(worker.poll() is None for worker in workers)  # the workers lived through it
    assert "Traceback" not in (scaled.home / "serve.log").read_text()  # 503s, not a log flood
    assert_nothing_lost_nothing_doubled(scaled)
