"""A private Redis on loopback: the scaled mode's job queue, owned by one test run.

No persistence (`--save ''`, `--appendonly no`): a queue that outlives its test would hand
another test stale work. Started and stopped by its PID, never by name.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import process

FIRST_PORT = 26379


@dataclass
class PrivateRedis:
    """One redis-server of this test run."""

    port: int
    server: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        process.stop(self.server)


@contextmanager
def private_redis(folder: Path) -> Iterator[PrivateRedis]:
    """redis-server on a free port, its log in `folder`; stopped when the block ends."""
    binary = process.require_binary("redis-server")
    folder.mkdir(parents=True, exist_ok=True)
    port = process.free_port(FIRST_PORT)
    log = folder / "redis.log"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(folder), "--protected-mode", "yes"]  # fmt: skip
    server = process.start(command, log)
    redis = PrivateRedis(port, server)
    try:
        process.wait_until_ready("redis", lambda: process.port_answers(port), server, log)
        yield redis
    finally:
        redis.stop()
