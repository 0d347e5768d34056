"""Start, await and stop one server process: what every helper in tests/servers shares.

Ports are fixed-base and below the ephemeral range (32768+), so an outgoing connection of some
other program cannot take them between the probe and the server's bind (COMPONENTS.md).
Servers are stopped by the PID `Popen` kept, never by name, so parallel helpers stay untouched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port(first: int, span: int = 200) -> int:
    """The first loopback port from `first` on that nothing listens on."""
    for port in range(first, first + span):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {first}…{first + span - 1}")


def any_free_port() -> int:
    """A loopback port the kernel says is free now (for servers in this process's threads)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def require_binary(name: str) -> str:
    """The binary's path; skip when absent outside CI, fail under CI=true (make install-dev)."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (make install-dev installs it)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true: the integration tests are mandatory")
    pytest.skip(message)


def start(command: Sequence[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """The server process, its stdout and stderr going to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            list(command), stdout=output, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )


def wait_until_ready(
    name: str,
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log: Path,
    within_s: float = 60.0,
) -> None:
    """Return once `ready()` is true; raise with the server's log when it exits or never is."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {within_s} s:\n{_tail(log)}")


def stop(process: subprocess.Popen[bytes], within_s: float = 15.0) -> None:
    """SIGTERM the server by its PID, SIGKILL it when it lingers; always reaps it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text("utf-8", errors="replace").splitlines()[-lines:])
