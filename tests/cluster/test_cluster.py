"""The scaled mode's processes for real: 2 API processes, 3 workers, one PostgreSQL, one Redis.

Each API process serves on its own port and round-robin over them; what one process writes the
other reads (nothing is kept in a process); a login code queued through the API is delivered by
a worker process through the fake channel; `down` leaves no process behind and `status` tells a
killed process from a live one.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import cluster as cluster_mode
from navreme import db
from navreme.messaging.models import Delivery
from navreme.registry.models import Person
from tests import factories
from tests.cluster.cluster_fixture import Cluster, running_cluster

pytestmark = pytest.mark.postgres

DELIVERED = {"sent", "delivered", "read"}


@pytest.fixture
def session(cluster: Cluster) -> Iterator[Session]:
    """A session on the cluster's database, for arranging data and checking the outcome."""
    with Session(db.engine_for(cluster.database_url), expire_on_commit=False) as opened:
        yield opened


def _citizen_with_phone(session: Session, phone: str) -> Person:
    row = factories.person(session, phone=phone)
    session.commit()
    return row


def _delivery_to(session: Session, address: str, within_s: float = 60) -> Delivery:
    """Poll the database until a worker has handed the code to the channel."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        session.expire_all()
        found = session.scalars(select(Delivery).where(Delivery.address == address)).first()
        if found is not None and found.status in DELIVERED:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no worker delivered the code to {address} within {within_s} s")


def test_every_api_process_serves_on_its_port_and_round_robin(cluster: Cluster) -> None:
    assert len(cluster.urls) == 2
    assert len({url.rsplit(":", 1)[1] for url in cluster.urls}) == 2
    for url in cluster.urls:
        answer = httpx.get(f"{url}/healthz", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["status"] == "ok"
    with cluster.client() as front:
        answers = [front.get("/healthz") for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert {str(a.url).rsplit(":", 1)[1].split("/")[0] for a in answers} == {
        url.rsplit(":", 1)[1] for url in cluster.urls
    }


def test_a_code_queued_through_one_process_is_delivered_by_a_worker_and_verified_by_the_other(
    cluster: Cluster, session: Session
) -> None:
    first, second = cluster.urls
    phone = "+38970555001"
    citizen = _citizen_with_phone(session, phone)
    challenge = httpx.post(f"{first}/api/v1/auth/citizen/code",
                           json={"national_id": citizen.national_id}, timeout=30)  # fmt: skip
    assert challenge.status_code == 202, challenge.text
    delivery = _delivery_to(session, phone)
    assert delivery.tries >= 1
    code = factories.last_code(session, phone)
    signed_in = httpx.post(
        f"{second}/api/v1/auth/citizen/verify",
        json={"challenge_id": challenge.json()["challenge_id"], "code": code}, timeout=30,
    )  # fmt: skip
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["token"]


def test_a_write_through_one_process_is_read_through_the_other(
    cluster: Cluster, session: Session
) -> None:
    first, second = cluster.urls
    citizen = _citizen_with_phone(session, "+38970555002")
    headers = factories.session_token(session, citizen)
    session.commit()
    chosen = {"timezone": "Europe/Skopje", "quiet_from": "22:30:00", "quiet_until": "07:15:00"}
    written = httpx.put(f"{first}/api/v1/persons/{citizen.id}/contact-settings", json=chosen,
                        headers=headers, timeout=30)  # fmt: skip
    assert written.status_code == 200, written.text
    read = httpx.get(f"{second}/api/v1/persons/{citizen.id}/contact-settings", headers=headers,
                     timeout=30).json()  # fmt: skip
    assert read["default"] is False
    assert (read["quiet_from"], read["quiet_until"]) == ("22:30:00", "07:15:00")


def test_up_refuses_the_embedded_database_and_queue(tmp_path: Path) -> None:
    from navreme.config import Settings

    with pytest.raises(cluster_mode.ClusterError, match="PostgreSQL"):
        cluster_mode.require_scaled_settings(Settings(home=tmp_path, database_url="", queue_url=""))
    with pytest.raises(cluster_mode.ClusterError, match="Redis"):
        cluster_mode.require_scaled_settings(
            Settings(home=tmp_path, database_url="postgresql://postgres@127.0.0.1/x", queue_url="")
        )


def test_cli_up_refuses_sqlite_with_a_plain_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from navreme.cli.main import app
    from navreme.config import get_settings

    monkeypatch.setenv("NAVREME_DATABASE_URL", "")
    monkeypatch.setenv("NAVREME_QUEUE_URL", "")
    monkeypatch.setenv("NAVREME_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["cluster", "up"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "the cluster needs PostgreSQL" in result.output
    assert not (tmp_path / "cluster" / "state.json").exists()


def test_status_sees_a_killed_process_and_down_leaves_none_behind(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """On a cluster of its own: this test kills and stops what it started."""
    lifecycle = running_cluster(request, tmp_path, cluster_mode.Plan(apis=1, workers=2))
    small = next(lifecycle)
    try:
        pids = [m.pid for m in small.state.members]
        assert all(s.alive for s in cluster_mode.status(small.settings))
        victim = small.state.members[-1]
        os.kill(victim.pid, signal.SIGKILL)
        _until(lambda: not cluster_mode.is_alive(victim), "the killed worker still runs")
        seen = {(s.member.role, s.member.index): s for s in cluster_mode.status(small.settings)}
        assert seen[("worker", 1)].alive is False
        assert seen[("worker", 0)].alive is True
        assert (seen[("api", 0)].alive, seen[("api", 0)].health) == (True, "ok")
        stopped = cluster_mode.down(small.settings)
        assert sorted(m.pid for m in stopped) == sorted(p for p in pids if p != victim.pid)
        assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        with pytest.raises(cluster_mode.ClusterError, match="no cluster state"):
            cluster_mode.status(small.settings)
    finally:
        lifecycle.close()


def _until(condition: object, message: str, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(message)
