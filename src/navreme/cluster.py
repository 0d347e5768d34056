"""The scaled mode on one machine: K API processes, W queue workers, stopped by their PIDs.

`navreme cluster up` migrates the database once (N processes must not race Alembic), then
starts `navreme serve --port P+i` for each API process and `navreme worker` for each worker,
every one in its own session with its own log, and writes their PIDs, ports and logs to
NAVREME_HOME/cluster/state.json. `down` stops exactly those PIDs (SIGTERM, SIGKILL after a
grace); `status` says which are alive and what each API's /healthz answers.

There is no reverse proxy here: a correct one (streamed bodies, hop-by-hop headers,
X-Forwarded-For, keep-alive, timeouts) is nginx's or HAProxy's job in production. Tests and
the load generator spread requests round-robin over the API ports themselves
(`RoundRobinClient`, and the locustfile's users), which is what a proxy would do.

The state file records each process's start time (from /proc), so a PID the kernel has since
given to another program is never signalled (Linux only, like the rest of the scaled mode).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess  # nosec B404 - Navreme's own processes, no shell
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from navreme.config import Settings

STATE_FILE = "state.json"
READY_WITHIN_S = 90.0
STOP_GRACE_S = 20.0
HEALTH_TIMEOUT_S = 5.0  # a busy process still answers; one that cannot in 5 s is not well
# The Popen handles of the members this process started: kept so they are polled (reaped)
# rather than dropped while running; a cluster started by another process is watched by PID.
_children: dict[int, subprocess.Popen[bytes]] = {}


class ClusterError(Exception):
    """The cluster cannot start or be found; the message says what to change."""


@dataclass(frozen=True)
class Plan:
    """What to start: API processes on consecutive ports from `base_port`, and workers."""

    apis: int = 2
    workers: int = 3
    base_port: int = 8100
    host: str = "127.0.0.1"
    worker_threads: int = 4


@dataclass
class Member:
    """One started process, as the state file keeps it."""

    role: str  # "api" | "worker"
    index: int
    pid: int
    started: str  # /proc start time: tells our process from a later one with the same PID
    log: str
    port: int | None = None


@dataclass
class State:
    home: str
    members: list[Member] = field(default_factory=list)

    @property
    def apis(self) -> list[Member]:
        return [m for m in self.members if m.role == "api"]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{m.port}" for m in self.apis]


@dataclass(frozen=True)
class MemberStatus:
    member: Member
    alive: bool
    health: str  # "ok", "down", the HTTP status, or "—" for workers


def cluster_dir(settings: Settings) -> Path:
    return settings.home.resolve() / "cluster"


def require_scaled_settings(settings: Settings) -> None:
    """The cluster shares one database and one queue: PostgreSQL and Redis, nothing embedded."""
    url = settings.resolved_database_url
    if not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ClusterError(
            "the cluster needs PostgreSQL: set NAVREME_DATABASE_URL=postgresql://… "
            f"(now: {'SQLite' if settings.is_sqlite else 'not PostgreSQL'}); "
            "several processes cannot share the embedded SQLite file"
        )
    if not settings.queue_url.startswith(("redis://", "rediss://")):
        raise ClusterError(
            "the cluster needs Redis for its queue: set NAVREME_QUEUE_URL=redis://host:port/db "
            "(now: empty, the embedded SQLite queue)"
        )


def create_database_if_absent(url: str) -> bool:
    """`CREATE DATABASE` for the URL's database on its server when missing (for `make cluster`);
    True when it was created."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)
        ).fetchone()
        if exists:
            return False
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
    return True


def up(settings: Settings, plan: Plan, env: Mapping[str, str] | None = None) -> State:
    """Migrate once, start every process, wait until each API answers /healthz."""
    require_scaled_settings(settings)
    folder = cluster_dir(settings)
    if (folder / STATE_FILE).exists() and any(s.alive for s in status(settings, probe=False)):
        raise ClusterError(f"a cluster is already running from {folder}; `navreme cluster down`")
    _migrate_once(settings)
    logs, metrics = folder / "logs", folder / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)  # multiprocess metrics of a previous run lie
    for made in (logs, metrics):
        made.mkdir(parents=True, exist_ok=True)
    base_env = dict(os.environ if env is None else env)
    state = State(home=str(settings.home.resolve()))
    try:
        for index in range(plan.apis):
            port = plan.base_port + index
            api_env = {**base_env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
            command = ["serve", "--host", plan.host, "--port", str(port)]
            state.members.append(_start("api", index, command, api_env, logs, port))
        for index in range(plan.workers):
            # One worker keeps the periodic schedule: three would run each minute's jobs thrice.
            periodic = "--periodic" if index == 0 else "--no-periodic"
            command = ["worker", "--workers", str(plan.worker_threads), periodic]
            state.members.append(_start("worker", index, command, base_env, logs))
        _write_state(folder, state)
        _await_ready(state)
    except BaseException:
        stop(state)
        raise
    return state


def _migrate_once(settings: Settings) -> None:
    from navreme.migrate import ensure_database

    ensure_database(settings)


def _start(
    role: str, index: int, arguments: list[str], env: dict[str, str], logs: Path,
    port: int | None = None,
) -> Member:  # fmt: skip
    log = logs / f"{role}-{index}.log"
    command = [sys.executable, "-m", "navreme.cli.main", *arguments]
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )  # fmt: skip
    _children[process.pid] = process
    return Member(role, index, process.pid, _start_time(process.pid) or "", str(log), port)


def _await_ready(state: State) -> None:
    """Every API answers /healthz 200 and every process is still alive, or the log says why."""
    deadline = time.monotonic() + READY_WITHIN_S
    waiting = list(state.apis)
    while waiting and time.monotonic() < deadline:
        for member in list(state.members):
            if not is_alive(member):
                raise ClusterError(f"{member.role} {member.index} exited:\n{_tail(member.log)}")
        waiting = [m for m in waiting if _health(m) != "ok"]
        if waiting:
            time.sleep(0.2)
    if waiting:
        late = waiting[0]
        raise ClusterError(f"api {late.index} not healthy in {READY_WITHIN_S:.0f} s:\n"
                           f"{_tail(late.log)}")  # fmt: skip


def load_state(settings: Settings) -> State:
    path = cluster_dir(settings) / STATE_FILE
    if not path.exists():
        raise ClusterError(f"no cluster state at {path}: start one with `navreme cluster up`")
    raw = json.loads(path.read_text("utf-8"))
    return State(home=raw["home"], members=[Member(**m) for m in raw["members"]])


def _write_state(folder: Path, state: State) -> None:
    temporary = folder / f"{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(state), indent=2), "utf-8")
    temporary.replace(folder / STATE_FILE)


def status(settings: Settings, *, probe: bool = True) -> list[MemberStatus]:
    """Each recorded process: alive or dead, and for API processes what /healthz answers."""
    found = []
    for member in load_state(settings).members:
        alive = is_alive(member)
        health = "—"
        if member.role == "api":
            health = _health(member) if probe and alive else "down"
        found.append(MemberStatus(member, alive, health))
    return found


def down(settings: Settings, grace_s: float = STOP_GRACE_S) -> list[Member]:
    """Stop every recorded process by its PID; the state file goes once they are all gone."""
    state = load_state(settings)
    stopped = stop(state, grace_s)
    (cluster_dir(settings) / STATE_FILE).unlink(missing_ok=True)
    return stopped


def stop(state: State, grace_s: float = STOP_GRACE_S) -> list[Member]:
    """SIGTERM each live member, SIGKILL those still alive after `grace_s`; reap our children."""
    live = [m for m in state.members if is_alive(m)]
    for member in live:
        _signal(member, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(is_alive(m) for m in live) and time.monotonic() < deadline:
        time.sleep(0.1)
    for member in live:
        if is_alive(member):
            _signal(member, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(is_alive(m) for m in live) and time.monotonic() < deadline:
        time.sleep(0.05)
    return live


def _signal(member: Member, number: signal.Signals) -> None:
    """The member's process group (uvicorn and Huey may have children), else the PID alone."""
    try:
        os.killpg(member.pid, number)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member.pid, number)


def is_alive(member: Member) -> bool:
    """Running, not a zombie, and still the process we started (same /proc start time)."""
    started = _start_time(member.pid)
    if started is None:  # gone, or exited and not yet collected: collect it if it is ours
        _reap(member.pid)
        return False
    return not member.started or started == member.started


def _reap(pid: int) -> None:
    """Collect a member that is our own child and has exited, so it is not left a zombie."""
    child = _children.get(pid)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)  # it has exited: this returns at once
            del _children[pid]
        return
    with contextlib.suppress(ChildProcessError):  # another `cluster up` started it: init reaps
        os.waitpid(pid, os.WNOHANG)


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _health(member: Member) -> str:
    try:
        answer = httpx.get(f"http://127.0.0.1:{member.port}/healthz", timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError:
        return "down"
    return "ok" if answer.status_code == 200 else str(answer.status_code)


def _tail(log: str, lines: int = 30) -> str:
    path = Path(log)
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])


class RoundRobinClient:
    """An httpx client that sends each request to the next API process in turn.

    What nginx's or HAProxy's round-robin upstream does in production, without a proxy hop:
    tests and benchmarks use it to spread their requests over every API process.
    """

    def __init__(self, urls: list[str], **options: Any) -> None:
        if not urls:
            raise ClusterError("no API process to send requests to")
        self.urls = list(urls)
        self._next: Iterator[str] = itertools.cycle(self.urls)
        self._client = httpx.Client(timeout=options.pop("timeout", 30), **options)

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        return self._client.request(method, next(self._next) + path, **options)

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RoundRobinClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
