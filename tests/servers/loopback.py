"""A loopback notification gateway speaking the generic HTTP channel's format, for real.

It is what a citizen's phone would be in a test: it keeps every message by its
Idempotency-Key, so a message handed over twice (a worker killed after the gateway took it,
before Navreme recorded it) is shown to the "citizen" once, and the test can count how often
that happened. It can be told to fail: answer 503 / 429 / 400 to the next N requests, or stop.

Run alone (benchmarks): `python -m tests.servers.loopback --port 18555`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers.process import any_free_port


@dataclass
class Gateway:
    secret: str = ""
    received: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> first body
    posts: Counter[str] = field(default_factory=Counter)  # key -> how often it came
    fail_next: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def duplicates(self) -> int:
        """Messages handed over more than once (the citizen still sees each once)."""
        return sum(1 for count in self.posts.values() if count > 1)

    def fail(self, count: int, status: int = 503, retry_after: str | None = None) -> None:
        with self.lock:
            self.fail_next, self.fail_status, self.retry_after = count, status, retry_after

    async def message(self, request: Request) -> Response:
        body = await request.body()
        if self.secret:
            expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(request.headers.get("x-navreme-signature", ""), expected):
                return JSONResponse({"error": "bad signature"}, status_code=401)
        key = request.headers.get("idempotency-key", "")
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                headers = {"Retry-After": self.retry_after} if self.retry_after else None
                return JSONResponse({"error": "failing on purpose"}, self.fail_status, headers)
            if not key:
                return JSONResponse({"error": "Idempotency-Key required"}, status_code=400)
            self.posts[key] += 1
            first = key not in self.received
            if first:
                self.received[key] = json.loads(body)
        return JSONResponse({"id": f"gw-{key}"}, status_code=202 if first else 409)

    async def batch(self, request: Request) -> Response:
        """The bulk API: one request, many messages, one result each (deduplicated by id)."""
        body = await request.body()
        if self.secret:
            expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(request.headers.get("x-navreme-signature", ""), expected):
                return JSONResponse({"error": "bad signature"}, status_code=401)
        messages = json.loads(body).get("messages", [])
        results = []
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return JSONResponse({"error": "failing on purpose"}, self.fail_status)
            for message in messages:
                key = str(message.get("id", ""))
                if not key or not message.get("to"):
                    results.append({"error": "id and to are required", "retryable": False})
                    continue
                self.posts[key] += 1
                self.received.setdefault(key, message)
                results.append({"id": f"gw-{key}"})
        return JSONResponse({"results": results})

    async def stats(self, request: Request) -> Response:
        with self.lock:
            return JSONResponse(
                {"unique": len(self.received), "posts": sum(self.posts.values()),
                 "duplicates": self.duplicates}
            )  # fmt: skip

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/messages", self.message, methods=["POST"]),
            Route("/messages/batch", self.batch, methods=["POST"]),
            Route("/stats", self.stats, methods=["GET"]),
        ])  # fmt: skip


class Running:
    """The gateway served by uvicorn in a background thread of this process."""

    def __init__(self, gateway: Gateway, port: int | None = None) -> None:
        self.gateway = gateway
        self.port = port or any_free_port()
        config = uvicorn.Config(gateway.app(), host="127.0.0.1", port=self.port,
                                log_level="warning", access_log=False, lifespan="off")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/messages"

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("loopback gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18555)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()
    gateway = Gateway(secret=args.secret)
    config = uvicorn.Config(gateway.app(), host="127.0.0.1", port=args.port,
                            log_level="warning", access_log=False, lifespan="off")  # fmt: skip
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
