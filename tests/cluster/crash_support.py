"""What the crash and restore tests share: settings pointed at a private server, and real
`navreme` processes (workers, the API) started and stopped by PID."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from navreme import config
from tests.servers import process

FIRST_API_PORT = 28000


def point_at(
    monkeypatch: pytest.MonkeyPatch, database_url: str, home: Path, queue_url: str = ""
) -> config.Settings:
    """This process and every `navreme` process it starts use these servers."""
    monkeypatch.setenv("NAVREME_DATABASE_URL", database_url)
    monkeypatch.setenv("NAVREME_QUEUE_URL", queue_url)
    monkeypatch.setenv("NAVREME_HOME", str(home))
    monkeypatch.setenv("NAVREME_ENV", "test")
    monkeypatch.setenv("NAVREME_SECRET_KEY", "test-secret-" + "x" * 40)
    monkeypatch.setenv("NAVREME_COOKIE_SECURE", "false")
    config.get_settings.cache_clear()
    return config.get_settings()


def navreme(arguments: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`navreme …` as its own process with this process's environment, output to `log`."""
    executable = Path(sys.executable).parent / "navreme"
    return process.start([str(executable), *arguments], log)


def kill(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL by PID and reap: what a crash (or the end of a test) does to a process."""
    if child.poll() is None:
        child.kill()
    child.wait(timeout=30)


@contextmanager
def serving(log: Path) -> Iterator[str]:
    """`navreme serve` on a free port until the block ends; yields its base URL."""
    port = process.free_port(FIRST_API_PORT)
    server = navreme(["serve", "--port", str(port)], log)
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_until_ready("navreme serve", lambda: healthy(url), server, log)
        yield url
    finally:
        process.stop(server)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(
    what: str, condition: Callable[[], bool], within_s: float, every_s: float = 0.5
) -> None:
    """Poll `condition()` until true; fail the test with `what` when the deadline passes."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {within_s:.0f} s")
        time.sleep(every_s)
