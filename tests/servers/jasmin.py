"""The real Jasmin SMS gateway (0.11.0) for the SMS channel's tests, configured through jCli.

Jasmin runs from its own virtual environment, `.venv-jasmin` (built by `make jasmin`; it pins
Twisted and friends apart from the project's). It needs an AMQP broker and a Redis:
- RabbitMQ: the machine's broker on 127.0.0.1:5672 (guest/guest), in a virtual host made for this
  run with rabbitmqctl and deleted afterwards, so Jasmin's queues touch nothing else;
- Redis: a private redis-server on a free loopback port, nothing kept on disk.

`start_jasmin` writes a jasmin.cfg into a temporary ROOT_PATH (config, store and logs all stay
there), starts jasmind.py on free loopback ports, waits for jCli, and configures: a user for
Navreme, a second user limited to 0.01 submits per second (to be throttled), an SMPP client
connector to the SMSC simulator, a default MT route to that connector and a default MO route to
Navreme's SMPP user. `JasminStack.stop` stops jasmind and redis by PID and removes the vhost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
JASMIND = REPO / ".venv-jasmin" / "bin" / "jasmind.py"
JASMIN_PYTHON = REPO / ".venv-jasmin" / "bin" / "python"
RABBITMQ = ("127.0.0.1", 5672)

# the SMPP users Jasmin serves to Navreme (SMPP passwords are at most 8 characters)
USER = ("navreme", "navpwd1")
SLOW_USER = ("slow", "slowpwd1")  # 0.01 submit_sm per second: the second one in a row is throttled
DESTINATION_FILTER = r"^[1-9][0-9]{7,14}$"  # what Jasmin accepts as a destination number


class JasminUnavailable(RuntimeError):
    """Jasmin or what it needs is not installed or not running on this machine."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {timeout} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM by PID, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout)


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, 1.0):
            return True
    except OSError:
        return False


def missing() -> str | None:
    """Why Jasmin cannot run here, or None when everything it needs is present."""
    if not JASMIND.exists():
        return "Jasmin is not installed: run `make jasmin` (it builds .venv-jasmin)"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian package redis-server)"
    if shutil.which("rabbitmqctl") is None:
        return "RabbitMQ is not installed (Debian package rabbitmq-server)"
    if not _reachable(RABBITMQ):
        return "RabbitMQ is not running on 127.0.0.1:5672"
    return None


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


class JCli:
    """Jasmin's telnet console, driven line by line: each command waits for the next prompt."""

    PROMPTS = (b"jcli : ", b"> ")

    def __init__(self, port: int) -> None:
        self._socket = socket.create_connection(("127.0.0.1", port), 10)
        self._buffer = b""
        # jCli shows its first prompt only once a line arrives (after its telnet negotiation)
        self._socket.sendall(b"\r\n")
        self._read_prompt()

    def _read_prompt(self) -> str:
        deadline = time.monotonic() + 20
        while not self._buffer.endswith(self.PROMPTS):
            if time.monotonic() > deadline:
                raise TimeoutError(f"jCli gave no prompt; it said {self._buffer[-300:]!r}")
            chunk = self._socket.recv(4096)
            if not chunk:
                raise ConnectionError("jCli closed the connection")
            self._buffer += chunk
        said, self._buffer = self._buffer.decode(errors="replace"), b""
        return said

    def run(self, *lines: str) -> str:
        """Send each line and return everything jCli answered."""
        answers = []
        for line in lines:
            self._socket.sendall(line.encode() + b"\r\n")
            answers.append(self._read_prompt())
        said = "".join(answers)
        if "error" in said.lower() or "unknown" in said.lower():
            raise RuntimeError(f"jCli refused {lines!r}: {said}")
        return said

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.sendall(b"quit\r\n")
        self._socket.close()


@dataclass
class JasminStack:
    root: Path
    smpp_port: int
    jcli_port: int
    vhost: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def jcli(self) -> JCli:
        return JCli(self.jcli_port)

    def log(self, name: str = "messages.log") -> str:
        path = self.root / "var" / "log" / "jasmin" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_process(process)
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _rabbitmqctl("delete_vhost", self.vhost)


CONFIG = """\
[smpp-server]
id = navreme-test
bind = 127.0.0.1
port = {smpp_port}
log_level = INFO

[smpp-server-pb]
bind = 127.0.0.1
port = {smpp_pb_port}

[client-management]
bind = 127.0.0.1
port = {cm_port}
log_level = INFO

[router]
bind = 127.0.0.1
port = {router_port}

[interceptor-client]
host = 127.0.0.1
port = {interceptor_port}

[http-api]
bind = 127.0.0.1
port = {http_port}

[amqp-broker]
host = {amqp_host}
port = {amqp_port}
vhost = {vhost}
username = guest
password = guest
spec = {spec}

[redis-client]
host = 127.0.0.1
port = {redis_port}
dbid = 0

[jcli]
bind = 127.0.0.1
port = {jcli_port}
authentication = False
log_level = INFO
"""


# jasmind.py takes a lock at the fixed path /tmp/jasmind (jasmin#265: two daemons must not share
# one store), so a second Jasmin on the machine (another test, a developer's) would refuse to
# start. Each test Jasmin has its own store under its root, so its lock goes there too; the
# daemon itself runs unchanged.
LAUNCHER = """
import os, runpy, sys, lockfile
shared = lockfile.FileLock
lockfile.FileLock = lambda path, *args, **kwargs: shared(os.environ["JASMIN_LOCK"], *args, **kwargs)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _spec() -> Path:
    """AMQP 0-9-1 spec: not in Jasmin's wheel; txAMQP (Jasmin's AMQP client) ships it."""
    found = sorted(
        (REPO / ".venv-jasmin").glob("lib/python*/site-packages/txamqp/specs/*/amqp0-9-1*.xml")
    )
    if not found:
        raise JasminUnavailable("txamqp's AMQP 0-9-1 spec is missing from .venv-jasmin")
    return found[0]


def start_jasmin(root: Path, smsc_port: int, smsc_user: tuple[str, str]) -> JasminStack:
    """Start redis + jasmind under `root` and configure it to route to the SMSC simulator."""
    for folder in ("etc/jasmin/store", "var/log/jasmin", "redis"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    vhost = f"navreme-sms-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    stack = JasminStack(root, free_port(), free_port(), vhost)
    try:
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(root / "redis")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.processes.append(redis)
        wait_for_port(redis_port, 10, redis)
        config = root / "etc" / "jasmin" / "jasmin.cfg"
        config.write_text(
            CONFIG.format(
                smpp_port=stack.smpp_port,
                smpp_pb_port=free_port(),
                cm_port=free_port(),
                router_port=free_port(),
                interceptor_port=free_port(),
                http_port=free_port(),
                amqp_host=RABBITMQ[0],
                amqp_port=RABBITMQ[1],
                vhost=vhost,
                spec=_spec(),
                redis_port=redis_port,
                jcli_port=stack.jcli_port,
            )
        )
        env = {
            **os.environ,
            "ROOT_PATH": str(root),
            "LOG_PATH": str(root / "var/log/jasmin"),
            "JASMIN_LOCK": str(root / "jasmind"),
        }
        with (root / "jasmind.out").open("wb") as out:
            jasmind = subprocess.Popen(
                [str(JASMIN_PYTHON), "-c", LAUNCHER, str(JASMIND), "-c", str(config)]
                + ["--enable-dlr-thrower", "--enable-dlr-lookup", "--disable-http-api"],
                env=env,
                cwd=root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        stack.processes.append(jasmind)
        wait_for_port(stack.jcli_port, 60, jasmind)
        wait_for_port(stack.smpp_port, 30, jasmind)
        _configure(stack, smsc_port, smsc_user)
    except BaseException:
        stack.stop()
        raise
    return stack


def _configure(stack: JasminStack, smsc_port: int, smsc_user: tuple[str, str]) -> None:
    cli = stack.jcli()
    try:
        cli.run("group -a", "gid gov", "ok")
        for uid, (username, password) in (("nav1", USER), ("slow1", SLOW_USER)):
            cli.run(
                "user -a",
                f"username {username}",
                f"password {password}",
                f"uid {uid}",
                "gid gov",
                f"mt_messaging_cred valuefilter dst_addr {DESTINATION_FILTER}",
                "ok",
            )
        cli.run("user -u slow1", "mt_messaging_cred quota smpps_throughput 0.01", "ok")
        cli.run(
            "smppccm -a",
            "cid smsc1",
            "host 127.0.0.1",
            f"port {smsc_port}",
            f"username {smsc_user[0]}",
            f"password {smsc_user[1]}",
            "ok",
        )
        cli.run("mtrouter -a", "type DefaultRoute", "connector smppc(smsc1)", "rate 0.00", "ok")
        cli.run("morouter -a", "type DefaultRoute", f"connector smpps({USER[0]})", "ok")
        cli.run("smppccm -1 smsc1")
    finally:
        cli.close()
