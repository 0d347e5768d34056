"""`GET /metrics` for Prometheus: request latencies, and business gauges read from the database.

Two kinds of figures, kept apart on purpose:

* **Request latency** is measured in every API process by a pure ASGI middleware and labelled
  with the route *template* (`/api/v1/persons/{person_id}`), never the raw path, which may hold
  ids. With several API processes (`uvicorn --workers N`, or N `navreme serve` behind a balancer)
  set `PROMETHEUS_MULTIPROC_DIR` to a directory shared by them, emptied at every cluster start:
  each process then writes its figures there and one scrape of any process sums them all.
* **Business gauges** (queue depth per lane, deliveries by channel and status, offers by status,
  cases at SLA risk per department) are counted at scrape time from the database, the source of
  truth, so they are the same whichever process is scraped and need no worker to report them.
  One short read transaction of a few GROUP BY queries, cached for
  `NAVREME_METRICS_CACHE_SECONDS` so that many scrapers do not hammer the database. When the
  database is down the scrape still answers, with `navreme_database_up 0`.

Only aggregated counts leave here, but the door is not public: loopback clients may scrape
while `NAVREME_METRICS_TOKEN` is unset; once it is set, every scraper needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Select, and_, case, func, select
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from navreme import __version__
from navreme.config import Settings, get_settings
from navreme.web.errors import ApiError

log = logging.getLogger("navreme.web.metrics")

# Buckets with edges at the load goals (T25: p95 <= 300 ms, p99 <= 1 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # every path no route answers: bounded label values

REQUEST_SECONDS = Histogram(
    "navreme_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by route template",
    ("method", "route", "status"),
    buckets=LATENCY_BUCKETS,
)


# --- Request latency --------------------------------------------------------------------------


class RouteTemplates:
    """The template a request was routed to. FastAPI's routes leave themselves in the scope;
    plain Starlette routes and mounts (API docs, static files, /metrics) leave their endpoint,
    which is looked up here, built once on first use, when every route is in place."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self._routes = routes
        self._by_endpoint: dict[int, str] | None = None

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None and isinstance(getattr(route, "path_format", None), str):
            return str(route.path_format)
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        if self._by_endpoint is None:
            self._by_endpoint = _templates_by_endpoint(self._routes)
        return self._by_endpoint.get(id(endpoint), UNMATCHED)


def _templates_by_endpoint(routes: list[BaseRoute]) -> dict[int, str]:
    found: dict[int, str] = {}
    for route in routes:
        if isinstance(route, Route):
            found[id(route.endpoint)] = route.path_format
        elif isinstance(route, Mount):
            found[id(route.app)] = route.path_format
    return found


class RequestTimer:
    """Pure ASGI middleware: one histogram observation per HTTP request, nothing else on the
    hot path (no Request object, no body buffering). A request that raised counts as 5xx."""

    def __init__(self, app: ASGIApp, templates: RouteTemplates) -> None:
        self.app, self.templates = app, templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            labels = (method, self.templates.of(scope), f"{status // 100}xx")
            REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)


# --- Business gauges --------------------------------------------------------------------------


@dataclass
class _Reading:
    at: float  # time.monotonic() when read
    families: list[Metric]


class BusinessCollector(Collector):
    """Gauges counted from the database at scrape time, cached for a few seconds; one scrape at
    a time reads, the others wait for its result instead of querying again."""

    def __init__(self, settings: Callable[[], Settings] = get_settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._reading: _Reading | None = None

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("navreme_info", "The running Navreme version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield from self._cached()

    def _cached(self) -> list[Metric]:
        settings = self._settings()
        with self._lock:
            reading = self._reading
            if reading is None or time.monotonic() - reading.at >= settings.metrics_cache_seconds:
                families = _read(settings)  # the window starts when the reading is done
                reading = self._reading = _Reading(time.monotonic(), families)
            return reading.families


def _read(settings: Settings) -> list[Metric]:
    """`navreme_database_up`, the DB-derived families (none while the database is down) and
    the job queue's depth."""
    from sqlalchemy.exc import SQLAlchemyError

    up = GaugeMetricFamily("navreme_database_up", "1 when the database answered this scrape")
    try:
        families = read_all(settings)
    except (SQLAlchemyError, OSError) as down:
        log.warning("metrics: database unavailable (%s)", type(down).__name__)
        up.add_metric([], 0)
        return [up, *_queue_pending()]
    up.add_metric([], 1)
    return [up, *families, *_queue_pending()]


def read_all(settings: Settings) -> list[Metric]:
    """The business gauges, in one read transaction (deferred on SQLite: no write lock)."""
    from navreme.db import get_engine

    engine = get_engine(settings).execution_options(sqlite_begin="deferred")
    with engine.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL statement_timeout = '5s'")
        return [
            _queued_deliveries(connection),
            _deliveries(connection),
            _messages(connection),
            _offers(connection),
            _cases_at_risk(connection),
        ]


def _queued_deliveries(connection: Connection) -> Metric:
    """Queue depth per lane: deliveries due now, waiting for their time (backoff, quiet hours,
    an open breaker), and being sent under a worker's lease."""
    from navreme import clock
    from navreme.messaging.models import LANES, Delivery

    now = clock.now()
    unsent = Delivery.status.in_(("created", "failed-temporary"))
    states = {
        "due": and_(unsent, Delivery.not_before <= now),
        "waiting": and_(unsent, Delivery.not_before > now),
        "sending": Delivery.status == "sending",
    }
    sums = [func.coalesce(func.sum(case((test, 1), else_=0)), 0) for test in states.values()]
    query = (
        select(Delivery.lane, *sums)
        .where(Delivery.status.in_(("created", "failed-temporary", "sending")))
        .group_by(Delivery.lane)
    )  # fmt: skip
    counted = {row[0]: row[1:] for row in connection.execute(query)}
    family = GaugeMetricFamily(
        "navreme_deliveries_queued", "Unfinished deliveries per lane: due, waiting, sending",
        labels=["lane", "state"],
    )  # fmt: skip
    for lane in sorted({*LANES, *counted}):
        for state, value in zip(states, counted.get(lane, (0, 0, 0)), strict=True):
            family.add_metric([lane, state], value)
    return family


def _deliveries(connection: Connection) -> Metric:
    from navreme.messaging.models import Delivery

    query = select(Delivery.channel, Delivery.status, func.count()).group_by(
        Delivery.channel, Delivery.status
    )
    return _counted(
        connection, query, "navreme_deliveries", "Deliveries by channel and status (all time)",
        labels=["channel", "status"],
    )  # fmt: skip


def _messages(connection: Connection) -> Metric:
    from navreme.messaging.models import MESSAGE_STATUSES, Message

    query = select(Message.status, func.count()).group_by(Message.status)
    return _counted(
        connection, query, "navreme_messages", "Messages by status (all time)",
        labels=["status"], zeros=[(s,) for s in MESSAGE_STATUSES],
    )  # fmt: skip


def _offers(connection: Connection) -> Metric:
    from navreme.rules.models import OFFER_STATUSES, Offer

    query = select(Offer.status, func.count()).group_by(Offer.status)
    return _counted(
        connection, query, "navreme_offers", "Proactive offers by status",
        labels=["status"], zeros=[(s,) for s in OFFER_STATUSES],
    )  # fmt: skip


def _cases_at_risk(connection: Connection) -> Metric:
    """What the supervision view lists (`cases.sla.at_risk_cases`): open cases on a running
    clock whose last sweep found them at risk or breached, by department."""
    from navreme.cases.models import Case
    from navreme.cases.sla import ACCEPT_CLOCK, ESCALATED_STATES, RESOLVE_CLOCK
    from navreme.identity.models import Department

    department = func.coalesce(Department.code, "none")
    query = (
        select(department, Case.sla_state, func.count())
        .select_from(Case)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(
            Case.status.in_((*ACCEPT_CLOCK, *RESOLVE_CLOCK)),
            Case.sla_state.in_(ESCALATED_STATES),
        )
        .group_by(Department.code, Case.sla_state)
    )  # fmt: skip
    codes = connection.scalars(select(Department.code)).all()
    return _counted(
        connection, query, "navreme_cases_sla", "Open cases at SLA risk or breached",
        labels=["department", "state"],
        zeros=[(code, state) for code in codes for state in ESCALATED_STATES],
    )  # fmt: skip


def _counted(
    connection: Connection, query: Select[Any], name: str, documentation: str, *,
    labels: list[str], zeros: Iterable[tuple[str, ...]] = (),
) -> Metric:  # fmt: skip
    """A gauge family from a GROUP BY whose last column is the count; known label sets that
    have no rows read 0 rather than vanish (a series that disappears breaks alert rules)."""
    values = dict.fromkeys(zeros, 0)
    for *key, count in connection.execute(query):
        values[tuple(str(part) for part in key)] = int(count)
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, count in sorted(values.items()):
        family.add_metric(list(key), count)
    return family


def _queue_pending() -> list[Metric]:
    """The job queue's waiting items (Huey: SQLite file or Redis), when it answers."""
    try:
        from navreme.workers.app import huey

        pending = huey.pending_count()
    except Exception as unreachable:  # Redis down, queue file unreadable: leave the gauge out
        log.warning("metrics: job queue unavailable (%s)", type(unreachable).__name__)
        return []
    family = GaugeMetricFamily("navreme_jobs_pending", "Jobs waiting in the Huey queue")
    family.add_metric([], pending)
    return [family]


# --- The route --------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allow_scrape(request: Request, settings: Settings) -> None:
    """Loopback only while no token is set; the bearer token (compared in constant time)
    once it is. Raises the envelope's 401/403 otherwise."""
    token = settings.metrics_token
    if not token:
        if _is_loopback(request.client.host if request.client else None):
            return
        raise ApiError(403, "forbidden", "Metrics are served to loopback or with a token.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "unauthenticated", "A valid metrics token is required.")


class _DefaultRegistry(Collector):
    """This process's own figures (request latency, process and Python runtime)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition_registry(business: Collector) -> CollectorRegistry:
    """All processes' request figures under PROMETHEUS_MULTIPROC_DIR, else this process's."""
    registry = CollectorRegistry(auto_describe=False)
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if shared:
        MultiProcessCollector(registry, path=shared)
    else:
        registry.register(_DefaultRegistry())
    registry.register(business)
    return registry


def empty_shared_directory() -> Path | None:
    """Create or empty PROMETHEUS_MULTIPROC_DIR before the API processes start: files left by
    an earlier run would be summed into this one's figures. For whoever starts the processes
    (`navreme serve --workers N` in a container, a cluster harness), once, never per process."""
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not shared:
        return None
    directory = Path(shared)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def install(app: FastAPI) -> None:
    """Time every request and serve `GET /metrics` (kept out of the OpenAPI schema)."""
    registry = exposition_registry(BusinessCollector())

    def scrape(request: Request) -> Response:
        """Synchronous on purpose: the database reads run in the thread pool."""
        allow_scrape(request, get_settings())
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestTimer, templates=RouteTemplates(app.router.routes))
