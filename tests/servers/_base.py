"""Plumbing for the fake provider servers: a Starlette app served by uvicorn on 127.0.0.1.

Each server runs in a thread of the test process on a port the kernel picks (port 0), so tests
never collide; `start()` returns once it answers, `stop()` shuts it down and joins the thread.
`FakeProvider` adds what every provider fake needs: a record of each request received, failures
queued by the test ("fail the next N requests with a 429"), and a signed webhook POST to a URL.
`WebhookSink` stands in for Navreme's webhook route: it records what providers POST and answers
GET handshakes through a callable, so adapters are tested over real HTTP in both directions.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

FailureKind = str  # "rate_limit" | "server_error" | "permanent" | "slow" ("none": handle normally)


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Failure:
    """How to fail one request: the kind, and for "permanent" optionally the provider's code."""

    kind: FailureKind
    code: int | None = None
    retry_after: int = 7


class LoopbackServer:
    """A Starlette app on 127.0.0.1, in a thread, on a free port."""

    def __init__(self) -> None:
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def routes(self) -> list[Route]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=0.5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None


class FakeProvider(LoopbackServer):
    """A provider's API: records requests, fails on demand, POSTs signed webhooks."""

    slow_seconds = 2.0  # longer than the adapters' test timeouts: a "slow" failure is a timeout

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()

    def fail_next(
        self,
        count: int,
        kind: FailureKind,
        *,
        code: int | None = None,
        retry_after: int = 7,
        after: int = 0,
    ) -> None:
        """Answer `count` API requests with this failure, once `after` more have been handled."""
        with self._lock:
            self._failures.extend(Failure("none") for _ in range(after))
            self._failures.extend(Failure(kind, code, retry_after) for _ in range(count))

    def sent(self) -> list[Received]:
        """The requests received so far (a copy; the server keeps recording)."""
        with self._lock:
            return list(self.received)

    async def record(self, request: Request) -> tuple[Received, Failure | None]:
        """Record the request and take the next queued failure, if any (slow ones wait here)."""
        received = Received(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        with self._lock:
            self.received.append(received)
            failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.kind == "slow":
            await asyncio.sleep(self.slow_seconds)
        if failure is None or failure.kind in ("none", "slow"):
            return received, None
        return received, failure

    def signature_headers(self, body: bytes) -> dict[str, str]:
        """The headers that sign a webhook body the way this provider does."""
        raise NotImplementedError

    def post_webhook(
        self, url: str, payload: Mapping[str, Any], *, sign: bool = True
    ) -> httpx.Response:
        """POST a webhook as the provider does: compact UTF-8 JSON, signed unless told not to."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            headers.update(self.signature_headers(body))
        return httpx.post(url, content=body, headers=headers, timeout=10)


def new_id(prefix: str = "", size: int = 16) -> str:
    return prefix + secrets.token_urlsafe(size)


@dataclass
class WebhookSink(LoopbackServer):
    """Navreme's webhook route, reduced: records POSTs, answers GETs with `on_get(query)`."""

    on_get: Callable[[Mapping[str, str]], str | None] | None = None
    posts: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def routes(self) -> list[Route]:
        return [Route("/hook", self._hook, methods=["GET", "POST"])]

    @property
    def hook_url(self) -> str:
        return self.url + "/hook"

    async def _hook(self, request: Request) -> Response:
        if request.method == "GET":
            answer = self.on_get(dict(request.query_params)) if self.on_get else None
            if answer is None:
                return PlainTextResponse("forbidden", status_code=403)
            return PlainTextResponse(answer)
        self.posts.append(
            Received(
                method="POST",
                path=request.url.path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=await request.body(),
            )
        )
        return PlainTextResponse("ok")


def probe_meta_handshake(url: str, verify_token: str) -> bool:
    """Meta's GET check of a webhook URL: True when the URL echoes the challenge back."""
    challenge = str(secrets.randbelow(10**9))
    query = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
    answer = httpx.get(url, params=query, timeout=10)
    return answer.status_code == 200 and answer.text == challenge


def meta_signature_headers(app_secret: str, body: bytes) -> dict[str, str]:
    """Meta's webhook signature: X-Hub-Signature-256: sha256=<hex HMAC-SHA256, app secret>."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
) -> JSONResponse:
    """A Graph API error answer, as WhatsApp Cloud API and the Messenger Send API give it."""
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": new_id("A", 9),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)
