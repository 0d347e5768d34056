"""Benchmark request classification (Boston 311 free text) and routing (Los Angeles 311).

    .venv/bin/python bench/classify.py [--datasets PATH] [--latency 2000]

Prints Markdown tables: macro-F1 and accuracy of the majority-class baseline, plain TF-IDF +
LinearSVC / LogisticRegression, and Navreme's model, on the fixed split (salted SHA-256 of the
request id, 80/20); the confusion matrix; training time; per-case latency p50/p99 of
`Model.predict` on single test texts; LA RequestType (× area) → agency routing tables.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from navreme.cases.classifier import built_in_model
from navreme.cases.evaluation import (
    BOSTON,
    LA,
    Score,
    Split,
    boston_split,
    confusion,
    la_routing,
    linear_baselines,
    majority_baseline,
    train_boston,
)
from navreme.demo.reference import datasets_dir


def _scores(title: str, scores: list[Score], *, seconds: bool = True) -> None:
    print(f"\n### {title}\n")
    print("| model | macro-F1 | accuracy |" + (" train s |" if seconds else ""))
    print("|---|---:|---:|" + ("---:|" if seconds else ""))
    for s in scores:
        extra = f" {s.train_seconds:.1f} |" if seconds else ""
        print(f"| {s.name} | {s.macro_f1:.3f} | {s.accuracy:.3f} |{extra}")


def _confusion(labels: list[str], matrix: list[list[int]]) -> None:
    print("\n### Confusion matrix, Navreme model (rows: truth, columns: predicted)\n")
    print("| truth \\ predicted | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for label, row in zip(labels, matrix, strict=True):
        print(f"| {label} | " + " | ".join(str(n) for n in row) + " |")


def _latency(predict: Callable[[str], object], texts: list[str], count: int) -> str:
    """Wall-clock p50/p99 of single predictions, and CPU-time p99 (what contention can't inflate)."""
    wall, cpu = [], []
    for text in (texts * (count // max(len(texts), 1) + 1))[:count]:
        started, started_cpu = time.perf_counter(), time.process_time()
        predict(text)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    p50, p99 = np.percentile(wall, 50), np.percentile(wall, 99)
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms (CPU time p99 {np.percentile(cpu, 99):.2f} ms)"


def boston(datasets: Path, latency_count: int) -> None:
    split: Split = boston_split(datasets)
    print(f"\n## Boston 311: free_text → service_name ({len(split.train_texts):,} train, "
          f"{len(split.test_texts):,} test, {len(set(split.train_labels))} classes)")  # fmt: skip
    model, ours = train_boston(datasets)
    _scores(
        "Classification (test split)", [majority_baseline(split), *linear_baselines(split), ours]
    )
    _confusion(*confusion(model, split))
    latency = _latency(model.predict, split.test_texts, latency_count)
    print(f"\nPer-case latency of `Model.predict` ({latency_count:,} single test texts): "
          f"{latency}; {model.metadata['features']:,} features.")  # fmt: skip


def built_in(latency_count: int) -> None:
    started = time.perf_counter()
    model = built_in_model()
    seconds = time.perf_counter() - started
    examples = ["The street light near the school is broken", "Ми истекува личната карта",
                "Më duhet certifikata e lindjes"]  # fmt: skip
    print(f"\nBuilt-in model (seed requests, {len(model.labels)} categories): trained in "
          f"{seconds:.1f} s at first use; {_latency(model.predict, examples, latency_count)}.")  # fmt: skip


def los_angeles(datasets: Path) -> None:
    print("\n## Los Angeles 311 (2017 subset): routing RequestType (× area) → Owner agency")
    for area in ("CD", "NC"):
        area_name = "council district" if area == "CD" else "neighbourhood council"
        _scores(f"Routing tables learned from the train split, area = {area} ({area_name})",
                la_routing(datasets, area=area), seconds=False)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=None,
        help="default: NAVREME_DATASETS or ../shared/datasets",
    )
    parser.add_argument("--latency", type=int, default=2000, help="single predictions timed")
    args = parser.parse_args()
    datasets = args.datasets or datasets_dir()
    print(f"# Request classification — {platform.python_version()}, {platform.machine()}")
    built_in(args.latency)
    if not (datasets / BOSTON).is_file():
        print(
            f"\nSkipped Boston: {datasets / BOSTON} not found (set --datasets or NAVREME_DATASETS)."
        )
    else:
        boston(datasets, args.latency)
    if not (datasets / LA).is_file():
        print(f"\nSkipped Los Angeles: {datasets / LA} not found.")
    else:
        los_angeles(datasets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
