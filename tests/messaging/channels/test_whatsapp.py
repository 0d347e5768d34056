"""The WhatsApp Cloud API adapter against a fake Graph API over real HTTP, and its webhooks."""

from __future__ import annotations

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
from navreme.messaging.channels.whatsapp import WhatsAppChannel
from tests.servers._base import WebhookSink, probe_meta_handshake
from tests.servers.whatsapp import FakeWhatsApp

WA_ID = "38970123456"
VERIFY_TOKEN = "navreme-verify"


@pytest.fixture
def api() -> Iterator[FakeWhatsApp]:
    server = FakeWhatsApp()
    server.add_user(WA_ID, "Ана Стојановска")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def channel(api: FakeWhatsApp) -> Iterator[WhatsAppChannel]:
    adapter = WhatsAppChannel(
        access_token=api.access_token,
        phone_number_id=api.phone_number_id,
        app_secret=api.app_secret,
        verify_token=VERIFY_TOKEN,
        base_url=api.url,
        timeout=1.0,
    )
    yield adapter
    adapter.close()


@pytest.fixture
def sink(channel: WhatsAppChannel) -> Iterator[WebhookSink]:
    server = WebhookSink(on_get=channel.handshake)
    server.start()
    yield server
    server.stop()


def outgoing(
    text: str = "Вашиот термин е потврден за 14.03 во 10:00.", address: str = "+" + WA_ID
) -> Outgoing:
    return Outgoing(attempt_id=uuid.uuid4(), address=address, language="mk", text=text)


def test_send__accepted__returns_wamid(channel: WhatsAppChannel, api: FakeWhatsApp) -> None:
    accepted = channel.send(outgoing())
    request = api.sent()[0]
    assert accepted.provider_message_id is not None
    assert accepted.provider_message_id.startswith("wamid.")
    assert request.path == f"/v21.0/{api.phone_number_id}/messages"
    assert request.headers["authorization"] == f"Bearer {api.access_token}"


def test_send__body__cloud_api_text_message(channel: WhatsAppChannel, api: FakeWhatsApp) -> None:
    message = outgoing("**Важно**: донесете *лична карта*.")
    channel.send(message)
    assert api.sent()[0].json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_ID,
        "type": "text",
        "text": {"preview_url": False, "body": "*Важно*: донесете _лична карта_."},
        "biz_opaque_callback_data": str(message.attempt_id),
    }


def test_send__reply__context_message_id(channel: WhatsAppChannel, api: FakeWhatsApp) -> None:
    message = Outgoing(
        attempt_id=uuid.uuid4(), address=WA_ID, language="sq", text="Po", reply_to="wamid.ABC"
    )
    channel.send(message)
    assert api.sent()[0].json()["context"] == {"message_id": "wamid.ABC"}


def test_send__130429_throughput__retryable(channel: WhatsAppChannel, api: FakeWhatsApp) -> None:
    api.fail_next(1, "rate_limit")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == "130429"


@pytest.mark.parametrize("code", [4, 80007, 131056])
def test_send__throttling_codes_in_a_400__retryable(
    channel: WhatsAppChannel, api: FakeWhatsApp, code: int
) -> None:
    api.fail_next(1, "rate_limit", code=code)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == str(code)


def test_send__5xx__retryable(channel: WhatsAppChannel, api: FakeWhatsApp) -> None:
    api.fail_next(1, "server_error")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == "131000"


def test_send__timeout__retryable(channel: WhatsAppChannel, api: FakeWhatsApp) -> None:
    api.fail_next(1, "slow")
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is True
    assert caught.value.code == "timeout"


@pytest.mark.parametrize("code", [131026, 131047, 100])
def test_send__permanent_codes__not_retryable(
    channel: WhatsAppChannel, api: FakeWhatsApp, code: int
) -> None:
    api.fail_next(1, "permanent", code=code)
    with pytest.raises(DeliveryError) as caught:
        channel.send(outgoing())
    assert caught.value.retryable is False
    assert caught.value.code == str(code)


def test_send__bad_access_token__permanent_190(api: FakeWhatsApp) -> None:
    adapter = WhatsAppChannel(
        access_token="wrong", phone_number_id=api.phone_number_id, base_url=api.url
    )
    with pytest.raises(DeliveryError) as caught:
        adapter.send(outgoing())
    adapter.close()
    assert caught.value.retryable is False
    assert caught.value.code == "190"


def test_send__long_text__split_under_4096(channel: WhatsAppChannel, api: FakeWhatsApp) -> None:
    text = " ".join(["Ju njoftojmë për afatin e dokumentit tuaj."] * 200)  # 8,799 characters
    accepted = channel.send(outgoing(text))
    bodies = [request.json()["text"]["body"] for request in api.sent()]
    assert len(bodies) == 3
    assert all(len(body) <= 4096 for body in bodies)
    assert " ".join(bodies) == text
    assert accepted.detail.startswith("3 parts: wamid.")


def test_send__twenty_threads__twenty_distinct_wamids(
    channel: WhatsAppChannel, api: FakeWhatsApp
) -> None:
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
    assert len(api.sent()) == 20


def test_webhook__signed_reply__inbound(
    channel: WhatsAppChannel, api: FakeWhatsApp, sink: WebhookSink
) -> None:
    api.post_webhook(
        sink.hook_url,
        api.user_message(
            WA_ID,
            "Ќе дојдам, благодарам! Faleminderit, çdo gjë në rregull.",
            context_id="wamid.OURS",
        ),
    )
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    [event] = channel.parse(posted.body)
    assert isinstance(event, Inbound)
    assert event.channel == "whatsapp"
    assert event.provider_message_id.startswith("wamid.")
    assert event.sender == WA_ID
    assert event.text == "Ќе дојдам, благодарам! Faleminderit, çdo gjë në rregull."
    assert event.sender_name == "Ана Стојановска"
    assert event.in_reply_to == "wamid.OURS"


@pytest.mark.parametrize(
    ("status", "expected"), [("sent", "sent"), ("delivered", "delivered"), ("read", "read")]
)
def test_webhook__status__receipt(
    channel: WhatsAppChannel, api: FakeWhatsApp, sink: WebhookSink, status: str, expected: str
) -> None:
    accepted = channel.send(outgoing())
    assert accepted.provider_message_id is not None
    api.post_webhook(sink.hook_url, api.status(accepted.provider_message_id, status, WA_ID))
    posted = sink.posts[0]
    channel.verify(posted.headers, posted.body)
    [receipt] = channel.parse(posted.body)
    assert isinstance(receipt, Receipt)
    assert receipt.provider_message_id == accepted.provider_message_id
    assert receipt.status == expected
    assert receipt.at is not None


def test_webhook__failed_not_on_whatsapp__permanent_failure_131026(
    channel: WhatsAppChannel, api: FakeWhatsApp, sink: WebhookSink
) -> None:
    accepted = channel.send(outgoing(address="38975999999"))  # accepted, as Meta does, then fails
    assert api.undeliverable == [accepted.provider_message_id]
    api.post_webhook(
        sink.hook_url, api.status(api.undeliverable[0], "failed", "38975999999", error_code=131026)
    )
    [receipt] = channel.parse(sink.posts[0].body)
    assert isinstance(receipt, Receipt)
    assert receipt.status == "permanent-failure"
    assert receipt.error_code == "131026"


def test_webhook__failed_rate_limited__failed_temporary(
    channel: WhatsAppChannel, api: FakeWhatsApp, sink: WebhookSink
) -> None:
    api.post_webhook(sink.hook_url, api.status("wamid.X", "failed", WA_ID, error_code=130429))
    [receipt] = channel.parse(sink.posts[0].body)
    assert isinstance(receipt, Receipt)
    assert receipt.status == "failed-temporary"


def test_webhook__other_phone_number__ignored(api: FakeWhatsApp, sink: WebhookSink) -> None:
    other = WhatsAppChannel(access_token="t", phone_number_id="999", app_secret=api.app_secret)
    api.post_webhook(sink.hook_url, api.user_message(WA_ID, "здраво"))
    assert other.parse(sink.posts[0].body) == []
    other.close()


def test_webhook__missing_signature__bad_signature(
    channel: WhatsAppChannel, api: FakeWhatsApp, sink: WebhookSink
) -> None:
    api.post_webhook(sink.hook_url, api.user_message(WA_ID, "здраво"), sign=False)
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_webhook__wrong_app_secret__bad_signature(
    channel: WhatsAppChannel, api: FakeWhatsApp, sink: WebhookSink
) -> None:
    api.app_secret = "another-app"
    api.post_webhook(sink.hook_url, api.user_message(WA_ID, "здраво"))
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(posted.headers, posted.body)


def test_webhook__body_changed_after_signing__bad_signature(
    channel: WhatsAppChannel, api: FakeWhatsApp, sink: WebhookSink
) -> None:
    api.post_webhook(sink.hook_url, api.user_message(WA_ID, "Ве молам откажете го терминот"))
    posted = sink.posts[0]
    with pytest.raises(BadSignature):
        channel.verify(
            posted.headers, posted.body.replace("откажете".encode(), "потврдете".encode())
        )


def test_handshake__right_token__challenge_echoed(sink: WebhookSink) -> None:
    assert probe_meta_handshake(sink.hook_url, VERIFY_TOKEN) is True


def test_handshake__wrong_token__refused(sink: WebhookSink) -> None:
    assert probe_meta_handshake(sink.hook_url, "guess") is False


def test_handshake__no_verify_token_configured__refused(api: FakeWhatsApp) -> None:
    adapter = WhatsAppChannel(access_token="t", phone_number_id="1")
    assert (
        adapter.handshake({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
        is None
    )
    adapter.close()


def test_registry__built_from_settings(api: FakeWhatsApp) -> None:
    settings = {
        "access_token": api.access_token,
        "phone_number_id": api.phone_number_id,
        "base_url": api.url,
        "api_version": "v22.0",
    }
    adapter = registry.build("whatsapp", settings)
    adapter.send(outgoing())
    assert isinstance(adapter, Webhooks)
    assert isinstance(adapter, Handshake)
    adapter.close()
    assert api.sent()[0].path == f"/v22.0/{api.phone_number_id}/messages"
