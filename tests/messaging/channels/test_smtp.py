"""The SMTP adapter against a real SMTP server (aiosmtpd): what lands, and how refusals read.

Every message is read back from the server's Maildir with the email package, the way a
recipient's mail client would read it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from navreme import clock, config
from navreme.messaging.channels import registry
from navreme.messaging.channels.base import Attachment, DeliveryError, Outgoing
from navreme.messaging.channels.smtp import SmtpChannel
from tests.servers.smtp import (
    SmtpServer,
    free_port,
    self_signed_certificate,
    server_tls_context,
    silent_listener,
)

pytestmark = pytest.mark.integration

SENDER = "Управа за јавни услуги <navreme@uprava.example.mk>"
CITIZEN = "citizen@example.test"
INVITE = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Navreme//test//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:visit-1@navreme\r\nDTSTAMP:20261123T080000Z\r\n"
    b"DTSTART:20261201T090000Z\r\nSUMMARY:Termin\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def outgoing(**fields: object) -> Outgoing:
    values: dict[str, object] = {
        "attempt_id": uuid.uuid4(),
        "address": CITIZEN,
        "language": "mk",
        "text": "Вашата лична карта истекува на 1 декември.\n",
        "subject": "Лична карта: време е за обнова\n",
    }
    return Outgoing(**(values | fields))  # type: ignore[arg-type]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SmtpServer]:
    with SmtpServer(tmp_path / "maildir") as running:
        yield running


@pytest.fixture
def make_channel() -> Iterator[Callable[..., SmtpChannel]]:
    """SmtpChannel(sender=SENDER, **options); every one is closed after the test."""
    made: list[SmtpChannel] = []

    def make(**options: Any) -> SmtpChannel:
        made.append(SmtpChannel(**({"sender": SENDER, "timeout": 10} | options)))
        return made[-1]

    yield make
    for adapter in made:
        adapter.close()


@pytest.fixture
def channel(server: SmtpServer, make_channel: Callable[..., SmtpChannel]) -> SmtpChannel:
    return make_channel(port=server.port, pool_size=4)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


def only_message(server: SmtpServer) -> EmailMessage:
    messages = server.messages()
    assert len(messages) == 1
    return messages[0]


def test_send__plain_text__lands_with_rfc5322_headers(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    message = outgoing()
    with clock.frozen(datetime(2026, 11, 23, 8, 30, tzinfo=UTC)):
        accepted = channel.send(message)
    received = only_message(server)
    assert received["Date"] == "Mon, 23 Nov 2026 08:30:00 +0000"
    assert received["Message-ID"] == f"<{message.attempt_id}@uprava.example.mk>"
    assert accepted.provider_message_id == received["Message-ID"]
    assert received["From"].addresses[0].display_name == "Управа за јавни услуги"
    assert received["To"] == CITIZEN
    assert received["X-MailFrom"] == "navreme@uprava.example.mk"  # the envelope sender
    assert received["X-RcptTo"] == CITIZEN
    assert received["Content-Language"] == "mk"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "text/plain"


def test_send__cyrillic_subject_and_body__7bit_on_the_wire_and_decoded_exactly(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    channel.send(outgoing())
    (raw,) = server.raw_messages()
    assert raw.isascii()  # RFC 2047 subject, base64/quoted-printable body: no 8BITMIME needed
    received = only_message(server)
    assert received["Subject"] == "Лична карта: време е за обнова"
    assert received.get_content() == "Вашата лична карта истекува на 1 декември.\n"


def test_send__html__text_and_html_alternatives(server: SmtpServer, channel: SmtpChannel) -> None:
    channel.send(outgoing(html="<p>Вашата <b>лична карта</b> истекува.</p>\n"))
    received = only_message(server)
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content() == "Вашата лична карта истекува на 1 декември.\n"
    assert html.get_content() == "<p>Вашата <b>лична карта</b> истекува.</p>\n"


def test_send__ics_attachment__text_calendar_method_request(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    invite = Attachment("termin.ics", "text/calendar; method=REQUEST", INVITE)
    channel.send(outgoing(html="<p>Термин</p>", attachments=(invite,)))
    received = only_message(server)
    (part,) = list(received.iter_attachments())
    assert received.get_content_type() == "multipart/mixed"
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "termin.ics"
    assert part.get_payload(decode=True) == INVITE
    assert received.get_body(preferencelist=("html",)) is not None


def test_send__a_reply__names_the_message_it_answers(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    channel.send(outgoing(reply_to="<citizen-question-7@example.test>"))
    received = only_message(server)
    assert received["In-Reply-To"] == "<citizen-question-7@example.test>"
    assert received["References"] == "<citizen-question-7@example.test>"


def test_send__same_attempt_twice__same_message_id(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    message = outgoing()
    first = channel.send(message)
    second = channel.send(message)
    other = channel.send(outgoing())
    ids = sorted(str(received["Message-ID"]) for received in server.messages())
    assert first.provider_message_id == second.provider_message_id
    assert other.provider_message_id != first.provider_message_id
    assert ids == sorted(
        [f"<{message.attempt_id}@uprava.example.mk>"] * 2 + [str(other.provider_message_id)]
    )


@pytest.mark.parametrize(
    ("command", "reply", "retryable"),
    [
        ("RCPT", f"550 5.1.1 <{CITIZEN}>: Recipient address rejected: User unknown", False),
        ("RCPT", "451 4.3.0 Temporary lookup failure", True),
        ("DATA", "554 5.7.1 Message rejected as spam", False),
        ("DATA", "452 4.3.1 Insufficient system storage", True),
    ],
)
def test_send__relay_refuses__classified_by_reply_code_with_code_kept(
    server: SmtpServer, channel: SmtpChannel, command: str, reply: str, retryable: bool
) -> None:
    server.answer_next(command, reply)
    with pytest.raises(DeliveryError) as refused:
        channel.send(outgoing())
    assert refused.value.retryable is retryable
    assert refused.value.code == reply[:3]
    assert CITIZEN not in str(refused.value)  # no personal data in what may be logged
    assert server.messages() == []


def test_send__after_a_refusal__the_same_connection_delivers_the_next(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    server.answer_next("RCPT", "550 5.1.1 User unknown")
    with pytest.raises(DeliveryError):
        channel.send(outgoing())
    channel.send(outgoing())
    channel.send(outgoing())
    peers = {received["X-Peer"] for received in server.messages()}
    assert len(peers) == 1


def test_send__relay_closing_421__retryable_and_a_new_connection_delivers_the_next(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    server.answer_next("RCPT", "421 4.3.2 Service shutting down")
    with pytest.raises(DeliveryError) as closing:
        channel.send(outgoing())
    channel.send(outgoing(text="next\n"))
    assert closing.value.retryable is True
    assert closing.value.code == "421"
    assert only_message(server).get_content() == "next\n"


def test_send__invalid_address__permanent_and_nothing_sent(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    for address in ("not an address", "a@example.test\r\nBcc: other@example.test"):
        with pytest.raises(DeliveryError) as refused:
            channel.send(outgoing(address=address))
        assert refused.value.retryable is False
        assert refused.value.code == "invalid-address"
    assert server.messages() == []


def test_send__nothing_listening__retryable(make_channel: Callable[..., SmtpChannel]) -> None:
    channel = make_channel(port=free_port(), timeout=5)
    with pytest.raises(DeliveryError) as down:
        channel.send(outgoing())
    assert down.value.retryable is True


def test_send__relay_never_answers__times_out_retryable(
    make_channel: Callable[..., SmtpChannel],
) -> None:
    with silent_listener() as port:
        channel = make_channel(port=port, timeout=0.5)
        with pytest.raises(DeliveryError) as hung:
            channel.send(outgoing())
    assert hung.value.retryable is True


def test_send__relay_restarted__pooled_connection_replaced(
    tmp_path: Path, make_channel: Callable[..., SmtpChannel]
) -> None:
    with SmtpServer(tmp_path / "before") as before:
        channel = make_channel(port=before.port, timeout=5, pool_size=1)
        channel.send(outgoing())
    with SmtpServer(tmp_path / "after", port=before.port) as after:
        channel.send(outgoing(text="after the restart\n"))
        received = only_message(after)
    assert received.get_content() == "after the restart\n"


def test_send__20_threads__share_at_most_pool_size_connections(
    server: SmtpServer, channel: SmtpChannel
) -> None:
    failures: list[BaseException] = []

    def send_five() -> None:
        try:
            for _ in range(5):
                channel.send(outgoing())
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=send_five) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    received = server.messages()
    assert failures == []
    assert len({str(message["Message-ID"]) for message in received}) == 100
    assert len({message["X-Peer"] for message in received}) <= 4


def test_send__starttls_with_login__verified_against_the_relay_ca(
    tmp_path: Path, certificate: tuple[Path, Path], make_channel: Callable[..., SmtpChannel]
) -> None:
    context = server_tls_context(*certificate)
    users = {"navreme": "s3cret"}
    with SmtpServer(tmp_path / "maildir", starttls=context, users=users) as server:
        channel = make_channel(
            port=server.port,
            security="starttls",
            username="navreme",
            password="s3cret",
            tls_ca_file=str(certificate[0]),
            timeout=10,
        )
        channel.send(outgoing())
        assert only_message(server)["Subject"] == "Лична карта: време е за обнова"


def test_send__starttls_wrong_password__retryable_with_code(
    tmp_path: Path, certificate: tuple[Path, Path], make_channel: Callable[..., SmtpChannel]
) -> None:
    context = server_tls_context(*certificate)
    with SmtpServer(tmp_path / "maildir", starttls=context, users={"navreme": "s3cret"}) as server:
        channel = make_channel(
            port=server.port,
            security="starttls",
            username="navreme",
            password="wrong",
            tls_ca_file=str(certificate[0]),
        )
        with pytest.raises(DeliveryError) as refused:
            channel.send(outgoing())
        assert server.messages() == []
    assert refused.value.retryable is True
    assert refused.value.code == "535"


def test_send__starttls_certificate_not_trusted__refused_retryable(
    tmp_path: Path, certificate: tuple[Path, Path], make_channel: Callable[..., SmtpChannel]
) -> None:
    with SmtpServer(tmp_path / "maildir", starttls=server_tls_context(*certificate)) as server:
        channel = make_channel(port=server.port, security="starttls")
        with pytest.raises(DeliveryError) as refused:
            channel.send(outgoing())
        assert server.messages() == []
    assert refused.value.retryable is True


def test_send__starttls_verification_off__delivers(
    tmp_path: Path, certificate: tuple[Path, Path], make_channel: Callable[..., SmtpChannel]
) -> None:
    with SmtpServer(tmp_path / "maildir", starttls=server_tls_context(*certificate)) as server:
        channel = make_channel(port=server.port, security="starttls", verify_tls=False)
        channel.send(outgoing())
        assert len(server.messages()) == 1


def test_send__plain_to_a_relay_that_requires_starttls__retryable(
    tmp_path: Path, certificate: tuple[Path, Path], make_channel: Callable[..., SmtpChannel]
) -> None:
    with SmtpServer(tmp_path / "maildir", starttls=server_tls_context(*certificate)) as server:
        channel = make_channel(port=server.port, security="none")
        with pytest.raises(DeliveryError) as refused:
            channel.send(outgoing())
    assert refused.value.retryable is True
    assert refused.value.code == "530"


def test_send__implicit_tls__delivers(
    tmp_path: Path, certificate: tuple[Path, Path], make_channel: Callable[..., SmtpChannel]
) -> None:
    with SmtpServer(tmp_path / "maildir", tls=server_tls_context(*certificate)) as server:
        channel = make_channel(port=server.port, security="tls", tls_ca_file=str(certificate[0]))
        channel.send(outgoing())
        assert len(server.messages()) == 1


def test_settings__default_sender_is_mail_from__built_through_the_registry(
    server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAVREME_MAIL_FROM", "obvestuvanja@opstina.example.mk")
    config.get_settings.cache_clear()
    try:
        channel = registry.build("smtp", {"port": server.port, "timeout": 10})
    finally:
        config.get_settings.cache_clear()
    message = outgoing()
    try:
        channel.send(message)
    finally:
        channel.close()
    received = only_message(server)
    assert received["From"] == "obvestuvanja@opstina.example.mk"
    assert received["Message-ID"] == f"<{message.attempt_id}@opstina.example.mk>"


@pytest.mark.parametrize(
    "options",
    [
        {"security": "ssl"},
        {"username": "navreme", "password": "x"},  # a login in clear text
        {"pool_size": 0},
    ],
)
def test_settings__unsafe_or_wrong__refused_at_start(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"security|login|pool_size"):
        SmtpChannel(sender=SENDER, **options)  # type: ignore[arg-type]


def test_settings__verify_tls_off__refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVREME_ENV", "production")
    monkeypatch.setenv("NAVREME_SECRET_KEY", "production-secret-" + "x" * 40)
    config.get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="verify_tls"):
            SmtpChannel(sender=SENDER, security="starttls", verify_tls=False)
    finally:
        config.get_settings.cache_clear()
