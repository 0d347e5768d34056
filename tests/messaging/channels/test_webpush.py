"""Web push against a loopback push service that verifies VAPID and decrypts like a real one."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from navreme.messaging.channels.base import DeliveryError, Outgoing
from navreme.messaging.channels.registry import build
from navreme.messaging.channels.webpush import WebPushChannel
from tests.servers.push_service import PushService, new_vapid_key

pytestmark = pytest.mark.integration

SUBJECT = "mailto:notices@navreme.example"


@pytest.fixture
def service() -> Iterator[PushService]:
    running = PushService().start()
    try:
        httpx.get(f"{running.origin}/", timeout=5).raise_for_status()
        yield running
    finally:
        running.stop()


@pytest.fixture
def vapid() -> tuple[str, str]:
    return new_vapid_key()


@pytest.fixture
def channel(vapid: tuple[str, str]) -> Iterator[WebPushChannel]:
    adapter = WebPushChannel(vapid_private_key=vapid[0], vapid_subject=SUBJECT, timeout=5)
    yield adapter
    adapter.close()


@pytest.fixture
def subscription(service: PushService, vapid: tuple[str, str]) -> dict[str, Any]:
    return service.subscribe(server_key=vapid[1])


def notice(subscription: dict[str, Any], **overrides: Any) -> Outgoing:
    values: dict[str, Any] = {
        "attempt_id": uuid.uuid4(),
        "address": json.dumps(subscription),
        "language": "mk",
        "subject": "Вашата лична карта истекува",
        "text": "Закажете термин во Скопје. Ju lutem rezervoni një termin.",
    }
    return Outgoing(**(values | overrides))


def test_send__push_service_verifies_vapid_and_decrypts_title_and_body(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    message = notice(subscription)
    accepted = channel.send(message)
    (delivered,) = service.received
    assert delivered.json() == {"title": message.subject, "body": message.text}
    assert accepted.provider_message_id == f"{service.origin}/message/1"
    assert delivered.claims["sub"] == SUBJECT
    assert delivered.headers["ttl"] == "86400"
    assert delivered.headers["topic"] == message.attempt_id.hex


def test_send__retry_of_an_attempt_carries_the_same_topic(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    message = notice(subscription)
    channel.send(message)
    channel.send(message)
    topics = {delivered.headers["topic"] for delivered in service.received}
    assert topics == {message.attempt_id.hex}


def test_send__ttl_setting_reaches_the_push_service(
    vapid: tuple[str, str], service: PushService, subscription: dict[str, Any]
) -> None:
    adapter = build("webpush", {"vapid_private_key": vapid[0], "vapid_subject": SUBJECT, "ttl": 60})
    try:
        adapter.send(notice(subscription))
    finally:
        adapter.close()
    assert service.received[0].headers["ttl"] == "60"


@pytest.mark.parametrize("status", [404, 410])
def test_send__subscription_gone__permanent(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any], status: int
) -> None:
    service.answer_next(status)
    with pytest.raises(DeliveryError) as failure:
        channel.send(notice(subscription))
    assert failure.value.retryable is False
    assert failure.value.code == "gone"


def test_send__unknown_endpoint_on_the_service__permanent(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    unknown = subscription | {"endpoint": f"{service.origin}/push/unsubscribed"}
    with pytest.raises(DeliveryError) as failure:
        channel.send(notice(unknown))
    assert failure.value.code == "gone"


def test_send__429_with_retry_after__retryable_after_that_delay(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    service.answer_next(429, {"Retry-After": "7"})
    with pytest.raises(DeliveryError) as failure:
        channel.send(notice(subscription))
    assert failure.value.retryable is True
    assert failure.value.retry_after == 7.0


def test_send__500__retryable(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    service.answer_next(500)
    with pytest.raises(DeliveryError) as failure:
        channel.send(notice(subscription))
    assert failure.value.retryable is True
    assert service.received == []


def test_send__key_other_than_the_subscriptions__refused_403_permanent(
    service: PushService, subscription: dict[str, Any]
) -> None:
    stranger = WebPushChannel(vapid_private_key=new_vapid_key()[0], vapid_subject=SUBJECT)
    try:
        with pytest.raises(DeliveryError) as failure:
            stranger.send(notice(subscription))
    finally:
        stranger.close()
    assert failure.value.retryable is False
    assert service.refused == [(403, "key is not the subscription's application server key")]


def test_push_service__forged_signature__refused_401(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    channel.send(notice(subscription))
    token, _, key = service.received[0].headers["authorization"].partition(",k=")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    answer = httpx.post(
        subscription["endpoint"],
        headers={"Authorization": f"{forged},k={key}", "TTL": "60"},
        content=b"x",
        timeout=5,
    )
    assert answer.status_code == 401
    assert service.refused == [(401, "bad signature")]


def test_send__service_not_listening__retryable(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    service.stop()
    with pytest.raises(DeliveryError) as failure:
        channel.send(notice(subscription))
    assert failure.value.retryable is True
    assert failure.value.code == "network"


def test_send__service_too_slow__retryable_timeout(
    vapid: tuple[str, str], service: PushService, subscription: dict[str, Any]
) -> None:
    impatient = WebPushChannel(vapid_private_key=vapid[0], vapid_subject=SUBJECT, timeout=0.2)
    service.stall_next(1.0)
    try:
        with pytest.raises(DeliveryError) as failure:
            impatient.send(notice(subscription))
    finally:
        impatient.close()
    assert failure.value.code == "timeout"
    assert failure.value.retryable is True


@pytest.mark.parametrize(
    "address",
    [
        "not json",
        json.dumps({"endpoint": "https://push.example/x"}),
        json.dumps({"endpoint": "http://push.example/x", "keys": {"p256dh": "a", "auth": "b"}}),
        json.dumps({"endpoint": "https://push.example/x", "keys": {"p256dh": "a", "auth": "b"}}),
        json.dumps({"endpoint": "https://push.example/x", "keys": {"p256dh": 7, "auth": "b"}}),
        json.dumps(["https://push.example/x"]),
    ],
    ids=[
        "not-json",
        "no-keys",
        "plain-http-off-loopback",
        "keys-not-a-point",
        "key-not-text",
        "a-list",
    ],
)
def test_send__unusable_subscription__permanent_without_a_request(
    channel: WebPushChannel, service: PushService, address: str
) -> None:
    with pytest.raises(DeliveryError) as failure:
        channel.send(notice({}, address=address))
    assert failure.value.code == "bad-address"
    assert service.refused == []


def test_send__long_text__shortened_to_fit_one_push_message(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    channel.send(notice(subscription, text="Почитувани граѓани, " * 400))
    body = service.received[0].json()["body"]
    assert body.endswith("…")
    assert body.startswith("Почитувани граѓани, ")
    assert len(service.received[0].plaintext) <= 3900


def test_send__from_many_threads__every_message_arrives_once(
    channel: WebPushChannel, service: PushService, subscription: dict[str, Any]
) -> None:
    messages = [notice(subscription, text=f"порака {n}") for n in range(12)]
    threads = [threading.Thread(target=channel.send, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = sorted(delivered.json()["body"] for delivered in service.received)
    assert bodies == sorted(m.text for m in messages)


def test_settings__subject_must_be_mailto_or_https(vapid: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="vapid_subject"):
        WebPushChannel(vapid_private_key=vapid[0], vapid_subject="notices@navreme.example")
