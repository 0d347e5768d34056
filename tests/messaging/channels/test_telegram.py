"""The Telegram adapter against a fake Bot API over real HTTP, and its webhook parsing."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

from navreme.messaging.channels import registry
from navreme.messaging.channels.base import BadSignature, DeliveryError, Inbound, Outgoing, Webhooks
from navreme.messaging.channels.telegram import TelegramChannel
from tests.servers._base import WebhookSink
from tests.servers.telegram import FakeTelegram

CHAT = 5550001
MK_TEXT = "Вашата лична карта истекува на 12.03. Закажете термин."


@pytest.fixture
def api() -> Iterator[FakeTelegram]:
    server = FakeTelegram()
    server.add_chat(CHAT, "Марија", "Петровска")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    server = WebhookSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def channel(api: FakeTelegram) -> Iterator[TelegramChannel]:
    adapter = TelegramChannel(
        token=api.token, secret_token=api.secret_token, base_url=api.url, timeout=1.0
    )
    yield adapter
    adapter.close()


def outgoing(
    text: str = MK_TEXT, address: str = str(CHAT), reply_to: str | None = None
) -> Outgoing:
    return Outgoing(
        attempt_id=uuid.uuid4(), address=address, language="mk", text=text, reply_to=reply_to
    )


def test_send__accepted__returns_chat_and_message_id(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    accepted = channel.send(outgoing())
    assert accepted.provider_message_id == f"{CHAT}:1"


def test_send__request__token_in_path_and_html_text(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    channel.send(outgoing("**Важно**: рок <3 дена> & [портал](https://e.gov.mk)"))
    request = api.sent()[0]
    assert request.path == f"/bot{api.token}/sendMessage"
    assert request.json() == {
        "chat_id": str(CHAT),
        "text": '<b>Важно</b>: рок &lt;3 дена&gt; &amp; <a href="https://e.gov.mk">портал</a>',
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }


def test_send__plain_mode__text_unchanged_and_no_parse_mode(api: FakeTelegram) -> None:
    adapter = TelegramChannel(token=api.token, base_url=api.url, parse_mode="")
    adapter.send(outgoing("**Faleminderit** për përgjigjen, çështja është mbyllur."))
    adapter.close()
    assert api.sent()[0].json()["text"] == "**Faleminderit** për përgjigjen, çështja është mbyllur."
    assert "parse_mode" not in api.sent()[0].json()


def test_send__reply_to_our_message__reply_parameters(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    channel.send(outgoing(reply_to=f"{CHAT}:41"))
    assert api.sent()[0].json()["reply_parameters"] == {
        "message_id": 41,
        "allow_sending_without_reply": True,
    }


def test_send__429__retryable_with_retry_after(channel: TelegramChannel, api: FakeTelegram) -> None:
    api.fail_next(1, "rate_limit", retry_after=34)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.retry_after == 34
    assert caught.value.code == "429"


def test_send__5xx__retryable(channel: TelegramChannel, api: FakeTelegram) -> None:
    api.fail_next(1, "server_error")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == "502"


def test_send__timeout__retryable_and_token_not_in_message(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    api.fail_next(1, "slow")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == "timeout"
    assert api.token not in str(caught.value)


def test_send__nothing_listening__retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    adapter = TelegramChannel(token="1:x", base_url=f"http://127.0.0.1:{closed_port}", timeout=1.0)
    with pytest.raises(DeliveryError) as caught:
        adapter.send(outgoing())
    adapter.close()
    assert caught.value.retryable is True
    assert caught.value.code == "connection"


def test_send__bot_blocked__permanent_403(channel: TelegramChannel, api: FakeTelegram) -> None:
    api.block(CHAT)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is False
    assert caught.value.code == "403"
    assert "blocked" in str(caught.value)


def test_send__unknown_chat__permanent_400(channel: TelegramChannel) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(address="999"))
    assert caught.value.retryable is False
    assert caught.value.code == "400"
    assert "chat not found" in str(caught.value)


def test_send__wrong_token__permanent_401(api: FakeTelegram) -> None:
    adapter = TelegramChannel(token="123456:wrong", base_url=api.url)
    with pytest.raises(DeliveryError) as caught:
        adapter.send(outgoing())
    adapter.close()
    assert caught.value.retryable is False
    assert caught.value.code == "401"


def test_send__long_text__split_at_paragraphs_under_4096(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    paragraph = "Почитувани, " + "ова е долг пасус за вашиот предмет. " * 35
    text = "\n\n".join([paragraph.strip()] * 8)  # 10,182 characters: 3 + 3 + 2 paragraphs
    accepted = channel.send(outgoing(text))
    texts = [request.json()["text"] for request in api.sent()]
    assert len(texts) == 3
    assert all(len(part) <= 4096 for part in texts)
    assert "\n\n".join(texts) == text
    assert accepted.provider_message_id == f"{CHAT}:3"
    assert accepted.detail == f"3 parts: {CHAT}:1 {CHAT}:2 {CHAT}:3"


def test_send__emoji__limit_counted_in_utf16_units(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    channel.send(outgoing("📅" * 3000))  # 6,000 UTF-16 units: two messages, not one rejected
    assert [len(request.json()["text"]) for request in api.sent()] == [2048, 952]


def test_send__part_fails_then_retried__sent_parts_not_repeated(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    parts = ["ж" * 4000, "з" * 4000, "ѕ" * 4000]
    message = outgoing("\n\n".join(parts))
    api.fail_next(1, "server_error", after=1)  # part 1 goes through, part 2 meets a 502
    with pytest.raises(DeliveryError):
        channel.send(message)
    accepted = channel.send(message)  # the worker's retry: same adapter, same attempt id
    texts = [request.json()["text"] for request in api.sent()]
    assert texts == [parts[0], parts[1], parts[1], parts[2]]
    assert accepted.provider_message_id == f"{CHAT}:3"


def test_send__twenty_threads__twenty_distinct_messages(
    channel: TelegramChannel, api: FakeTelegram
) -> None:
    ids: list[str | None] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        accepted = channel.send(outgoing(f"Порака {index}"))
        with lock:
            ids.append(accepted.provider_message_id)

    threads = [threading.Thread(target=one, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 20
    assert sorted(request.json()["text"] for request in api.sent()) == sorted(
        f"Порака {i}" for i in range(20)
    )


def test_webhook__signed_reply__inbound_with_cyrillic(
    channel: TelegramChannel, api: FakeTelegram, sink: WebhookSink
) -> None:
    answer = api.post_webhook(
        sink.hook_url, api.user_message(CHAT, "Благодарам, ќе дојдам во четврток.", reply_to=1)
    )
    assert answer.status_code == 200
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    [event] = channel.parse(posted.body)
    assert isinstance(event, Inbound)
    assert event.provider_message_id == f"{CHAT}:1"
    assert event.sender == str(CHAT)
    assert event.text == "Благодарам, ќе дојдам во четврток."
    assert event.sender_name == "Марија Петровска"
    assert event.in_reply_to == f"{CHAT}:1"
    assert event.received_at is not None


def test_webhook__albanian_text__kept_exactly(
    channel: TelegramChannel, api: FakeTelegram, sink: WebhookSink
) -> None:
    api.post_webhook(
        sink.hook_url,
        api.user_message(CHAT, "Faleminderit, do të vij të enjten në orën 10; ç'dokumente duhen?"),
    )
    [event] = channel.parse(sink.posts[0].body)
    assert isinstance(event, Inbound)
    assert event.text == "Faleminderit, do të vij të enjten në orën 10; ç'dokumente duhen?"
    assert event.in_reply_to is None


def test_webhook__missing_secret__bad_signature(
    channel: TelegramChannel, api: FakeTelegram, sink: WebhookSink
) -> None:
    api.post_webhook(sink.hook_url, api.user_message(CHAT, "здраво"), sign=False)
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_webhook__wrong_secret__bad_signature(
    channel: TelegramChannel, api: FakeTelegram, sink: WebhookSink
) -> None:
    api.secret_token = "someone-else"
    api.post_webhook(sink.hook_url, api.user_message(CHAT, "здраво"))
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_webhook__no_secret_configured__every_webhook_refused(
    api: FakeTelegram, sink: WebhookSink
) -> None:
    adapter = TelegramChannel(token=api.token, base_url=api.url)
    api.post_webhook(sink.hook_url, api.user_message(CHAT, "здраво"))
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        adapter.verify(posted.headers, posted.body)
    adapter.close()


def test_parse__edited_message_and_sticker__ignored(channel: TelegramChannel) -> None:
    edited = (
        b'{"update_id":1,"edited_message":{"message_id":2,"chat":{"id":5},"date":1,"text":"x"}}'
    )
    sticker = b'{"update_id":2,"message":{"message_id":3,"chat":{"id":5},"date":1,"sticker":{}}}'
    assert channel.parse(edited) == []
    assert channel.parse(sticker) == []


def test_registry__built_from_settings(api: FakeTelegram) -> None:
    adapter = registry.build(
        "telegram", {"token": api.token, "secret_token": api.secret_token, "base_url": api.url}
    )
    assert adapter.send(outgoing()).provider_message_id == f"{CHAT}:1"
    assert isinstance(adapter, Webhooks)
    adapter.close()


def test_send__httpx_request_log__token_redacted(
    channel: TelegramChannel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        channel.send(outgoing())
    assert "/bot[redacted]/sendMessage" in caplog.text
    assert "test-token" not in caplog.text
