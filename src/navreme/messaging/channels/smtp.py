"""E-mail over SMTP: one RFC 5322 message per `Outgoing`, over a small pool of connections.

Why these choices:
- The Message-ID is `<attempt_id@sender's domain>`, so a retry after a crash carries the same
  Message-ID as the first try: mail clients and archives recognise it as the same message, and
  it is also the provider id that replies (In-Reply-To) will name.
- Bodies are 7-bit on the wire (base64 or quoted-printable for Cyrillic and Albanian text),
  so no relay on the way needs 8BITMIME or SMTPUTF8 for the text.
- Connections are reused across sends (a NOOP proves an idle one still answers before it is
  used), because a TLS handshake and login per message cost more than the message itself.
- Errors: a 5xx answer to RCPT or DATA is permanent (the recipient or the content is refused);
  a 4xx answer, a refused or silent connection, a dropped session, a TLS or login failure are
  retryable. A sender refused or a failed login is a fault of our settings, not of the
  citizen's address, so the message waits (the dispatcher's circuit breaker notices) instead
  of being given up.
"""

from __future__ import annotations

import contextlib
import queue
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterator
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import ClassVar

from navreme import clock
from navreme.config import get_settings
from navreme.messaging.channels.base import Accepted, Attachment, DeliveryError, Outgoing

SECURITY_MODES = ("none", "starttls", "tls")
_WIRE_POLICY = policy.default.clone(cte_type="7bit")


class SmtpChannel:
    """E-mail through an SMTP relay (`"adapter": "smtp"` in NAVREME_CHANNELS).

    Settings (keyword arguments):
    - host, port: the relay (default 127.0.0.1:25).
    - username, password: SMTP AUTH login; empty username means no login. A login is refused
      with security "none", so credentials never cross the network in clear.
    - security: "none", "starttls" (upgrade on connect, usually port 587) or "tls" (implicit
      TLS, usually port 465).
    - sender: the From address, e.g. "Управа <noreply@uprava.gov.mk>"; empty means
      NAVREME_MAIL_FROM. Its domain is the Message-ID's domain.
    - timeout: seconds for connecting and for each SMTP reply; also the longest wait for a
      free pooled connection.
    - pool_size: connections kept open at most (and so sends on the wire at once).
    - helo_name: the name given in EHLO; empty means the sender's domain (looking up this
      host's own name can hang where DNS is unreachable).
    - tls_ca_file: a PEM file of the CA(s) that signed the relay's certificate, for a relay
      with a private CA; empty means the system's trusted CAs.
    - verify_tls: tests only; False accepts any certificate. Refused in production.
    """

    name: ClassVar[str] = "smtp"

    def __init__(  # an empty password means no login, not a secret  # nosec B107
        self,
        host: str = "127.0.0.1",
        port: int = 25,
        username: str = "",
        password: str = "",
        security: str = "none",
        sender: str = "",
        timeout: float = 30.0,
        pool_size: int = 4,
        helo_name: str = "",
        tls_ca_file: str = "",
        verify_tls: bool = True,
    ) -> None:
        _check_options(security, username, pool_size, verify_tls)
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.security = username, password, security
        self.sender = sender or get_settings().mail_from
        self.envelope_sender = parseaddr(self.sender)[1]
        self.domain = self.envelope_sender.rpartition("@")[2] or "localhost"
        self.helo_name = helo_name or self.domain
        self._tls = _tls_context(tls_ca_file, verify_tls)
        self._pool = _Pool(self._connect, pool_size, timeout)

    def send(self, message: Outgoing) -> Accepted:
        email = self.compose(message)
        try:
            with self._pool.connection() as connection:
                connection.send_message(email, self.envelope_sender, [message.address])
        except smtplib.SMTPRecipientsRefused as refused:
            code, reply = next(iter(refused.recipients.values()))
            raise _answered("recipient refused", code, reply, message.address) from None
        except smtplib.SMTPDataError as refused:
            raise _answered("message refused", refused.smtp_code, refused.smtp_error, "") from None
        except smtplib.SMTPResponseException as answer:
            code = str(answer.smtp_code)
            raise DeliveryError(f"SMTP relay answered {code}", retryable=True, code=code) from None
        except OSError as failure:  # refused, timed out, dropped, TLS: every SMTPException too
            raise DeliveryError(
                f"SMTP relay unreachable ({type(failure).__name__})", retryable=True
            ) from None
        return Accepted(provider_message_id=str(email["Message-ID"]))

    def compose(self, message: Outgoing) -> EmailMessage:
        """The RFC 5322 message for `message`, exactly as it will be sent (and resent)."""
        email = EmailMessage(policy=_WIRE_POLICY)
        email["From"] = self.sender
        email["To"] = _recipient(message.address)
        email["Subject"] = " ".join(message.subject.split())  # a template's trailing newline
        email["Date"] = format_datetime(clock.now())
        email["Message-ID"] = f"<{message.attempt_id}@{self.domain}>"
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
        if message.reply_to:
            email["In-Reply-To"] = email["References"] = message.reply_to
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        for attachment in message.attachments:
            _attach(email, attachment)
        email["Content-Language"] = message.language  # last: set_content drops Content-* headers
        return email

    def close(self) -> None:
        self._pool.close()

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.helo_name,
                timeout=self.timeout,
                context=self._tls,
            )
        else:
            connection = smtplib.SMTP(
                self.host, self.port, local_hostname=self.helo_name, timeout=self.timeout
            )
        try:
            if self.security == "starttls":
                connection.starttls(context=self._tls)
                connection.ehlo()
            if self.username:
                connection.login(self.username, self.password)
        except BaseException:
            connection.close()
            raise
        return connection


def _check_options(security: str, username: str, pool_size: int, verify_tls: bool) -> None:
    if security not in SECURITY_MODES:
        raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
    if username and security == "none":
        raise ValueError("an SMTP login needs security 'starttls' or 'tls'")
    if pool_size < 1:
        raise ValueError("pool_size must be at least 1")
    if not verify_tls and get_settings().env == "production":
        raise ValueError("verify_tls=False is for tests; in production give tls_ca_file instead")


def _tls_context(ca_file: str, verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _recipient(address: str) -> Address:
    """The To address, or a permanent error: a malformed address never becomes deliverable."""
    try:
        return Address(addr_spec=address)
    except (ValueError, IndexError, TypeError):
        raise DeliveryError(
            "not an e-mail address", retryable=False, code="invalid-address"
        ) from None


def _attach(email: EmailMessage, attachment: Attachment) -> None:
    kind = EmailMessage()
    kind["Content-Type"] = attachment.content_type  # parsed: "text/calendar; method=REQUEST"
    email.add_attachment(
        attachment.data,
        maintype=kind.get_content_maintype(),
        subtype=kind.get_content_subtype(),
        filename=attachment.filename,
        params=dict(kind["Content-Type"].params),
    )


def _answered(what: str, code: int, reply: bytes | str, address: str) -> DeliveryError:
    """A classified refusal; the relay's words are kept for officers, the address is not."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    if address:
        text = _redact(text, address)
    return DeliveryError(f"{what}: {code} {text}", retryable=code < 500, code=str(code))


def _redact(text: str, address: str) -> str:
    start = text.lower().find(address.lower())
    while start >= 0:
        text = text[:start] + "<recipient>" + text[start + len(address) :]
        start = text.lower().find(address.lower())
    return text


class _Pool:
    """At most `size` SMTP connections; idle ones are reused after a NOOP says they still work.

    A connection goes back to the pool after a send or after a refusal the relay answered
    (smtplib has already sent RSET); after a network error or a 421 it is closed, because
    its session state is unknown.
    """

    def __init__(self, connect: Callable[[], smtplib.SMTP], size: int, wait_s: float) -> None:
        self._connect = connect
        self._size = size
        self._wait_s = wait_s
        self._idle: queue.LifoQueue[smtplib.SMTP] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = threading.Event()

    @contextlib.contextmanager
    def connection(self) -> Iterator[smtplib.SMTP]:
        if not self._slots.acquire(timeout=self._wait_s):
            raise DeliveryError(f"all {self._size} SMTP connections stayed busy", retryable=True)
        try:
            connection = self._reusable() or self._connect()
            try:
                yield connection
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException):
                self._release(connection)
                raise
            except BaseException:
                _quit(connection)
                raise
            self._release(connection)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._closed.set()
        while (connection := self._take_idle()) is not None:
            _quit(connection)

    def _reusable(self) -> smtplib.SMTP | None:
        while (connection := self._take_idle()) is not None:
            if _answers(connection):
                return connection
            _quit(connection)
        return None

    def _take_idle(self) -> smtplib.SMTP | None:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return None

    def _release(self, connection: smtplib.SMTP) -> None:
        if self._closed.is_set() or connection.sock is None:  # closed, or the relay said 421
            _quit(connection)
        else:
            self._idle.put(connection)


def _answers(connection: smtplib.SMTP) -> bool:
    try:
        return connection.noop()[0] == 250
    except OSError:
        return False


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except OSError:
        connection.close()
