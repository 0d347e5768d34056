"""A loopback HTTP server that receives Apprise's json:// and form:// notifications.

Apprise's generic JSON and form services POST to any URL, so this server is a real endpoint
for them: the Apprise adapter is tested end to end over HTTP. It records every request and
can be told to answer the next ones with an error status, or to hold them (a hung service).
"""

from __future__ import annotations

import email
import json
import threading
from collections import deque
from dataclasses import dataclass
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

HOLD_AT_MOST_S = 30.0


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str | bytes]:
        """Fields of a urlencoded or multipart form; uploaded files as bytes."""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        parsed = email.message_from_bytes(head + self.body, policy=policy.default)
        return {_field(part): _value(part) for part in parsed.iter_parts()}


def _field(part: Any) -> str:
    return str(part.get_param("name", header="content-disposition"))


def _value(part: Any) -> str | bytes:
    payload: bytes = part.get_payload(decode=True)
    return payload if part.get_filename() else payload.decode()


class AppriseTarget:
    """The server on 127.0.0.1 (a free port); use as a context manager (stopped even on failure)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._statuses: deque[int] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._hold = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """host:port, for Apprise URLs such as json://HOST:PORT/path."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> AppriseTarget:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._statuses.extend([status] * times)

    def hold_requests(self) -> None:
        """Answer nothing until the server stops: a service that hangs."""
        self._hold = True

    def _record(self, request: Received) -> int:
        with self._lock:
            self.received.append(request)
            return self._statuses.popleft() if self._statuses else 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {key: value for key, value in self.headers.items()}
                status = target._record(Received("POST", self.path, headers, body))
                if target._hold:
                    target._release.wait(HOLD_AT_MOST_S)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None  # quiet: pytest shows failures, not every request

        return Handler
