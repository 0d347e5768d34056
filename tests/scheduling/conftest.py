"""A real CalDAV server (Radicale) on loopback for the invite tests, stopped by its PID."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers.process import free_port

FIRST_PORT = 25232  # fixed test ports stay below the ephemeral range (COMPONENTS.md)
READY_WITHIN_S = 15.0


def _config(folder: Path, port: int) -> Path:
    path = folder / "radicale.conf"
    path.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        "[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
        "[web]\ntype = none\n"
        "[logging]\nlevel = warning\n",
        "utf-8",
    )
    return path


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"radicale exited with {process.returncode}: {log.read_text()}")
        try:
            httpx.request("OPTIONS", url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"radicale not ready after {READY_WITHIN_S} s: {log.read_text()}")


@pytest.fixture
def radicale_url(tmp_path: Path) -> Iterator[str]:
    """The base URL of a fresh Radicale (any user, any password) with empty storage."""
    port = free_port(FIRST_PORT)
    log = tmp_path / "radicale.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(_config(tmp_path, port))],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_ready(url, process, log)
        yield url
    finally:
        process.terminate()  # by the PID Popen kept: the server itself, not a shell
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
