"""The Messenger adapter against a fake Send API over real HTTP, and its page webhooks."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import uuid
from collections.abc import Iterator

import pytest

from navreme.messaging.channels import registry
from navreme.messaging.channels.base import (
    BadSignature,
    DeliveryError,
    Handshake,
    Inbound,
    Outgoing,
    Receipt,
    Webhooks,
)
from navreme.messaging.channels.messenger import MessengerChannel
from tests.servers._base import WebhookSink, probe_meta_handshake
from tests.servers.messenger import FakeMessenger

PSID = "6254477777772919"
VERIFY_TOKEN = "navreme-page-verify"


@pytest.fixture
def api() -> Iterator[FakeMessenger]:
    server = FakeMessenger(require_proof=True)
    server.add_person(PSID, "Besnik Rexhepi")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def channel(api: FakeMessenger) -> Iterator[MessengerChannel]:
    adapter = MessengerChannel(
        page_access_token=api.page_access_token,
        app_secret=api.app_secret,
        verify_token=VERIFY_TOKEN,
        base_url=api.url,
        timeout=1.0,
    )
    yield adapter
    adapter.close()


@pytest.fixture
def sink(channel: MessengerChannel) -> Iterator[WebhookSink]:
    server = WebhookSink(on_get=channel.handshake)
    server.start()
    yield server
    server.stop()


def outgoing(
    text: str = "Termini juaj është konfirmuar për të enjten në orën 10:00.", address: str = PSID
) -> Outgoing:
    return Outgoing(attempt_id=uuid.uuid4(), address=address, language="sq", text=text)


def test_send__accepted__returns_mid(channel: MessengerChannel, api: FakeMessenger) -> None:
    accepted = channel.send(outgoing())
    assert accepted.provider_message_id in api.sent_at


def test_send__request__token_proof_and_body(channel: MessengerChannel, api: FakeMessenger) -> None:
    message = outgoing("**Kujdes**: afati është *nesër*.")
    channel.send(message)
    request = api.sent()[0]
    proof = hmac.new(
        api.app_secret.encode(), api.page_access_token.encode(), hashlib.sha256
    ).hexdigest()
    assert request.path == "/v21.0/me/messages"
    assert request.query == {"access_token": api.page_access_token, "appsecret_proof": proof}
    assert request.json() == {
        "recipient": {"id": PSID},
        "messaging_type": "UPDATE",
        "message": {"text": "Kujdes: afati është nesër.", "metadata": str(message.attempt_id)},
    }


def test_send__message_tag__type_and_tag_sent(api: FakeMessenger) -> None:
    adapter = MessengerChannel(
        page_access_token=api.page_access_token,
        app_secret=api.app_secret,
        base_url=api.url,
        messaging_type="MESSAGE_TAG",
        tag="ACCOUNT_UPDATE",
    )
    adapter.send(outgoing())
    adapter.close()
    assert api.sent()[0].json()["tag"] == "ACCOUNT_UPDATE"
    assert api.sent()[0].json()["messaging_type"] == "MESSAGE_TAG"


def test_settings__message_tag_without_tag__refused() -> None:
    with pytest.raises(ValueError, match="MESSAGE_TAG"):
        MessengerChannel(page_access_token="t", messaging_type="MESSAGE_TAG")


def test_send__613_rate_limit_in_a_400__retryable(
    channel: MessengerChannel, api: FakeMessenger
) -> None:
    api.fail_next(1, "rate_limit")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == "613"


def test_send__5xx__retryable(channel: MessengerChannel, api: FakeMessenger) -> None:
    api.fail_next(1, "server_error")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == "2"


def test_send__timeout__retryable_and_token_not_in_message(
    channel: MessengerChannel, api: FakeMessenger
) -> None:
    api.fail_next(1, "slow")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert api.page_access_token not in str(caught.value)


def test_send__person_unavailable__permanent_551(
    channel: MessengerChannel, api: FakeMessenger
) -> None:
    api.unavailable.add(PSID)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is False
    assert caught.value.code == "551/1545041"


def test_send__outside_window__permanent_10(channel: MessengerChannel, api: FakeMessenger) -> None:
    api.fail_next(1, "permanent", code=10)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is False
    assert caught.value.code == "10/2018278"


def test_send__unknown_psid__permanent_100(channel: MessengerChannel) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing(address="1111111111"))
    assert caught.value.retryable is False
    assert caught.value.code == "100/2018001"


def test_send__wrong_app_secret__proof_refused(api: FakeMessenger) -> None:
    adapter = MessengerChannel(
        page_access_token=api.page_access_token, app_secret="not-ours", base_url=api.url
    )
    with pytest.raises(DeliveryError) as caught:
        adapter.send(outgoing())
    adapter.close()
    assert caught.value.retryable is False
    assert caught.value.code == "100"


def test_send__long_text__split_under_2000(channel: MessengerChannel, api: FakeMessenger) -> None:
    text = " ".join(
        ["Ju lutemi sillni dokumentin e identitetit dhe çertifikatën e lindjes."] * 60
    )  # 4,259 chars
    accepted = channel.send(outgoing(text))
    texts = [request.json()["message"]["text"] for request in api.sent()]
    assert len(texts) == 3
    assert all(len(part) <= 2000 for part in texts)
    assert " ".join(texts) == text
    assert accepted.provider_message_id in api.sent_at


def test_send__twenty_threads__twenty_mids(channel: MessengerChannel, api: FakeMessenger) -> None:
    ids: set[str | None] = set()
    lock = threading.Lock()

    def one() -> None:
        accepted = channel.send(outgoing())
        with lock:
            ids.add(accepted.provider_message_id)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 20
    assert ids == set(api.sent_at)


def test_webhook__signed_message__inbound(
    channel: MessengerChannel, api: FakeMessenger, sink: WebhookSink
) -> None:
    api.post_webhook(
        sink.hook_url,
        api.user_message(PSID, "Faleminderit! Дали е потребна и лична карта?", reply_to="m_ours"),
    )
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    [event] = channel.parse(posted.body)
    assert isinstance(event, Inbound)
    assert event.channel == "messenger"
    assert event.sender == PSID
    assert event.text == "Faleminderit! Дали е потребна и лична карта?"
    assert event.provider_message_id.startswith("m_")
    assert event.in_reply_to == "m_ours"


def test_webhook__echo_of_our_message__ignored(
    channel: MessengerChannel, api: FakeMessenger, sink: WebhookSink
) -> None:
    api.post_webhook(sink.hook_url, api.echo(PSID, "Termini juaj është konfirmuar."))
    assert channel.parse(sink.posts[0].body) == []


def test_webhook__delivery__receipt_per_mid(
    channel: MessengerChannel, api: FakeMessenger, sink: WebhookSink
) -> None:
    first, second = channel.send(outgoing()), channel.send(outgoing())
    api.post_webhook(
        sink.hook_url,
        api.delivery(PSID, [str(first.provider_message_id), str(second.provider_message_id)]),
    )
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    receipts = channel.parse(posted.body)
    assert [(r.provider_message_id, r.status) for r in receipts if isinstance(r, Receipt)] == [
        (first.provider_message_id, "delivered"),
        (second.provider_message_id, "delivered"),
    ]


def test_webhook__delivery_watermark_only__no_receipt(
    channel: MessengerChannel, api: FakeMessenger, sink: WebhookSink
) -> None:
    api.post_webhook(sink.hook_url, api.delivery(PSID, None))
    assert channel.parse(sink.posts[0].body) == []


def test_webhook__read__watermark_receipt(
    channel: MessengerChannel, api: FakeMessenger, sink: WebhookSink
) -> None:
    channel.send(outgoing())
    watermark = max(api.sent_at.values())
    api.post_webhook(sink.hook_url, api.read(PSID, watermark))
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    [receipt] = channel.parse(posted.body)
    assert isinstance(receipt, Receipt)
    assert receipt.provider_message_id == f"watermark:{PSID}:{watermark}"
    assert receipt.status == "read"
    assert receipt.at is not None


def test_webhook__missing_signature__bad_signature(
    channel: MessengerChannel, api: FakeMessenger, sink: WebhookSink
) -> None:
    api.post_webhook(sink.hook_url, api.user_message(PSID, "përshëndetje"), sign=False)
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_webhook__wrong_signature__bad_signature(
    channel: MessengerChannel, api: FakeMessenger, sink: WebhookSink
) -> None:
    api.app_secret = "some-other-app"
    api.post_webhook(sink.hook_url, api.user_message(PSID, "përshëndetje"))
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_handshake__right_token__challenge_echoed(sink: WebhookSink) -> None:
    assert probe_meta_handshake(sink.hook_url, VERIFY_TOKEN) is True


def test_handshake__wrong_token__refused(sink: WebhookSink) -> None:
    assert probe_meta_handshake(sink.hook_url, "navreme-page-verify-x") is False


def test_send__one_word_longer_than_limit__cut_inside_it(
    channel: MessengerChannel, api: FakeMessenger
) -> None:
    link = "https://e.gov.mk/" + "a" * 2500
    text = f"Линк: {link}"  # the only space is in the first half of the window: no cut there
    channel.send(outgoing(text))
    texts = [request.json()["message"]["text"] for request in api.sent()]
    assert texts == [text[:2000], text[2000:]]


def test_registry__built_from_settings(api: FakeMessenger) -> None:
    adapter = registry.build(
        "messenger",
        {
            "page_access_token": api.page_access_token,
            "app_secret": api.app_secret,
            "base_url": api.url,
        },
    )
    assert isinstance(adapter, MessengerChannel)
    assert isinstance(adapter, Webhooks)
    assert isinstance(adapter, Handshake)
    adapter.close()


def test_send__httpx_request_log__tokens_redacted(
    channel: MessengerChannel, api: FakeMessenger, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        channel.send(outgoing())
    assert "access_token=[redacted]&appsecret_proof=[redacted]" in caplog.text
    assert api.page_access_token not in caplog.text
