"""T05: SIGKILL a worker three times while it delivers 10,000 messages, then let one finish.

Real processes (`navreme worker`), a real queue (Huey on SQLite), a real HTTP gateway that
keeps what it received by Idempotency-Key, the way a citizen's phone shows a message once.
Afterwards: nothing lost (every delivery sent, the gateway holds all 10,000), exactly one
record per message (one delivery, one `sent` event each), and no message shown twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import config, db
from navreme.messaging import actions, dispatch
from navreme.messaging.models import Delivery, DeliveryEvent, Message
from tests.messaging.support import login_code_campaign
from tests.servers.loopback import Gateway, Running

MESSAGES = int(os.environ.get("NAVREME_T05_MESSAGES", "10000"))


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    with Running(Gateway()) as running:
        channels = {"sms": {"adapter": "http", "url": running.url, "timeout": 5}}
        monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(channels))
        monkeypatch.setenv("NAVREME_LEASE_SECONDS", "5")
        monkeypatch.setenv("NAVREME_SWEEP_GRACE_SECONDS", "5")
        config.get_settings.cache_clear()
        actions.reset_channels()
        yield running


def start_worker(home: Path) -> subprocess.Popen[bytes]:
    navreme = Path(sys.executable).parent / "navreme"
    return subprocess.Popen(
        [str(navreme), "worker", "--workers", "4", "--no-periodic"],
        env={**os.environ, "NAVREME_HOME": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def count(session: Session, *where: object) -> int:
    return int(session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0)  # type: ignore[arg-type]


def test_t05_workers_killed_three_times_lose_nothing_and_duplicate_nothing(
    db_session: Session, gateway: Running, settings: config.Settings, tmp_path: Path
) -> None:
    with db.session_scope() as session:
        login_code_campaign(session, MESSAGES)
    rng = random.Random(5)
    kills = 0
    worker = start_worker(tmp_path)
    try:
        while kills < 3:
            time.sleep(rng.uniform(1.0, 3.0))
            if count(db_session, Delivery.status == "sent") >= MESSAGES:
                break
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            kills += 1
            worker = start_worker(tmp_path)
        deadline = time.monotonic() + 600
        while count(db_session, Delivery.status == "sent") < MESSAGES:
            assert time.monotonic() < deadline, "deliveries did not finish"
            with db.session_scope() as session:  # what the periodic sweeper does every minute
                dispatch.sweep(session, settings)
            time.sleep(1.0)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert kills == 3
    assert count(db_session) == MESSAGES
    assert count(db_session, Delivery.status == "sent") == MESSAGES  # 0 lost
    messages = db_session.scalar(select(func.count()).select_from(Message))
    assert messages == MESSAGES  # one message per send, one delivery per message
    sent_events = db_session.execute(
        select(DeliveryEvent.delivery_id, func.count())
        .where(DeliveryEvent.status == "sent")
        .group_by(DeliveryEvent.delivery_id)
        .having(func.count() > 1)
    ).all()
    assert sent_events == []  # exactly one record of sending per message
    assert len(gateway.gateway.received) == MESSAGES  # the citizen's side holds each once
    by_key = {key: body["to"] for key, body in gateway.gateway.received.items()}
    recorded = {
        row.id: row.address for row in db_session.execute(select(Delivery.id, Delivery.address))
    }
    assert {str(k): v for k, v in recorded.items()} == by_key
