"""T11: rate limits — at twice the limit at most limit × 1.05 pass, every refusal is a 429 with
Retry-After; counted in memory (embedded) or in a real Redis shared by every process; sign-in and
SMS fail closed when Redis is unreachable, the ordinary API stays up.

Each test that needs Redis gets a private redis-server on its own port, stopped by its PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pydantic
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.identity.models import OneTimeCode
from navreme.messaging import actions, dispatch
from navreme.messaging.models import Delivery
from navreme.web.app import create_app
from navreme.web.ratelimit import close_storage, storage_for
from tests import factories
from tests.messaging.support import login_code_sms
from tests.servers import process
from tests.servers.loopback import Gateway, Running

REDIS_FIRST_PORT = 16500
OFF = dict.fromkeys(config.DEFAULT_RATE_LIMITS, "")


class PrivateRedis:
    """A redis-server of this test's own, on a loopback port; `stop()` makes it unreachable."""

    def __init__(self, scratch: Path) -> None:
        binary = process.require_binary("redis-server")
        self.port = process.free_port(REDIS_FIRST_PORT)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = scratch / "redis.log"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(scratch)]  # fmt: skip
        self.server = process.start(command, self.log)
        process.wait_until_ready("redis", lambda: process.port_answers(self.port), self.server,
                                 self.log)  # fmt: skip

    def keys(self) -> list[str]:
        with redis.Redis(port=self.port, decode_responses=True) as client:
            return [str(key) for key in client.keys("*")]

    def stop(self) -> None:
        process.stop(self.server)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    scratch = tmp_path / "redis"
    scratch.mkdir()
    server = PrivateRedis(scratch)
    try:
        yield server
    finally:
        server.stop()


def configure(
    monkeypatch: pytest.MonkeyPatch, *, redis_url: str = "", **limits: str
) -> config.Settings:
    """This test's limits (the others off) and where they are counted."""
    monkeypatch.setenv("NAVREME_RATE_LIMITS", json.dumps({**OFF, **limits}))
    monkeypatch.setenv("NAVREME_REDIS_URL", redis_url)
    config.get_settings.cache_clear()
    dispatch.reset_process_state()
    return config.get_settings()


@pytest.fixture(params=["embedded", "redis"])
def counted_in(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """ "" for the embedded mode's memory, else a private Redis's URL."""
    if request.param == "embedded":
        return ""
    server: PrivateRedis = request.getfixturevalue("private_redis")
    return server.url


def app_client() -> TestClient:
    return TestClient(create_app(), raise_server_exceptions=False)


def assert_refusals(responses: list[object], *, limit: int, window_s: int) -> int:
    """Every refusal a 429 in the envelope with a Retry-After inside the window; returns passes."""
    refused = [r for r in responses if r.status_code == 429]  # type: ignore[attr-defined]
    for response in refused:
        retry_after = int(response.headers["Retry-After"])  # type: ignore[attr-defined]
        assert 1 <= retry_after <= window_s
        assert response.json()["error"]["code"] == "rate_limited"  # type: ignore[attr-defined]
    passed = len(responses) - len(refused)
    assert passed <= limit * 1.05
    return passed


# --- T11 at twice the limit ----------------------------------------------------------------


def test_api__twice_the_limit__at_most_the_limit_passes_each_refusal_429_with_retry_after(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch, counted_in: str
) -> None:
    configure(monkeypatch, redis_url=counted_in, api="20/minute")
    with app_client() as client:
        responses = [client.get("/api/v1/me") for _ in range(40)]
        other = client.get("/api/v1/me", headers={"Authorization": "Bearer someone-else"})
        health = client.get("/healthz")
    passed = assert_refusals(responses, limit=20, window_s=60)
    assert passed == 20  # the moving window is exact: no more, and no fewer either
    assert all(r.status_code == 200 for r in responses[:20])
    assert other.status_code == 401  # another client has its own count (its token is unknown)
    assert health.status_code == 200  # operations' probes are not API traffic


def test_code_requests__twice_the_limit__five_codes_sent_then_429(
    db_session: Session, monkeypatch: pytest.MonkeyPatch, counted_in: str
) -> None:
    configure(monkeypatch, redis_url=counted_in, otp_request="5/15minutes")
    person = factories.person(db_session, phone="+38970111222")
    db_session.commit()
    body = {"national_id": person.national_id}
    with app_client() as limited:
        responses = [limited.post("/api/v1/auth/citizen/code", json=body) for _ in range(10)]
    assert assert_refusals(responses, limit=5, window_s=900) == 5
    assert [r.status_code for r in responses[:5]] == [202] * 5
    codes = select(func.count()).select_from(OneTimeCode)
    assert db_session.scalar(codes) == 5  # a refused request sends nothing


def test_code_requests__per_address__many_people_from_one_address_refused(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, otp_request="5/15minutes", otp_request_address="8/15minutes")
    people = [factories.person(db_session) for _ in range(16)]
    db_session.commit()
    with app_client() as limited:
        responses = [
            limited.post("/api/v1/auth/citizen/code", json={"national_id": p.national_id})
            for p in people
        ]
    assert assert_refusals(responses, limit=8, window_s=900) == 8


def test_officer_login__twice_the_limit__429_even_with_the_right_password(
    db_session: Session, monkeypatch: pytest.MonkeyPatch, counted_in: str
) -> None:
    configure(monkeypatch, redis_url=counted_in, login="3/15minutes")
    login = factories.officer(db_session)
    db_session.commit()
    wrong = {"username": login.officer.username, "password": "wrong", "totp": "000000"}
    with app_client() as limited:
        tries = [limited.post("/api/v1/auth/officer/login", json=wrong) for _ in range(3)]
        right = {**wrong, "password": factories.PASSWORD, "totp": login.totp_now}
        after = limited.post("/api/v1/auth/officer/login", json=right)
    assert [t.status_code for t in tries] == [401] * 3
    assert after.status_code == 429
    assert 1 <= int(after.headers["Retry-After"]) <= 900


def test_code_page__over_the_limit__the_429_page_with_retry_after(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, otp_request="1/15minutes")
    person = factories.person(db_session, phone="+38970111333")
    db_session.commit()
    with app_client() as limited:
        form = limited.get("/login/citizen?lang=en").text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        data = {"national_id": person.national_id, "csrf_token": csrf}
        first = limited.post("/login/citizen", data=data, headers={"Accept": "text/html"})
        second = limited.post("/login/citizen", data=data, headers={"Accept": "text/html"})
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["content-type"].startswith("text/html")
    assert "Too many tries" in second.text
    assert 1 <= int(second.headers["Retry-After"]) <= 900
    assert second.headers["X-Frame-Options"] == "DENY"  # hardening wraps refusals too


def test_one_time_code__five_tries_per_code_with_limits_in_redis(
    db_session: Session, monkeypatch: pytest.MonkeyPatch, private_redis: PrivateRedis
) -> None:
    configure(monkeypatch, redis_url=private_redis.url, otp_request="5/15minutes",
              otp_verify="30/15minutes")  # fmt: skip
    person = factories.person(db_session, phone="+38970111444")
    db_session.commit()
    with app_client() as limited:
        body = {"national_id": person.national_id}
        challenge = limited.post("/api/v1/auth/citizen/code", json=body).json()["challenge_id"]
        code = factories.last_code(db_session, "+38970111444")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        verify = "/api/v1/auth/citizen/verify"
        tries = [
            limited.post(verify, json={"challenge_id": challenge, "code": wrong}).status_code
            for _ in range(5)
        ]
        sixth = limited.post(verify, json={"challenge_id": challenge, "code": code})
    assert tries == [401] * 5
    assert sixth.status_code == 401  # the code is burnt: the right one no longer opens it


# --- shared across processes through Redis ---------------------------------------------------


def test_two_app_instances__one_redis__the_second_sees_the_first_ones_hits(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch, private_redis: PrivateRedis
) -> None:
    configure(monkeypatch, redis_url=private_redis.url, api="10/minute")
    with app_client() as first, app_client() as second:
        assert [first.get("/api/v1/me").status_code for _ in range(10)] == [200] * 10
        refused = second.get("/api/v1/me")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_two_app_instances__embedded__each_counts_its_own(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, api="10/minute")
    with app_client() as first, app_client() as second:
        assert [first.get("/api/v1/me").status_code for _ in range(10)] == [200] * 10
        assert second.get("/api/v1/me").status_code == 200  # one process: nothing to share


def test_two_processes__one_redis__share_the_count(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch, private_redis: PrivateRedis
) -> None:
    """Another Python process spends the budget; this process's app then refuses."""
    configure(monkeypatch, redis_url=private_redis.url, api="5/minute")
    spend = (
        "from fastapi.testclient import TestClient\n"
        "from navreme.web.app import create_app\n"
        "with TestClient(create_app()) as c:\n"
        "    print([c.get('/api/v1/me').status_code for _ in range(5)])\n"
    )
    other = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", spend], env=dict(os.environ), capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert other.stdout.strip() == "[200, 200, 200, 200, 200]"
    with app_client() as client:
        assert client.get("/api/v1/me").status_code == 429


def test_redis_keys__hashed__no_personal_number_token_or_address(
    db_session: Session, monkeypatch: pytest.MonkeyPatch, private_redis: PrivateRedis
) -> None:
    configure(monkeypatch, redis_url=private_redis.url, api="100/minute",
              otp_request="5/15minutes", otp_request_address="30/15minutes")  # fmt: skip
    person = factories.person(db_session, phone="+38970111555")
    db_session.commit()
    with app_client() as client:
        client.post("/api/v1/auth/citizen/code", json={"national_id": person.national_id})
        client.get("/api/v1/me", headers={"Authorization": "Bearer secret-token-value"})
    keys = private_redis.keys()
    assert len(keys) == 4  # api ×2 (address, token), otp_request, otp_request_address
    for secret in (person.national_id, "secret-token-value", "testclient"):
        assert not any(secret in key for key in keys)


# --- Redis unreachable: sign-in fails closed, the API stays open ----------------------------


def test_redis_down__sign_in_503_with_retry_after__ordinary_api_served(
    db_session: Session, monkeypatch: pytest.MonkeyPatch, private_redis: PrivateRedis
) -> None:
    configure(monkeypatch, redis_url=private_redis.url, api="100/minute", login="10/15minutes",
              otp_request="5/15minutes", otp_request_address="30/15minutes",
              otp_verify="30/15minutes")  # fmt: skip
    person = factories.person(db_session, phone="+38970111666")
    login = factories.officer(db_session)
    db_session.commit()
    with app_client() as client:
        assert client.get("/api/v1/me").status_code == 200
        private_redis.stop()
        sign_ins = [
            client.post("/api/v1/auth/citizen/code", json={"national_id": person.national_id}),
            client.post("/api/v1/auth/citizen/verify",
                        json={"challenge_id": str(uuid.uuid4()), "code": "123456"}),
            client.post("/api/v1/auth/officer/login",
                        json={"username": login.officer.username,
                              "password": factories.PASSWORD, "totp": login.totp_now}),
        ]  # fmt: skip
        ordinary = [client.get("/api/v1/me"), client.get("/api/v1/departments")]
    for refused in sign_ins:
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "unavailable"
        assert int(refused.headers["Retry-After"]) >= 1
    assert [r.status_code for r in ordinary] == [200, 200]
    assert db_session.scalar(select(func.count()).select_from(OneTimeCode)) == 0


# --- SMS: one rate for all workers, held when Redis is down ---------------------------------


@pytest.fixture
def gateway(settings: config.Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    with Running(Gateway(secret="s3cret")) as running:
        channels = {
            "sms": {"adapter": "http", "url": running.url, "secret": "s3cret", "timeout": 2}
        }
        monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(channels))
        monkeypatch.setenv("NAVREME_CHANNEL_RATES", json.dumps({"sms": 50}))
        config.get_settings.cache_clear()
        actions.reset_channels()
        try:
            yield running
        finally:
            actions.reset_channels()
            dispatch.reset_process_state()


def test_sms__redis_down__nothing_sent_all_held__sent_once_redis_is_back(
    db_session: Session,
    monkeypatch: pytest.MonkeyPatch,
    gateway: Running,
    private_redis: PrivateRedis,
    tmp_path: Path,
) -> None:
    settings = configure(monkeypatch, redis_url=private_redis.url)
    assert isinstance(dispatch.rate_limit("sms", settings), dispatch.SharedRateLimit)
    private_redis.stop()
    ids = login_code_sms(db_session, 3, prefix="+3897100")
    retries = dispatch.deliver(ids)
    assert sum(gateway.gateway.posts.values()) == 0
    assert sorted(r.id for r in retries) == sorted(ids)  # every one rescheduled
    db_session.expire_all()
    held = [db_session.get_one(Delivery, i) for i in ids]
    assert {d.status for d in held} == {"failed-temporary"}
    assert {d.tries for d in held} == {0}  # not a try: the provider was never called
    back = tmp_path / "redis-back"
    back.mkdir()
    revived = PrivateRedis(back)
    try:
        configure(monkeypatch, redis_url=revived.url)
        with clock.frozen(max(r.at for r in retries)):
            dispatch.deliver(ids)
    finally:
        revived.stop()
    db_session.expire_all()
    assert {db_session.get_one(Delivery, i).status for i in ids} == {"sent"}
    assert sorted(gateway.gateway.posts) == sorted(str(i) for i in ids)


def test_sms__embedded__the_rate_is_this_process_bucket(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch, gateway: Running
) -> None:
    assert type(dispatch.rate_limit("sms", configure(monkeypatch))) is dispatch.RateLimit


def test_sms_rate__two_dispatchers_on_one_redis__together_within_the_rate(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch, private_redis: PrivateRedis
) -> None:
    """Two limiters with their own Redis connections (as two worker processes have) take
    tokens as fast as they can for a few seconds; in any one-second window the accepts of
    both together stay within the rate × 1.05. Accepts are stamped as the limiter stamps its
    hits (time.time() as the hit starts), not when the answer arrives."""
    shared = configure(monkeypatch, redis_url=private_redis.url)
    rate = 20
    accepted: list[float] = []
    lock = threading.Lock()
    until = time.time() + 3

    def dispatcher() -> None:
        limit = dispatch.SharedRateLimit("sms", rate, storage_for(shared))
        hit = limit._window.hit

        def stamped_hit(*args: object, **kwargs: object) -> bool:
            stamp = time.time()
            taken = hit(*args, **kwargs)  # type: ignore[arg-type]
            if taken:
                with lock:
                    accepted.append(stamp)
            return taken

        limit._window.hit = stamped_hit  # type: ignore[method-assign]
        try:
            while time.time() < until:
                limit.take(max_wait=0.5)
        finally:
            close_storage(limit.storage)

    workers = [threading.Thread(target=dispatcher) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert len(accepted) > rate  # both ran past the first window
    accepted.sort()
    for n, start in enumerate(accepted):
        in_window = sum(1 for t in accepted[n:] if t < start + 1.0)
        assert in_window <= rate * 1.05


@pytest.mark.parametrize(("per_second", "window"), [(10, (10, 1)), (2.5, (5, 2)), (0.2, (1, 5))])
def test_channel_rate__as_whole_messages_per_whole_seconds(
    per_second: float, window: tuple[int, int]
) -> None:
    assert dispatch._as_window(per_second) == window


# --- settings -------------------------------------------------------------------------------


def test_settings__one_class_overridden__the_others_keep_their_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAVREME_RATE_LIMITS", json.dumps({"api": "50/second"}))
    chosen = config.Settings()
    assert chosen.rate_limits == {**config.DEFAULT_RATE_LIMITS, "api": "50/second"}


def test_settings__bad_notation_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVREME_RATE_LIMITS", json.dumps({"login": "ten a minute"}))
    with pytest.raises(pydantic.ValidationError):
        config.Settings()


def test_settings__redis_for_limits__defaults_to_the_queue_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NAVREME_REDIS_URL", raising=False)
    monkeypatch.setenv("NAVREME_QUEUE_URL", "redis://queue:6379/1")
    assert config.Settings().resolved_redis_url == "redis://queue:6379/1"
    monkeypatch.setenv("NAVREME_REDIS_URL", "redis://limits:6379/2")
    assert config.Settings().resolved_redis_url == "redis://limits:6379/2"
    monkeypatch.setenv("NAVREME_QUEUE_URL", "")
    monkeypatch.setenv("NAVREME_REDIS_URL", "")
    assert config.Settings().resolved_redis_url == ""
