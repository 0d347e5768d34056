"""What `/metrics` costs: the latency middleware on every request, and one scrape.

Three measurements on a scratch embedded (SQLite) database:

1. the middleware alone, around a trivial ASGI app that answers at once (µs per request);
2. `GET /healthz` through the whole app (httpx over ASGI, no sockets), with and without
   `metrics.install`, one request each in turn so that a busy machine hurts both alike;
3. `GET /metrics`: a scrape that reads the database, and one served from the cache.

Prints a Markdown table.

    python bench/metrics.py [--requests 3000] [--rounds 5]  (rounds: of the middleware alone)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def _configure(home: Path) -> None:
    os.environ.update(NAVREME_HOME=str(home), NAVREME_ENV="development",
                      NAVREME_DATABASE_URL=f"sqlite:///{home / 'navreme.db'}")  # fmt: skip
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from navreme import config

    config.get_settings.cache_clear()


def _apps() -> tuple[Any, Any]:
    """The app as served, and the same app without the metrics middleware and route."""
    from navreme.web import app as web_app
    from navreme.web import metrics

    with_metrics = web_app.create_app()
    install = metrics.install
    metrics.install = lambda app: None  # type: ignore[assignment]
    try:
        without_metrics = web_app.create_app()
    finally:
        metrics.install = install  # type: ignore[assignment]
    return with_metrics, without_metrics


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _noop_send(message: Any) -> None:
    return None


async def _per_call_us(app: Callable[..., Any], calls: int) -> float:
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    started = time.perf_counter()
    for _ in range(calls):
        await app(dict(scope), None, _noop_send)
    return (time.perf_counter() - started) / calls * 1e6


async def _middleware_alone(calls: int, rounds: int) -> tuple[float, float]:
    from navreme.web.metrics import RequestTimer, RouteTemplates

    timed = RequestTimer(_answer, RouteTemplates([]))
    bare, wrapped = [], []
    for _ in range(rounds):
        bare.append(await _per_call_us(_answer, calls))
        wrapped.append(await _per_call_us(timed, calls))
    return statistics.median(bare), statistics.median(wrapped)


async def _requests_ms(app: Any, path: str, count: int) -> list[float]:
    import httpx

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    seconds = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.get(path)
            seconds.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code}")
    return seconds


def _quantiles(samples: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(samples, n=100)
    return q[49], q[94], statistics.fmean(samples)


async def _whole_app(requests: int) -> dict[str, list[float]]:
    """Alternate one request without and one with metrics, so load drift hits both alike."""
    import httpx

    apps = dict(zip(("without", "with"), _apps(), strict=True))
    found: dict[str, list[float]] = {"without": [], "with": []}
    clients = {
        label: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
        for label, app in apps.items()
    }
    for round_ in range(requests + 200):  # the first 200 warm up (imports, connections)
        for label, client in clients.items():
            started = time.perf_counter()
            response = await client.get("/healthz")
            if round_ >= 200:
                found[label].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"/healthz: {response.status_code}")
    for client in clients.values():
        await client.aclose()
    return found


async def _scrapes(count: int) -> dict[str, list[float]]:
    from navreme import config

    found = {}
    for label, cache in (("scrape, database read", "0"), ("scrape, from the cache", "60")):
        os.environ["NAVREME_METRICS_CACHE_SECONDS"] = cache
        config.get_settings.cache_clear()
        with_metrics, _ = _apps()
        await _requests_ms(with_metrics, "/metrics", 5)
        found[label] = await _requests_ms(with_metrics, "/metrics", count)
    return found


def _table(alone: tuple[float, float], whole: dict[str, list[float]],
           scrapes: dict[str, list[float]]) -> str:  # fmt: skip
    bare, wrapped = alone
    lines = [
        "| what | requests | p50 ms | p95 ms | mean ms |", "|---|---|---|---|---|",
    ]  # fmt: skip
    for label, samples in (
        ("GET /healthz without metrics", whole["without"]),
        ("GET /healthz with metrics", whole["with"]),
        *scrapes.items(),
    ):
        p50, p95, mean = _quantiles(samples)
        lines.append(f"| {label} | {len(samples)} | {p50:.3f} | {p95:.3f} | {mean:.3f} |")
    p50_delta = (_quantiles(whole["with"])[0] - _quantiles(whole["without"])[0]) * 1000
    lines += [
        "",
        f"Middleware alone (trivial ASGI app): {bare:.1f} µs bare, {wrapped:.1f} µs timed, "
        f"+{wrapped - bare:.1f} µs per request.",
        f"Whole app, /healthz p50 difference: {p50_delta:+.0f} µs, mean difference: "
        f"{(statistics.fmean(whole['with']) - statistics.fmean(whole['without'])) * 1000:+.0f} µs.",
    ]
    return "\n".join(lines)


async def main(requests: int, rounds: int) -> None:
    alone = await _middleware_alone(20_000, rounds)
    whole = await _whole_app(requests)
    scrapes = await _scrapes(100)
    print(_table(alone, whole, scrapes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="navreme-metrics-bench-") as scratch:
        _configure(Path(scratch))
        asyncio.run(main(arguments.requests, arguments.rounds))
