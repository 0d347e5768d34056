"""`GET /metrics`: exact business gauges from seeded rows, latency by route template, who may
scrape, a scrape while the database is down, and one scrape summing two API processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from navreme import __version__, clock, config
from navreme.cases import actions as case_actions
from navreme.cases import sla
from navreme.identity.principal import Principal
from navreme.messaging.models import Delivery, Message
from navreme.rules.models import Offer
from navreme.web import metrics
from tests import factories
from tests.rules_support import published_expiry_rule
from tests.servers.process import any_free_port, port_answers

LOOPBACK = ("127.0.0.1", 50000)
ELSEWHERE = ("203.0.113.7", 50000)  # TEST-NET-3: not loopback
TOKEN = "metrics-token-" + "y" * 30
SYSTEM = Principal(kind="system")  # type: ignore[arg-type]
FRIDAY_15 = datetime(2027, 4, 30, 13, 0, tzinfo=UTC)  # Skopje 15:00; Monday 3 May a holiday
WEDNESDAY_08 = datetime(2027, 5, 5, 6, 0, tzinfo=UTC)
WEDNESDAY_14 = datetime(2027, 5, 5, 12, 0, tzinfo=UTC)  # 6 of 8 working hours used since 08:00

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def app_client(monkeypatch: pytest.MonkeyPatch, *, client: tuple[str, int] = LOOPBACK,
               **env: str) -> TestClient:  # fmt: skip
    """A fresh app seen from `client`, with NAVREME_* overrides (the cache off by default)."""
    from navreme.web.app import create_app

    monkeypatch.setenv("NAVREME_METRICS_CACHE_SECONDS", "0")
    for name, setting in env.items():
        monkeypatch.setenv(f"NAVREME_{name.upper()}", setting)
    config.get_settings.cache_clear()
    return TestClient(create_app(), client=client, raise_server_exceptions=False)


@pytest.fixture
def scraper(settings: config.Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with app_client(monkeypatch) as test_client:
        yield test_client


def scrape(test_client: TestClient, **headers: str) -> Samples:
    response = test_client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


# --- Business gauges ----------------------------------------------------------------------


def _delivery(session: Session, *, lane: str, channel: str, status: str, due_in: timedelta) -> None:
    message = Message(purpose="service", template="t", language="mk", lane=lane)
    session.add(message)
    session.flush()
    session.add(Delivery(message_id=message.id, channel=channel, address="a", lane=lane,
                         status=status, not_before=clock.now() + due_in))  # fmt: skip


def seed_deliveries(session: Session) -> None:
    minute, hour = timedelta(minutes=-1), timedelta(hours=1)
    for lane, channel, status, due_in in (
        ("priority", "sms", "created", minute),
        ("priority", "sms", "created", minute),
        ("priority", "email", "failed-temporary", hour),  # backing off
        ("priority", "sms", "sending", minute),
        ("bulk", "email", "created", minute),
        ("bulk", "email", "delivered", minute),
        ("bulk", "sms", "technical-failure", minute),
    ):
        _delivery(session, lane=lane, channel=channel, status=status, due_in=due_in)
    session.commit()


def seed_offers(session: Session, statuses: tuple[str, ...]) -> None:
    rule = published_expiry_rule(session)
    person = factories.person(session)
    for number, status in enumerate(statuses):
        session.add(Offer(rule_id=rule.id, rule_code=rule.code, person_id=person.id,
                          recipient_id=person.id, period=f"p{number}", service_code="passport",
                          level="offer", status=status, fact_kind="person",
                          as_of=date(2026, 3, 2)))  # fmt: skip
    session.commit()


def seed_cases(session: Session) -> None:
    """One breached and one at-risk case for OPST (waste), one on time, after a sweep."""
    case_actions.load_categories(session)
    factories.municipality(session)
    for received in (FRIDAY_15, WEDNESDAY_08, WEDNESDAY_14):
        submission = case_actions.Submission(
            text="Полн контејнер.", channel="web", category_code="waste",
            municipality_code="MK-101",
        )  # fmt: skip
        with clock.frozen(received):
            case_actions.receive(session, submission, actor=SYSTEM)
    with clock.frozen(WEDNESDAY_14):
        sla.supervise(session)
    session.commit()


def test_business_gauges__exact_counts_of_seeded_rows(
    scraper: TestClient, db_session: Session
) -> None:
    seed_deliveries(db_session)
    seed_offers(db_session, ("pending", "pending", "accepted", "expired"))
    seed_cases(db_session)
    found = scrape(scraper)
    assert value(found, "navreme_database_up") == 1
    assert value(found, "navreme_info", version=__version__) == 1
    queued = {
        (lane, state): value(found, "navreme_deliveries_queued", lane=lane, state=state)
        for lane in ("priority", "bulk") for state in ("due", "waiting", "sending")
    }  # fmt: skip
    assert queued == {
        ("priority", "due"): 2, ("priority", "waiting"): 1, ("priority", "sending"): 1,
        ("bulk", "due"): 1, ("bulk", "waiting"): 0, ("bulk", "sending"): 0,
    }  # fmt: skip
    deliveries = {
        dict(labels)["channel"] + "/" + dict(labels)["status"]: count
        for (name, labels), count in found.items() if name == "navreme_deliveries"
    }  # fmt: skip
    assert deliveries == {
        "sms/created": 2, "sms/sending": 1, "sms/technical-failure": 1,
        "email/failed-temporary": 1, "email/created": 1, "email/delivered": 1,
    }  # fmt: skip
    assert value(found, "navreme_messages", status="active") == 7
    assert value(found, "navreme_messages", status="completed") == 0
    offers = {s: value(found, "navreme_offers", status=s) for s in ("pending", "accepted",
              "expired", "declined", "notified", "completed")}  # fmt: skip
    assert offers == {"pending": 2, "accepted": 1, "expired": 1, "declined": 0, "notified": 0,
                      "completed": 0}  # fmt: skip
    assert value(found, "navreme_cases_sla", department="OPST", state="breached") == 1
    assert value(found, "navreme_cases_sla", department="OPST", state="at_risk") == 1
    assert value(found, "navreme_cases_sla", department="MVR", state="at_risk") == 0


def test_cases_at_risk__the_same_as_the_supervision_view(
    scraper: TestClient, db_session: Session
) -> None:
    published_expiry_rule(db_session)  # the demo departments
    seed_cases(db_session)
    opst = factories.department(db_session, "OPST")
    supervisor = Principal(kind="officer", id=uuid.uuid4(), department_id=opst.id,
                           roles=frozenset({"officer", "supervisor"}))  # fmt: skip
    listed = [case.sla_state for case in sla.at_risk_cases(db_session, supervisor)]
    found = scrape(scraper)
    for state in sla.ESCALATED_STATES:
        counted = value(found, "navreme_cases_sla", department="OPST", state=state)
        assert counted == listed.count(state) == 1


def test_cache__a_second_scrape_within_the_window_reuses_the_counts(
    settings: config.Settings, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_client(monkeypatch, metrics_cache_seconds="3600") as test_client:
        seed_offers(db_session, ("pending",))
        assert value(scrape(test_client), "navreme_offers", status="pending") == 1
        seed_offers(db_session, ("pending",) * 3)  # a second person, three more
        assert value(scrape(test_client), "navreme_offers", status="pending") == 1


# --- Request latency ----------------------------------------------------------------------


def _count(found: Samples, route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return value(found, "navreme_http_request_duration_seconds_count", **labels) or 0


def test_latency__counted_under_the_route_template_never_the_raw_path(
    scraper: TestClient,
) -> None:
    template = "/api/v1/persons/{person_id}"
    before = scrape(scraper)
    person_id, stray = uuid.uuid4(), uuid.uuid4()
    assert scraper.get(f"/api/v1/persons/{person_id}").status_code == 401
    assert scraper.get(f"/no/such/page/{stray}").status_code == 404
    assert scraper.get("/healthz").status_code == 200
    response = scraper.get("/metrics")
    after = samples(response.text)
    assert _count(after, template, "4xx") == _count(before, template, "4xx") + 1
    assert _count(after, "unmatched", "4xx") == _count(before, "unmatched", "4xx") + 1
    assert _count(after, "/healthz", "2xx") == _count(before, "/healthz", "2xx") + 1
    assert str(person_id) not in response.text
    assert str(stray) not in response.text
    buckets = [
        count for (name, labels), count in after.items()
        if name == "navreme_http_request_duration_seconds_bucket"
        and dict(labels)["route"] == "/healthz" and dict(labels)["status"] == "2xx"
    ]  # fmt: skip
    assert max(buckets) == _count(after, "/healthz", "2xx")  # the +Inf bucket holds them all


def test_metrics_route__not_in_the_openapi_schema(scraper: TestClient) -> None:
    paths = scraper.get("/openapi.json").json()["paths"]
    assert "/metrics" not in paths
    assert "/healthz" in paths


# --- Who may scrape -----------------------------------------------------------------------


def test_access__without_a_token__loopback_only(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_client(monkeypatch, client=ELSEWHERE) as remote:
        response = remote.get("/metrics")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    with app_client(monkeypatch, client=("::1", 50000)) as local:
        assert local.get("/metrics").status_code == 200


def test_access__with_a_token__bearer_required_even_on_loopback(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_client(monkeypatch, client=LOOPBACK, metrics_token=TOKEN) as local:
        assert local.get("/metrics").status_code == 401
    with app_client(monkeypatch, client=ELSEWHERE, metrics_token=TOKEN) as remote:
        for wrong in ("", "Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x"):
            response = remote.get("/metrics", headers={"Authorization": wrong})
            assert response.status_code == 401, wrong
            assert response.json()["error"]["code"] == "unauthenticated"
        found = scrape(remote, Authorization=f"Bearer {TOKEN}")
        assert value(found, "navreme_database_up") == 1


# --- Database down ------------------------------------------------------------------------


def test_database_down__scrape_answers_200_with_database_up_0(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_client(monkeypatch) as test_client:
        before = _count(scrape(test_client), "/healthz", "5xx")
        monkeypatch.setenv("NAVREME_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/x")
        config.get_settings.cache_clear()
        assert test_client.get("/healthz").status_code == 503
        found = scrape(test_client)
    assert value(found, "navreme_database_up") == 0
    assert _count(found, "/healthz", "5xx") == before + 1  # request figures still served
    assert value(found, "navreme_info", version=__version__) == 1
    assert not any(name == "navreme_offers" for name, _ in found)


# --- Several API processes ----------------------------------------------------------------


def test_empty_shared_directory__removes_an_earlier_runs_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "prometheus"
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert metrics.empty_shared_directory() is None
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    assert metrics.empty_shared_directory() == shared  # created when missing
    (shared / "histogram_4242.db").write_bytes(b"stale")
    assert metrics.empty_shared_directory() == shared
    assert list(shared.iterdir()) == []


@pytest.fixture
def two_api_processes(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[list[int], Path]]:
    """Two uvicorn processes on one SQLite database, sharing an empty multiprocess directory."""
    shutil.copyfile(sqlite_template, tmp_path / "navreme.db")
    shared = tmp_path / "prometheus"
    env = {
        **os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "NAVREME_ENV": "test",
        "NAVREME_DATABASE_URL": f"sqlite:///{tmp_path / 'navreme.db'}",
        "NAVREME_HOME": str(tmp_path), "NAVREME_SECRET_KEY": "test-secret-" + "x" * 40,
        "NAVREME_METRICS_TOKEN": "", "NAVREME_METRICS_CACHE_SECONDS": "0",
    }  # fmt: skip
    with pytest.MonkeyPatch.context() as scoped:
        scoped.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
        metrics.empty_shared_directory()  # what the cluster does once, at its start
    ports = [any_free_port(), any_free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            log = (tmp_path / f"api-{port}.log").open("wb")
            command = [sys.executable, "-m", "uvicorn", "navreme.web.app:create_app",
                       "--factory", "--host", "127.0.0.1", "--port", str(port),
                       "--log-level", "warning"]  # fmt: skip
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
            log.close()
        deadline = time.monotonic() + 60
        while not all(port_answers(port) for port in ports):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("the API processes did not start (see api-*.log)")
            time.sleep(0.1)
        yield ports, shared
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _healthz_seen(http: httpx.Client, port: int, expected: float) -> float:
    """The summed /healthz count one process reports, polled until it reaches `expected` (a
    process records a request just after its last byte went out, so a scrape may be early)."""
    deadline = time.monotonic() + 10
    while True:
        found = samples(http.get(f"http://127.0.0.1:{port}/metrics").text)
        seen = _count(found, "/healthz", "2xx")
        if seen >= expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_multiprocess__one_scrape_sums_every_api_process(
    two_api_processes: tuple[list[int], Path],
) -> None:
    (first, second), shared = two_api_processes
    with httpx.Client(timeout=10) as http:
        for port, times in ((first, 3), (second, 2)):
            for _ in range(times):
                assert http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert _healthz_seen(http, first, 5) == 5
        assert _healthz_seen(http, second, 5) == 5
        found = samples(http.get(f"http://127.0.0.1:{first}/metrics").text)
    assert value(found, "navreme_database_up") == 1
    assert len(list(shared.glob("histogram_*.db"))) == 2  # one file per process
