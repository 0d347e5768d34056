"""The Viber adapter against a fake REST Bot API over real HTTP, and its callbacks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from navreme.messaging.channels import registry
from navreme.messaging.channels.base import (
    BadSignature,
    DeliveryError,
    Inbound,
    Outgoing,
    Receipt,
    Webhooks,
)
from navreme.messaging.channels.viber import ViberChannel
from tests.servers._base import WebhookSink
from tests.servers.viber import FakeViber


@pytest.fixture
def api() -> Iterator[FakeViber]:
    server = FakeViber()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def user(api: FakeViber) -> str:
    return api.subscribe("Елена Трајковска")


@pytest.fixture
def channel(api: FakeViber) -> Iterator[ViberChannel]:
    adapter = ViberChannel(
        auth_token=api.auth_token,
        sender_name="Навреме — Општина Центар",
        base_url=api.url,
        timeout=1.0,
    )
    yield adapter
    adapter.close()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    server = WebhookSink()
    server.start()
    yield server
    server.stop()


def outgoing(address: str, text: str = "Вашето барање е одобрено.") -> Outgoing:
    return Outgoing(attempt_id=uuid.uuid4(), address=address, language="mk", text=text)


def test_send__accepted__returns_message_token(
    channel: ViberChannel, api: FakeViber, user: str
) -> None:
    accepted = channel.send(outgoing(user))
    assert accepted.provider_message_id == "5741311803571721087"


def test_send__request__auth_header_and_body(
    channel: ViberChannel, api: FakeViber, user: str
) -> None:
    message = outgoing(user, "**Рок**: [портал](https://e.gov.mk)")
    channel.send(message)
    request = api.sent()[0]
    assert request.path == "/pa/send_message"
    assert request.headers["x-viber-auth-token"] == api.auth_token
    assert request.json() == {
        "receiver": user,
        "min_api_version": 1,
        "sender": {"name": "Навреме — Општина Центар"},
        "tracking_data": str(message.attempt_id),
        "type": "text",
        "text": "Рок: портал (https://e.gov.mk)",
    }


def test_send__long_sender_name__cut_to_28(api: FakeViber, user: str) -> None:
    adapter = ViberChannel(auth_token=api.auth_token, sender_name="Н" * 40, base_url=api.url)
    adapter.send(outgoing(user))
    adapter.close()
    assert api.sent()[0].json()["sender"]["name"] == "Н" * 28


def test_send__status_12__retryable(channel: ViberChannel, api: FakeViber, user: str) -> None:
    api.fail_next(1, "rate_limit")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(user))
    assert caught.value.retryable is True
    assert caught.value.code == "12"


def test_send__5xx_html__retryable(channel: ViberChannel, api: FakeViber, user: str) -> None:
    api.fail_next(1, "server_error")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(user))
    assert caught.value.retryable is True
    assert caught.value.code == "502"


def test_send__timeout__retryable(channel: ViberChannel, api: FakeViber, user: str) -> None:
    api.fail_next(1, "slow")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(user))
    assert caught.value.retryable is True


def test_send__not_subscribed__permanent_6(channel: ViberChannel) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing("bm90LWEtc3Vic2NyaWJlcg=="))
    assert caught.value.retryable is False
    assert caught.value.code == "6"
    assert "receiverNotSubscribed" in str(caught.value)


@pytest.mark.parametrize("status", [5, 7, 11])
def test_send__documented_statuses__permanent(
    channel: ViberChannel, api: FakeViber, user: str, status: int
) -> None:
    api.fail_next(1, "permanent", code=status)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(user))
    assert caught.value.retryable is False
    assert caught.value.code == str(status)


def test_send__undocumented_status__general_error_retryable(
    channel: ViberChannel, api: FakeViber, user: str
) -> None:
    api.fail_next(1, "permanent", code=99)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(user))
    assert caught.value.retryable is True


def test_send__wrong_token__permanent_2(api: FakeViber, user: str) -> None:
    adapter = ViberChannel(auth_token="wrong", sender_name="Навреме", base_url=api.url)
    with pytest.raises(DeliveryError) as caught:
        adapter.send(outgoing(user))
    adapter.close()
    assert caught.value.retryable is False
    assert caught.value.code == "2"


def test_send__long_text__split_under_7000(
    channel: ViberChannel, api: FakeViber, user: str
) -> None:
    text = "\n".join(
        ["Ве известуваме дека рокот за вашиот документ истекува наскоро."] * 250
    )  # 15,999 chars
    accepted = channel.send(outgoing(user, text))
    texts = [request.json()["text"] for request in api.sent()]
    assert len(texts) == 3
    assert all(len(part) <= 7000 for part in texts)
    assert "\n".join(texts) == text
    assert accepted.provider_message_id == "5741311803571721089"


def test_send__twenty_threads__twenty_tokens(
    channel: ViberChannel, api: FakeViber, user: str
) -> None:
    ids: set[str | None] = set()
    lock = threading.Lock()

    def one() -> None:
        accepted = channel.send(outgoing(user))
        with lock:
            ids.add(accepted.provider_message_id)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 20
    assert len(api.sent()) == 20


def test_webhook__signed_message__inbound(
    channel: ViberChannel, api: FakeViber, sink: WebhookSink, user: str
) -> None:
    api.post_webhook(
        sink.hook_url,
        api.user_message(user, "Може ли да го поместам терминот? Faleminderit, ç'mund të bëj?"),
    )
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    [event] = channel.parse(posted.body)
    assert isinstance(event, Inbound)
    assert event.channel == "viber"
    assert event.sender == user
    assert event.sender_name == "Елена Трајковска"
    assert event.text == "Може ли да го поместам терминот? Faleminderit, ç'mund të bëj?"
    assert event.provider_message_id.isdigit()


@pytest.mark.parametrize(
    ("event", "expected"),
    [("delivered", "delivered"), ("seen", "read"), ("failed", "permanent-failure")],
)
def test_webhook__receipts(
    channel: ViberChannel, api: FakeViber, sink: WebhookSink, user: str, event: str, expected: str
) -> None:
    accepted = channel.send(outgoing(user))
    assert accepted.provider_message_id is not None
    api.post_webhook(sink.hook_url, api.receipt(event, int(accepted.provider_message_id), user))
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    [receipt] = channel.parse(posted.body)
    assert isinstance(receipt, Receipt)
    assert receipt.provider_message_id == accepted.provider_message_id
    assert receipt.status == expected
    assert receipt.at is not None


def test_webhook__subscribed__ignored(
    channel: ViberChannel, api: FakeViber, sink: WebhookSink, user: str
) -> None:
    api.post_webhook(sink.hook_url, api.subscribed(user))
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    assert channel.parse(posted.body) == []


def test_webhook__missing_signature__bad_signature(
    channel: ViberChannel, api: FakeViber, sink: WebhookSink, user: str
) -> None:
    api.post_webhook(sink.hook_url, api.user_message(user, "здраво"), sign=False)
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_webhook__other_bots_token__bad_signature(
    channel: ViberChannel, api: FakeViber, sink: WebhookSink, user: str
) -> None:
    api.auth_token = "another-bot-token"
    api.post_webhook(sink.hook_url, api.user_message(user, "здраво"))
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_registry__built_from_settings(api: FakeViber, user: str) -> None:
    adapter = registry.build(
        "viber", {"auth_token": api.auth_token, "sender_name": "Навреме", "base_url": api.url}
    )
    assert adapter.send(outgoing(user)).provider_message_id == "5741311803571721087"
    assert isinstance(adapter, Webhooks)
    adapter.close()
