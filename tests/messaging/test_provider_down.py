"""T07: a provider that is down, slow to recover or refusing — through real HTTP.

Retries happen only for retryable answers, with capped exponential backoff and jitter (or the
provider's Retry-After); the circuit opens so a dead provider is not hammered; a delivery
whose tries run out ends `technical-failure`, visible to officers; nothing stays `sending`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from navreme import clock, config
from navreme.messaging import actions, dispatch
from navreme.messaging.models import Delivery, Message
from tests.messaging.support import login_code_sms as sms
from tests.servers.loopback import Gateway, Running

NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    with Running(Gateway(secret="s3cret")) as running:
        channels = {
            "sms": {"adapter": "http", "url": running.url, "secret": "s3cret", "timeout": 2}
        }
        monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(channels))
        monkeypatch.setenv("NAVREME_BREAKER_THRESHOLD", "3")
        monkeypatch.setenv("NAVREME_MAX_TRIES", "4")
        config.get_settings.cache_clear()
        actions.reset_channels()
        yield running


def statuses(session: Session, ids: list[uuid.UUID]) -> list[str]:
    session.expire_all()
    return [session.get_one(Delivery, i).status for i in ids]


def test_a_refusal_is_not_retried(db_session: Session, gateway: Running) -> None:
    gateway.gateway.fail(1, status=400)
    with clock.frozen(NOON):
        [one] = sms(db_session, 1)
        dispatch.deliver([one])
    delivery = db_session.get_one(Delivery, one)
    assert delivery.status == "permanent-failure"
    assert delivery.error_code == "400"
    assert sum(gateway.gateway.posts.values()) == 0  # the refused request never counted as taken
    message = db_session.get_one(Message, delivery.message_id)
    assert message.status == "exhausted"


def test_retry_after_is_honoured(db_session: Session, gateway: Running) -> None:
    gateway.gateway.fail(1, status=429, retry_after="120")
    with clock.frozen(NOON):
        [one] = sms(db_session, 1)
        dispatch.deliver([one])
    delivery = db_session.get_one(Delivery, one)
    assert delivery.status == "failed-temporary"
    assert delivery.not_before >= NOON + timedelta(seconds=120)
    with clock.frozen(delivery.not_before):
        dispatch.deliver([one])
    assert statuses(db_session, [one]) == ["sent"]
    assert gateway.gateway.received[str(one)]["to"] == "+38970000000"


def test_a_provider_down_opens_the_circuit_and_ends_in_technical_failure(
    db_session: Session, gateway: Running
) -> None:
    gateway.gateway.fail(10_000, status=503)
    with clock.frozen(NOON):
        ids = sms(db_session, 10)
    at = NOON
    calls_before_open = None
    for _round in range(40):
        with clock.frozen(at):
            due = [i for i, s in zip(ids, statuses(db_session, ids), strict=True)
                   if s in ("created", "failed-temporary")]  # fmt: skip
            dispatch.deliver(due)
        if calls_before_open is None:
            calls_before_open = 10_000 - gateway.gateway.fail_next
        db_session.expire_all()
        pending = [db_session.get_one(Delivery, i) for i in ids]
        waiting = [d.not_before for d in pending if d.status == "failed-temporary"]
        if not waiting:
            break
        # the breaker's cool-down is in real seconds; let it pass as if time went by
        dispatch.reset_process_state()
        at = max(waiting)
    assert calls_before_open == 3  # the circuit opened after three failures in a row
    assert set(statuses(db_session, ids)) == {"technical-failure"}
    assert db_session.scalar(select(func.count()).where(Delivery.status == "sending")) == 0
    tries = {db_session.get_one(Delivery, i).tries for i in ids}
    assert tries == {4}


def test_the_gateway_unreachable_is_retryable(db_session: Session, gateway: Running) -> None:
    gateway.__exit__(None, None, None)  # the gateway goes away
    with clock.frozen(NOON):
        [one] = sms(db_session, 1)
        dispatch.deliver([one])
    delivery = db_session.get_one(Delivery, one)
    assert delivery.status == "failed-temporary"
    assert delivery.error is not None
    assert "unreachable" in delivery.error


def test_a_gateway_with_a_bulk_api_gets_a_batch_in_one_call(
    db_session: Session, gateway: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = {"sms": {"adapter": "http", "url": gateway.url, "secret": "s3cret",
                        "batch_url": gateway.url + "/batch"}}  # fmt: skip
    monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(channels))
    config.get_settings.cache_clear()
    actions.reset_channels()
    with clock.frozen(NOON):
        ids = sms(db_session, 10)
        gateway.gateway.fail(1, status=503)  # the first bulk call fails as a whole
        dispatch.deliver(ids)
        assert set(statuses(db_session, ids)) == {"failed-temporary"}
    at = max(db_session.get_one(Delivery, i).not_before for i in ids)
    with clock.frozen(at):
        dispatch.deliver(ids)
    assert set(statuses(db_session, ids)) == {"sent"}
    assert len(gateway.gateway.received) == 10
    delivery = db_session.get_one(Delivery, ids[3])
    assert delivery.provider_message_id == f"gw-{ids[3]}"
    assert gateway.gateway.received[str(ids[3])]["to"] == "+38970000003"


class _Slow(Gateway):
    """Holds each request a moment and counts how many are in flight; refuses one address."""

    in_flight: int = 0
    most: int = 0

    async def message(self, request: Request) -> Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            if json.loads(await request.body())["to"] == "+38970000004":
                return JSONResponse({"error": "no such number"}, status_code=400)
            return await super().message(request)
        finally:
            self.in_flight -= 1


def test_without_a_bulk_api_a_batch_goes_as_concurrent_requests_one_per_message(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = _Slow(secret="s3cret")
    with Running(slow) as running:
        channels = {"sms": {"adapter": "http", "url": running.url, "secret": "s3cret",
                            "timeout": 5, "max_connections": 4}}  # fmt: skip
        monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(channels))
        config.get_settings.cache_clear()
        actions.reset_channels()
        with clock.frozen(NOON):
            ids = sms(db_session, 12)
            dispatch.deliver(ids)
    got = dict(zip(ids, statuses(db_session, ids), strict=True))
    assert got.pop(ids[4]) == "permanent-failure"  # its own answer, not the batch's
    assert set(got.values()) == {"sent"}
    assert 1 < slow.most <= 4  # in flight together, never more than the pool allows
    assert sorted(slow.posts.values()) == [1] * 11  # one request per message, each once
    delivery = db_session.get_one(Delivery, ids[7])
    assert delivery.provider_message_id == f"gw-{ids[7]}"
    assert slow.received[str(ids[7])]["to"] == "+38970000007"
