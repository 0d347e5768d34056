"""The Apprise adapter end to end: Apprise's json:// and form:// services POST to a real server."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from navreme.messaging.channels import registry
from navreme.messaging.channels.apprise import AppriseChannel
from navreme.messaging.channels.base import Attachment, DeliveryError, Outgoing
from tests.servers.apprise_target import AppriseTarget
from tests.servers.smtp import free_port

pytestmark = pytest.mark.integration

NUMBER = "+38970123456"
INVITE = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def outgoing(**fields: object) -> Outgoing:
    values: dict[str, object] = {
        "attempt_id": uuid.uuid4(),
        "address": NUMBER,
        "language": "mk",
        "text": "**Важно**: вашата лична карта истекува.\n\nЗакажете термин.",
        "subject": "Лична карта\n",
    }
    return Outgoing(**(values | fields))  # type: ignore[arg-type]


@pytest.fixture
def target() -> Iterator[AppriseTarget]:
    with AppriseTarget() as running:
        yield running


def test_send__json_service__title_body_and_address_arrive(target: AppriseTarget) -> None:
    channel = AppriseChannel(f"json://{target.url}/notify/{{address}}")
    accepted = channel.send(outgoing())
    (request,) = target.received
    payload = request.json()
    assert request.path == f"/notify/{NUMBER}"
    assert payload["title"] == "Лична карта"
    assert payload["message"] == "**Важно**: вашата лична карта истекува.\n\nЗакажете термин."
    assert payload["type"] == "info"
    assert accepted.provider_message_id is None  # Apprise gives no message id


def test_send__json_service__attachment_arrives_base64(target: AppriseTarget) -> None:
    channel = AppriseChannel(f"json://{target.url}/notify/{{address}}")
    invite = Attachment("termin.ics", "text/calendar; method=REQUEST", INVITE)
    channel.send(outgoing(attachments=(invite,)))
    (sent,) = target.received[0].json()["attachments"]
    assert sent["filename"] == "termin.ics"
    assert sent["mimetype"] == "text/calendar"
    assert base64.b64decode(sent["base64"]) == INVITE


def test_send__form_service__fields_and_file_arrive(target: AppriseTarget) -> None:
    channel = AppriseChannel(f"form://{target.url}/hook?:to={{address}}", body_format="text")
    invite = Attachment("termin.ics", "text/calendar", INVITE)
    channel.send(outgoing(attachments=(invite,)))
    form = target.received[0].form()
    assert form["to"] == NUMBER
    assert form["title"] == "Лична карта"
    assert form["message"] == "**Важно**: вашата лична карта истекува.\n\nЗакажете термин."
    assert INVITE in form.values()


def test_send__address_with_url_characters__stays_one_path_segment(target: AppriseTarget) -> None:
    channel = AppriseChannel(f"json://{target.url}/notify/{{address}}")
    channel.send(outgoing(address="a/b?c=d&method=GET"))
    (request,) = target.received
    assert request.method == "POST"
    assert "?" not in request.path
    assert unquote(request.path) == "/notify/a/b?c=d&method=GET"


@pytest.mark.parametrize("status", [500, 503, 429, 400])
def test_send__service_refuses__retryable_because_apprise_says_only_failure(
    target: AppriseTarget, status: int
) -> None:
    target.answer_next(status)
    channel = AppriseChannel(f"json://{target.url}/notify/{{address}}")
    with pytest.raises(DeliveryError) as failed:
        channel.send(outgoing())
    assert failed.value.retryable is True
    assert failed.value.code == "FAILURE"
    assert NUMBER not in str(failed.value)


def test_send__nothing_listening__retryable() -> None:
    channel = AppriseChannel(f"json://127.0.0.1:{free_port()}/notify/{{address}}?cto=2")
    with pytest.raises(DeliveryError) as failed:
        channel.send(outgoing())
    assert failed.value.retryable is True


def test_send__service_hangs__read_timeout_retryable(target: AppriseTarget) -> None:
    target.hold_requests()
    channel = AppriseChannel(f"json://{target.url}/notify/{{address}}?rto=0.5")
    with pytest.raises(DeliveryError) as failed:
        channel.send(outgoing())
    assert failed.value.retryable is True


def test_send__address_that_makes_no_valid_url__permanent() -> None:
    channel = AppriseChannel("discord://{address}")  # a webhook needs an id and a token
    with pytest.raises(DeliveryError) as failed:
        channel.send(outgoing(address="12345"))
    assert failed.value.retryable is False
    assert failed.value.code == "invalid-address"


def test_settings__built_through_the_registry(target: AppriseTarget) -> None:
    channel = registry.build(
        "apprise", {"url_template": f"json://{target.url}/x/{{address}}", "body_format": "text"}
    )
    channel.send(outgoing())
    channel.close()
    assert target.received[0].path == f"/x/{NUMBER}"


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"url_template": "json://127.0.0.1/fixed"}, "{address}"),
        ({"url_template": "nosuchservice://host/{address}"}, "no service"),
        ({"url_template": "json://h/{address}", "body_format": "rtf"}, "body_format"),
    ],
)
def test_settings__wrong__refused_at_start(options: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        AppriseChannel(**options)
