"""`navreme bench rules|planning|booking`: benchmarks beside their peers (OpenFisca, OR-Tools,
a naive booking route).

The benchmark itself lives in the source checkout's `bench/rules.py` (it needs numpy and
openfisca-core: `make bench-rules`, or `uv sync --extra bench`); this is its command line.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType

import typer

app = typer.Typer(help="Benchmarks (from a source checkout).", no_args_is_help=True)

BENCH_DIR = Path(__file__).resolve().parents[3] / "bench"


def log(message: str) -> None:
    """Progress for the person watching: stderr, so the table on stdout stays clean."""
    print(message, file=sys.stderr, flush=True)


def parse_sizes(values: list[str] | None, default: tuple[int, ...]) -> list[int]:
    """`--persons 10000,100_000 --persons 1800000` → [10000, 100000, 1800000]."""
    if not values:
        return list(default)
    return [int(s.replace("_", "")) for v in values for s in v.split(",") if s.strip()]


def _bench_module(name: str) -> ModuleType:
    path = BENCH_DIR / f"{name}.py"
    if not path.is_file():
        typer.echo(f"navreme: {path} not found: benchmarks run from a source checkout", err=True)
        raise typer.Exit(2)
    spec = importlib.util.spec_from_file_location(f"navreme_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise typer.Exit(2)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@app.command("rules")
def rules(
    persons: list[str] = typer.Option(
        None, "--persons", help="sizes, repeatable or a comma list [default: 10000,100000,1800000]"
    ),
    rules: int = typer.Option(20, "--rules", min=1, max=20, help="how many bench rules"),
    backend: str = typer.Option("both", "--backend", help="sqlite, postgres or both"),
    repeat: int = typer.Option(5, "--repeat", min=1, help="timed repetitions after a warm-up"),
    materialise_repeat: int | None = typer.Option(
        None, "--materialise-repeat", min=1, help="run_rule × 20 repetitions [default: --repeat]"
    ),
    reuse: bool = typer.Option(False, "--reuse", help="keep seeded databases under var/bench/"),
    seed: int = typer.Option(2021, "--seed", help="the demo country's seed"),
    as_of: datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="seed and evaluation day [default: 2026-11-22]"
    ),
    pg_admin: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "--pg-admin",
        help="a PostgreSQL database to CREATE the scratch databases from",
    ),  # fmt: skip
) -> None:
    """Evaluate 20 rules over 10 k–1.8 M persons on SQLite/PostgreSQL, beside OpenFisca."""
    if backend not in ("sqlite", "postgres", "both"):
        raise typer.BadParameter("sqlite, postgres or both", param_hint="--backend")
    try:
        import numpy  # noqa: F401
        import openfisca_core  # noqa: F401
    except ImportError as missing:
        typer.echo(f"navreme: {missing.name} is missing: install the bench extra "
                   "(make bench-rules, or uv sync --extra bench)", err=True)  # fmt: skip
        raise typer.Exit(2) from None
    bench = _bench_module("rules")
    argv = ["--rules", str(rules), "--backend", backend, "--repeat", str(repeat),
            "--seed", str(seed), "--pg-admin", pg_admin]  # fmt: skip
    for value in persons or []:
        argv += ["--persons", value]
    if reuse:
        argv.append("--reuse")
    if materialise_repeat:
        argv += ["--materialise-repeat", str(materialise_repeat)]
    if as_of is not None:
        argv += ["--as-of", as_of.date().isoformat()]
    command = " ".join(["navreme", "bench", *sys.argv[sys.argv.index("rules") :]])
    raise typer.Exit(bench.main(bench.arguments(argv), command))


@app.command("planning")
def planning(
    persons: list[str] = typer.Option(
        None, "--persons", help="sizes, repeatable or a comma list [default: 10000,100000,1800000]"
    ),
    repeat: int = typer.Option(5, "--repeat", min=1, help="timed runs of our planner"),
    peer_repeat: int = typer.Option(3, "--peer-repeat", min=1, help="timed runs of OR-Tools"),
    depth: int = typer.Option(4, "--depth", min=1, help="candidate offices per resident (K)"),
    load: float = typer.Option(0.95, "--load", min=0.01, help="persons / usable capacity"),
    buffer: float = typer.Option(0.1, "--buffer", min=0.0, max=0.99, help="no-show buffer"),
    seed: int = typer.Option(2023, "--seed", help="the synthetic campaign's seed"),
) -> None:
    """Plan renewal waves for 10 k–1.8 M persons, beside the OR-Tools min-cost-flow optimum."""
    try:
        import ortools  # noqa: F401
    except ImportError:
        typer.echo("navreme: ortools is missing: install the bench extra "
                   "(make bench-planning, or uv sync --extra bench)", err=True)  # fmt: skip
        raise typer.Exit(2) from None
    bench = _bench_module("planning")
    argv = ["--repeat", str(repeat), "--peer-repeat", str(peer_repeat), "--depth", str(depth),
            "--load", str(load), "--buffer", str(buffer), "--seed", str(seed)]  # fmt: skip
    for value in persons or []:
        argv += ["--persons", value]
    command = " ".join(["navreme", "bench", *sys.argv[sys.argv.index("planning") :]])
    raise typer.Exit(bench.main(bench.arguments(argv), command))


@app.command("booking")
def booking(
    clients: int = typer.Option(10_000, "--clients", min=10, help="racing citizens"),
    slots_per_counter: int = typer.Option(100, "--slots-per-counter", min=1),
    workers: int = typer.Option(2, "--workers", min=1, help="server processes"),
    concurrency: int = typer.Option(200, "--concurrency", min=1, help="requests in flight"),
) -> None:
    """Racing bookings through the API on PostgreSQL, beside a naive SELECT-then-INSERT route."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        typer.echo("navreme: aiohttp is missing: install the bench extra "
                   "(make bench-booking, or uv sync --extra bench)", err=True)  # fmt: skip
        raise typer.Exit(2) from None
    bench = _bench_module("booking")
    argv = ["--clients", str(clients), "--slots-per-counter", str(slots_per_counter),
            "--workers", str(workers), "--concurrency", str(concurrency)]  # fmt: skip
    command = " ".join(["navreme", "bench", *sys.argv[sys.argv.index("booking") :]])
    raise typer.Exit(bench.main(bench.arguments(argv), command))
