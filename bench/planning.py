"""Benchmark the wave planner against the exact optimum (OR-Tools min-cost flow), same instance.

    .venv/bin/navreme bench planning --persons 10000,100000,1800000
    .venv/bin/python bench/planning.py --persons 100000 --repeat 3

The instance is drawn synthetically from the demo country's municipality data (no database):
`persons` persons affected by a mandated ID-card replacement, campaign 2023-05-01 → 2024-02-12
(Monday–Friday less North Macedonia's public holidays). Residents (83 %) live in a municipality
in proportion to its 2021 population and may go to their municipality's MVR office or the
K-1 nearest others; persons abroad (17 %, `census.ABROAD_SHARE`) come only in July–August, to
the office of their last municipality (known for 60 %, else the capital's). Expiry dates come
from ID cards issued uniformly over the ten years before the 2019-02-12 cut-off, weights from
`inputs.urgency_weight`. Capacity: each MVR office's demo counters (`demo.offices.counters`) ×
appointments per counter per day, less a no-show buffer; appointments per counter are chosen
so that the persons fill `--load` of the campaign's usable capacity (so the three sizes are
equally tight; a fractional daily rate is spread evenly over the days).

Both solvers get the same cohorts (identical persons merged, `navreme.planning.cohorts`) and
produce a full per-person `WavePlan`; both plans are scored by the same `objective()`.
OR-Tools gets its strongest formulation we know: cohort → (office, weight, window) hub →
office-day → sink, so the day cost w × d sits once per hub and office-day instead of once
per cohort; an unplanned arc per cohort carries the penalty. Costs are integers in 1/100 km
(distances have 0.1 km and weights 0.05 steps, so the scaling is exact).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from navreme.cli.bench import log as _log
from navreme.cli.bench import parse_sizes
from navreme.planning import inputs, waves
from navreme.planning.cohorts import Cohorts
from navreme.planning.serve import Allocation

DEFAULT_SIZES = (10_000, 100_000, 1_800_000)
START, DEADLINE = date(2023, 5, 1), date(2024, 2, 12)
# North Macedonia's public holidays (non-working days for all citizens) in the campaign.
HOLIDAYS = frozenset({
    date(2023, 5, 1), date(2023, 5, 24), date(2023, 8, 2), date(2023, 9, 8),
    date(2023, 10, 11), date(2023, 10, 23), date(2023, 12, 8), date(2024, 1, 1),
    date(2024, 1, 2), date(2024, 1, 7), date(2024, 1, 8),
})  # fmt: skip
CAPITAL = "MK-814"  # Centar, City of Skopje
LAST_MUNICIPALITY_KNOWN = 0.6
CUTOFF, ID_CARD_YEARS = date(2019, 2, 12), 10
SCALE = 100  # integer costs for OR-Tools: 1/100 km
SEED = 2023


@dataclass
class Synthetic:
    instance: waves.WaveInstance
    offices: int
    per_counter: float


def draw_instance(persons: int, *, depth: int, load: float, buffer: float, seed: int) -> Synthetic:
    """The synthetic campaign described in the module docstring."""
    from navreme.demo import census
    from navreme.demo.offices import counters
    from navreme.demo.reference import load_reference

    rng = np.random.default_rng(seed)
    towns = load_reference()
    where = np.array([[m.latitude, m.longitude] for m in towns])
    population = np.array([m.population for m in towns], dtype=np.float64)
    days = inputs.working_days(START, DEADLINE, HOLIDAYS)
    abroad = rng.random(persons) < census.ABROAD_SHARE
    home = rng.choice(len(towns), size=persons, p=population / population.sum())
    capital = next(i for i, m in enumerate(towns) if m.code == CAPITAL)
    home[abroad & (rng.random(persons) >= LAST_MUNICIPALITY_KNOWN)] = capital
    by_town, distance_by_town = inputs.nearest_offices(
        home=np.arange(len(towns)), origin=where, offices=where, depth=depth)  # fmt: skip
    candidates, distance = by_town[home], distance_by_town[home]
    candidates[abroad, 1:], distance[abroad] = -1, 0.0  # visiting: their own office only
    issued = np.datetime64(CUTOFF) - rng.integers(1, 365 * ID_CARD_YEARS, size=persons)
    expires = issued + np.timedelta64(365 * ID_CARD_YEARS + 2, "D")
    weight = inputs.urgency_weight(expires, start=START, deadline=DEADLINE)
    summer = inputs.summer_window(days)
    earliest = np.where(abroad, summer[0], 0).astype(np.int32)
    latest = np.where(abroad, summer[1], len(days) - 1).astype(np.int32)
    desks = np.array([counters(m.population) for m in towns])
    per_counter = persons / (load * desks.sum() * len(days))  # usable, after the buffer
    instance = waves.WaveInstance(
        days=days, capacity=spread_capacity(desks * per_counter, len(days)), candidates=candidates,
        distance_km=distance, weight=weight, earliest=earliest, latest=latest,
    )  # fmt: skip
    return Synthetic(instance, len(towns), per_counter / (1 - buffer))


def spread_capacity(daily: np.ndarray, days: int) -> np.ndarray:
    """int32 (O, D) averaging `daily[o]` per day: a fractional rate (a sample of the country
    gets a sample of its counters) spread evenly, floor((d+1)·a) − floor(d·a)."""
    cumulative = np.floor(np.arange(days + 1)[None, :] * daily[:, None])
    return np.diff(cumulative, axis=1).astype(np.int32)


# ------------------------------------------------------------------------------------------
# The exact peer: OR-Tools min-cost flow on the cohorts.


@dataclass
class Graph:
    tails: np.ndarray
    heads: np.ndarray
    capacities: np.ndarray
    costs: np.ndarray
    supplies: np.ndarray
    cohort_arcs: np.ndarray  # arcs cohort → hub: (arc index range) and their cohort
    cohort_of_arc: np.ndarray
    hub_of_arc: np.ndarray
    cell_arcs: np.ndarray  # arcs hub → cell
    hub_of_cell_arc: np.ndarray
    cell_of_arc: np.ndarray  # office * D + day

    @property
    def nodes(self) -> int:
        return int(self.supplies.size)

    @property
    def arcs(self) -> int:
        return int(self.tails.size)


def build_graph(cohorts: Cohorts, capacity: np.ndarray) -> Graph:
    """cohort → (office, weight, window) hub → office-day → sink; cohort → sink if unplanned."""
    n_cohorts, days = cohorts.size, capacity.shape[1]
    kk = cohorts.candidates.shape[1]
    pair_cohort = np.repeat(np.arange(n_cohorts), kk)
    pair_office = cohorts.candidates.reshape(-1).astype(np.int64)
    start = np.maximum(cohorts.earliest, 0)[pair_cohort]
    stop = np.minimum(cohorts.latest, days - 1)[pair_cohort]
    ok = (pair_office >= 0) & (start <= stop)
    pair_cohort, pair_office, start, stop = pair_cohort[ok], pair_office[ok], start[ok], stop[ok]
    pair_distance = cohorts.distance_km.reshape(-1)[ok]
    weight_cents = np.rint(cohorts.weight.astype(np.float64) * SCALE).astype(np.int64)
    hub_key = np.stack([pair_office, weight_cents[pair_cohort], start, stop], axis=1)
    hubs, hub_of_pair = np.unique(hub_key, axis=0, return_inverse=True)
    hub_of_pair = hub_of_pair.reshape(-1)
    # hub → cell arcs: every open day of the hub's window at its office
    lengths = hubs[:, 3] - hubs[:, 2] + 1
    hub_rep = np.repeat(np.arange(len(hubs)), lengths)
    day = hubs[hub_rep, 2] + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    office = hubs[hub_rep, 0]
    open_ = capacity[office, day] > 0
    hub_rep, day, office = hub_rep[open_], day[open_], office[open_]
    cell = office * days + day
    cells, cell_node_of_arc = np.unique(cell, return_inverse=True)
    n_hubs, n_cells = len(hubs), len(cells)
    hub0, cell0 = n_cohorts, n_cohorts + n_hubs
    sink = cell0 + n_cells
    tails = np.concatenate(
        [pair_cohort, hub0 + hub_rep, cell0 + np.arange(n_cells), np.arange(n_cohorts)]
    )
    heads = np.concatenate([hub0 + hub_of_pair, cell0 + cell_node_of_arc.reshape(-1),
                            np.full(n_cells, sink), np.full(n_cohorts, sink)])  # fmt: skip
    big = int(cohorts.count.sum())
    capacities = np.concatenate([cohorts.count[pair_cohort], np.full(len(hub_rep), big),
                                 capacity.reshape(-1)[cells], cohorts.count])  # fmt: skip
    unplanned = np.rint((waves.UNPLANNED_COST + cohorts.weight.astype(np.float64) * days) * SCALE)
    costs = np.concatenate([np.rint(pair_distance.astype(np.float64) * SCALE), hubs[hub_rep, 1] * day,
                            np.zeros(n_cells), unplanned]).astype(np.int64)  # fmt: skip
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_cohorts] = cohorts.count
    supplies[sink] = -big
    first_cell_arc = len(pair_cohort)
    return Graph(
        tails=tails, heads=heads, capacities=capacities.astype(np.int64), costs=costs,
        supplies=supplies, cohort_arcs=np.arange(len(pair_cohort)), cohort_of_arc=pair_cohort,
        hub_of_arc=hub_of_pair, cell_arcs=first_cell_arc + np.arange(len(hub_rep)),
        hub_of_cell_arc=hub_rep, cell_of_arc=cell,
    )  # fmt: skip


def solve_graph(graph: Graph) -> np.ndarray:
    """Optimal flows (int64 per arc); raises if OR-Tools does not report OPTIMAL."""
    from ortools.graph.python import min_cost_flow

    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        graph.tails, graph.heads, graph.capacities, graph.costs
    )
    solver.set_nodes_supplies(np.arange(graph.nodes), graph.supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"OR-Tools min-cost flow: status {status}")
    return solver.flows(np.arange(graph.arcs))


def flows_to_allocation(graph: Graph, flows: np.ndarray, days: int) -> tuple[np.ndarray, ...]:
    """Split each hub's flow between its cohorts (any split is optimal: they differ only
    before the hub) — cohort blocks and day blocks are laid end to end per hub and cut."""
    inflow = flows[graph.cohort_arcs]
    outflow = flows[graph.cell_arcs]
    in_order = np.argsort(graph.hub_of_arc, kind="stable")
    out_order = np.argsort(graph.hub_of_cell_arc, kind="stable")
    in_ends = np.cumsum(inflow[in_order])
    out_ends = np.cumsum(outflow[out_order])
    cuts = np.union1d(in_ends, out_ends)
    cuts = cuts[cuts > 0]
    pieces = np.diff(np.concatenate([[0], cuts]))
    at = cuts - 1
    cohort = graph.cohort_of_arc[in_order][np.searchsorted(in_ends, at, side="right")]
    cell = graph.cell_of_arc[out_order][np.searchsorted(out_ends, at, side="right")]
    return cohort, cell // days, cell % days, pieces


def ortools_plan(instance: waves.WaveInstance) -> tuple[waves.WavePlan, dict[str, float]]:
    """The optimal plan, with the time of each step."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    cohorts = waves.merge_persons(instance)
    times["merge"] = time.perf_counter() - started
    graph = build_graph(cohorts, instance.capacity)
    times["build"] = time.perf_counter() - started - times["merge"]
    flows = solve_graph(graph)
    times["solve"] = time.perf_counter() - started - times["merge"] - times["build"]
    days = instance.capacity.shape[1]
    allocation = Allocation(*flows_to_allocation(graph, flows, days))
    plan = waves.plan_from_allocation(instance, cohorts, allocation)
    times["total"] = time.perf_counter() - started
    times["nodes"], times["arcs"], times["cohorts"] = graph.nodes, graph.arcs, cohorts.size
    return plan, times


# ------------------------------------------------------------------------------------------


@dataclass
class Row:
    persons: int
    cohorts: int
    offices: int
    days: int
    per_counter: float
    ours_s: float
    ours_objective: float
    peer_s: float
    peer_build_solve_s: float
    peer_objective: float
    nodes: int
    arcs: int
    planned: int
    unplanned: int
    peer_planned: int
    max_load: float
    violations: int
    service_gap: float | None


def _timed(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """One warm-up, then `repeat` runs: (median seconds, last result)."""
    result = work()
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def violations(instance: waves.WaveInstance, plan: waves.WavePlan) -> int:
    """Persons planned off their candidates or window, plus office-days over capacity."""
    planned = plan.office >= 0
    on_candidate = (instance.candidates == plan.office[:, None]).any(axis=1)
    in_window = (plan.day >= instance.earliest) & (plan.day <= instance.latest)
    over = waves.office_day_load(instance, plan) > instance.capacity
    return int((planned & ~(on_candidate & in_window)).sum() + over.sum())


def _served_cost(objective: float, unplanned: int) -> float:
    return objective - unplanned * waves.UNPLANNED_COST


def run_one(persons: int, args: argparse.Namespace) -> Row:
    drawn = draw_instance(
        persons, depth=args.depth, load=args.load, buffer=args.buffer, seed=args.seed
    )
    instance = drawn.instance
    _log(f"… {persons:,} persons: our planner ×{args.repeat} …")
    ours_s, plan = _timed(args.repeat, lambda: waves.plan_waves(instance))
    _log(f"    {ours_s:.3f} s; OR-Tools ×{args.peer_repeat} …")
    runs = []
    for _ in range(args.peer_repeat):
        runs.append(ortools_plan(instance))
    peer_plan, times = runs[-1]
    peer_s = statistics.median(t["total"] for _, t in runs)
    build_solve = statistics.median(t["build"] + t["solve"] for _, t in runs)
    _log(f"    {peer_s:.3f} s (build + solve {build_solve:.3f} s)")
    ours, peer = waves.objective(instance, plan), waves.objective(instance, peer_plan)
    unplanned = int((plan.office < 0).sum())
    peer_unplanned = int((peer_plan.office < 0).sum())
    load = waves.office_day_load(instance, plan)
    opened = instance.capacity > 0
    same = unplanned == peer_unplanned
    peer_served = _served_cost(peer, peer_unplanned)
    return Row(
        persons=persons, cohorts=int(times["cohorts"]), offices=drawn.offices,
        days=len(instance.days), per_counter=drawn.per_counter, ours_s=ours_s,
        ours_objective=ours, peer_s=peer_s, peer_build_solve_s=build_solve, peer_objective=peer,
        nodes=int(times["nodes"]), arcs=int(times["arcs"]), planned=persons - unplanned,
        unplanned=unplanned, peer_planned=persons - peer_unplanned,
        max_load=float((load[opened] / instance.capacity[opened]).max()) if opened.any() else 0.0,
        violations=violations(instance, plan) + violations(instance, peer_plan),
        service_gap=(_served_cost(ours, unplanned) - peer_served) / peer_served * 100 if same else None,
    )  # fmt: skip


def table(rows: list[Row], args: argparse.Namespace, command: str) -> str:
    from navreme import clock

    lines = [
        f"`{command}` — {clock.now():%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"Python {platform.python_version()}, {platform.processor() or platform.machine()}, "
        f"seed {args.seed}, K = {args.depth}, load {args.load:.0%}, no-show buffer "
        f"{args.buffer:.0%}; our planner: warm-up + {args.repeat} runs, OR-Tools: "
        f"{args.peer_repeat} run(s); medians",
        "",
        "| persons | cohorts | graph nodes / arcs | our plan (s) | OR-Tools merge + build + solve + plan (s) "
        "| of which build + solve (s) | speed ratio | our objective | optimum | gap "
        "| gap without the unplanned penalty | planned / unplanned (optimum planned) "
        "| max load / capacity | violations |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        gap = (r.ours_objective - r.peer_objective) / r.peer_objective * 100
        service = (
            f"{r.service_gap:.3f} %" if r.service_gap is not None else "— (planned counts differ)"
        )
        lines.append(
            f"| {r.persons:,} | {r.cohorts:,} | {r.nodes:,} / {r.arcs:,} | {r.ours_s:.3f} "
            f"| {r.peer_s:.3f} | {r.peer_build_solve_s:.3f} | {r.peer_s / r.ours_s:.1f}× "
            f"| {r.ours_objective:,.0f} | {r.peer_objective:,.0f} | {gap:.3f} % | {service} "
            f"| {r.planned:,} / {r.unplanned:,} ({r.peer_planned:,}) | {r.max_load:.3f} "
            f"| {r.violations} |"
        )
    lines.append("")
    for r in rows:
        lines.append(f"- {r.persons:,} persons: {r.offices} offices × {r.days} working days, "
                     f"{r.per_counter:.2f} appointments per counter per day before the buffer.")  # fmt: skip
    return "\n".join(lines)


def main(args: argparse.Namespace, command: str) -> int:
    rows = [run_one(size, args) for size in args.persons]
    print(table(rows, args, command))
    return 1 if any(r.violations for r in rows) else 0


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", action="append", help="sizes, repeatable or a comma list")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of our planner")
    parser.add_argument("--peer-repeat", type=int, default=3, help="timed runs of OR-Tools")
    parser.add_argument("--depth", type=int, default=4, help="candidate offices per resident (K)")
    parser.add_argument("--load", type=float, default=0.95, help="persons / usable capacity")
    parser.add_argument("--buffer", type=float, default=0.1, help="no-show buffer")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    args.persons = parse_sizes(args.persons, DEFAULT_SIZES)
    return args


if __name__ == "__main__":
    sys.exit(main(arguments(), " ".join(["python", *sys.argv])))
