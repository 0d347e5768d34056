"""Page speed: p50 / p95 / p99 of the main server-rendered pages over a seeded country.

Seeds the demo country (default 100 000 persons, with today's proactive rules run) into a
scratch database, adds the browser tests' world on top (a citizen with documents, an offer,
appointments, a conversation; an officer and a supervisor), serves it with `navreme serve`
in a subprocess, and asks each page N times, one request after another, through a real HTTP
client (httpx) with the visitor's session cookie. Prints a Markdown table; pages the app does
not have are reported as "absent".

    python bench/pages.py [--persons 100000] [--backend postgres|sqlite] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess  # nosec B404 - starts our own server
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the seeded world lives with the browser tests

from navreme.cli.bench import log  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "navreme_pages_bench"


@dataclass(frozen=True)
class Target:
    name: str
    route: str  # as the app declares it: "absent" when the app has no such route
    who: str  # anonymous | citizen | officer | supervisor
    url: Callable[[Any], str] | None = None


TARGETS = (
    Target("start", "/", "anonymous"),
    Target("citizen sign-in", "/login/citizen", "anonymous"),
    Target("my services", "/me", "citizen"),
    Target("my appointments", "/me/appointments", "citizen"),
    Target("appointment", "/me/appointments/{appointment_id}", "citizen",
           lambda w: f"/me/appointments/{w.held.id}"),
    Target("messages", "/me/messages", "citizen"),
    Target("officer today", "/officer", "officer"),
    Target("officer waiting", "/officer/waiting", "officer"),
    Target("dashboard", "/officer/dashboard", "supervisor"),
)  # fmt: skip


@dataclass
class Timing:
    target: Target
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    size: int = 0

    def row(self) -> str:
        if not self.seconds:
            return f"| {self.target.name} | {self.target.who} | absent | | | | | |"
        q = statistics.quantiles(self.seconds, n=100) if len(self.seconds) > 1 else [0.0] * 99
        statuses = ", ".join(f"{code}×{n}" for code, n in sorted(self.statuses.items()))
        return (
            f"| {self.target.name} | {self.target.who} | {statuses} | {len(self.seconds)} | "
            f"{q[49] * 1000:.1f} | {q[94] * 1000:.1f} | {q[98] * 1000:.1f} | {self.size / 1024:.1f} |"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _admin(sql: str, admin: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def database(args: argparse.Namespace, scratch: Path) -> str:
    """A fresh, empty database for the run; its URL."""
    if args.backend == "sqlite":
        return f"sqlite:///{scratch / 'navreme.db'}"
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    _admin(f"CREATE DATABASE {DATABASE}", args.pg_admin)
    return args.pg_admin.rsplit("/", 1)[0] + f"/{DATABASE}"


def seed(args: argparse.Namespace) -> Any:
    """The demo country, today's proactive offers, then the world the pages are opened as."""
    from sqlalchemy.orm import Session
    from tests.browser.world import build_world

    from navreme import config, db
    from navreme.cli.seed import start_proactive_rules
    from navreme.demo.seed import seed_demo_country
    from navreme.migrate import ensure_database

    config.get_settings.cache_clear()
    settings = config.get_settings()
    ensure_database(settings)
    started = time.perf_counter()
    seed_demo_country(settings, persons=args.persons)
    if args.rules:
        log(start_proactive_rules())
    engine = db.engine_for(settings.resolved_database_url)
    with Session(bind=engine, expire_on_commit=False) as session:
        world = build_world(session)
    log(f"seeded {args.persons:,} persons in {time.perf_counter() - started:.0f} s")
    return world


def cookies(world: Any) -> dict[str, dict[str, str]]:
    """A session cookie per kind of visitor."""
    from sqlalchemy.orm import Session

    from navreme import config, db
    from navreme.identity.actions import start_session

    subjects = {"citizen": ("citizen", world.citizen.id),
                "officer": ("officer", world.officer.officer.id),
                "supervisor": ("officer", world.supervisor.officer.id)}  # fmt: skip
    jar: dict[str, dict[str, str]] = {"anonymous": {}}
    with Session(bind=db.engine_for(config.get_settings().resolved_database_url)) as session:
        for who, (kind, subject_id) in subjects.items():
            new = start_session(session, subject_kind=kind, subject_id=subject_id, replaces=None)
            jar[who] = {"navreme_session": new.token}
        session.commit()
    return jar


def page_routes() -> set[str]:
    from tests.browser.sitemap import page_routes as routes_of

    from navreme.web.app import create_app

    return set(routes_of(create_app()))


def serve(port: int) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "navreme"), "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL)  # noqa: S603  # nosec B603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def measure(base_url: str, target: Target, world: Any, jar: dict[str, str], n: int) -> Timing:
    import httpx

    timing = Timing(target)
    url = (target.url(world) if target.url else target.route) + "?lang=mk"
    with httpx.Client(base_url=base_url, cookies=jar, follow_redirects=False) as client:
        for _ in range(max(3, n // 20)):  # warm-up: templates compiled, caches filled
            client.get(url)
        for _ in range(n):
            began = time.perf_counter()
            response = client.get(url)
            timing.seconds.append(time.perf_counter() - began)
            timing.statuses[response.status_code] = timing.statuses.get(response.status_code, 0) + 1
            timing.size = len(response.content)
    return timing


def table(args: argparse.Namespace, timings: list[Timing]) -> str:
    lines = [
        f"Pages over {args.persons:,} persons on {args.backend}, {args.requests} sequential "
        "requests each after a warm-up (httpx → navreme serve, one process):",
        "",
        "| page | as | statuses | n | p50 ms | p95 ms | p99 ms | KiB |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    return "\n".join(lines + [timing.row() for timing in timings])


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--no-rules", dest="rules", action="store_false",
                        help="skip today's proactive rules (fewer offers)")  # fmt: skip
    parser.add_argument("--pg-admin", default=PG_ADMIN)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    scratch = Path(tempfile.mkdtemp(prefix="navreme-pages-"))
    os.environ.update(
        NAVREME_DATABASE_URL=database(args, scratch), NAVREME_HOME=str(scratch),
        NAVREME_ENV="test", NAVREME_SECRET_KEY=secrets.token_urlsafe(48),
        NAVREME_COOKIE_SECURE="false",
    )  # fmt: skip
    world = seed(args)
    jar, routes, port = cookies(world), page_routes(), _free_port()
    server = serve(port)
    try:
        timings = []
        for target in TARGETS:
            if target.route not in routes:
                timings.append(Timing(target))
                continue
            log(f"measuring {target.name}")
            timings.append(measure(f"http://127.0.0.1:{port}", target, world, jar[target.who],
                                   args.requests))  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
            if args.backend == "postgres":
                _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", args.pg_admin)
    print(table(args, timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
