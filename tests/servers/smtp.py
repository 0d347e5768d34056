"""A real SMTP server (aiosmtpd) on a free loopback port that keeps what it accepts in a Maildir.

Tests script the server's next answers to RCPT or DATA ("550 5.1.1 No such user"), and it
says exactly that on the wire, so the adapter's error handling meets real SMTP replies. It can
speak STARTTLS or implicit TLS with a self-signed certificate made by `openssl`, and require
a login. Every stored message carries aiosmtpd's X-Peer header (the client's address and
port), which tells the tests how many connections the client used.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import mailbox
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.servers import process

FIRST_PORT = 25025  # fixed test ports stay below the ephemeral range (COMPONENTS.md)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port(first: int = FIRST_PORT) -> int:
    """A loopback port nothing listens on now, probed upwards from `first`."""
    return process.free_port(first)


class ScriptedMailbox(Mailbox):
    """aiosmtpd's Maildir handler, with scripted replies to the next RCPT or DATA commands."""

    def __init__(self, maildir: Path) -> None:
        super().__init__(maildir)  # creates the Maildir: it must not exist yet (COMPONENTS 2a)
        self._script: dict[str, deque[str]] = {"RCPT": deque(), "DATA": deque()}
        self._lock = threading.Lock()

    def answer_next(self, command: str, reply: str, times: int = 1) -> None:
        with self._lock:
            self._script[command].extend([reply] * times)

    def _scripted(self, command: str) -> str | None:
        with self._lock:
            return self._script[command].popleft() if self._script[command] else None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if (reply := self._scripted("RCPT")) is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if (reply := self._scripted("DATA")) is not None:
            return reply
        return str(await super().handle_DATA(server, session, envelope))


class _Controller(Controller):
    """aiosmtpd's controller, but stopping drops the clients still connected.

    aiosmtpd's own stop() only cancels tasks, so a client's socket stayed open in a stopped
    server (and leaked); a real relay going down closes its connections, as this does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session = super().factory()
        self._sessions.append(session)
        return session

    def stop(self, no_assert: bool = False) -> None:
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._drop_clients(), self.loop).result(timeout=10)
        super().stop(no_assert)

    async def _drop_clients(self) -> None:
        for session in self._sessions:
            transport = session._original_transport or session.transport
            if transport is not None:
                transport.abort()
        for _ in range(100):  # connection_lost runs on the next turns of the loop
            if all(session.transport is None for session in self._sessions):
                return
            await asyncio.sleep(0.01)


class SmtpServer:
    """One aiosmtpd server on 127.0.0.1; use as a context manager (stopped even on failure).

    tls: implicit TLS (SMTPS) with this context; starttls: offer and require STARTTLS;
    users: {login: password} that AUTH accepts, and then AUTH is required.
    """

    def __init__(
        self,
        maildir: Path,
        *,
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.maildir = maildir
        self.port = port or free_port()
        self.handler = ScriptedMailbox(maildir)
        self._users = users or {}
        options: dict[str, Any] = {"ssl_context": tls}
        if starttls is not None:
            options |= {"tls_context": starttls, "require_starttls": True}
        if users:
            options |= {"authenticator": self._authenticate, "auth_required": True}
        self._controller = _Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10.0, **options
        )

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()

    def answer_next(self, command: str, reply: str, times: int = 1) -> None:
        """Answer the next `times` RCPT (or DATA) commands with `reply` instead of accepting."""
        self.handler.answer_next(command, reply, times)

    def messages(self) -> list[EmailMessage]:
        """Every message the server accepted, parsed as the recipient's client would."""
        if not self.maildir.exists():
            return []
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        return [_parse(box.get_bytes(key)) for key in box.iterkeys()]

    def raw_messages(self) -> list[bytes]:
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        return [box.get_bytes(key) for key in box.iterkeys()]

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        return AuthResult(success=self._users.get(login) == password, handled=False)


def _parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1 and localhost, made by the openssl command line."""
    if shutil.which("openssl") is None:
        reason = "the openssl command is needed to make a test TLS certificate"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: install Debian's openssl)")
        pytest.skip(reason)
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(key)]
        + ["-out", str(certificate), "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return certificate, key


def server_tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word (a hung relay)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen(8)
        yield listener.getsockname()[1]
