"""Charts of both arms with matplotlib's headless Agg backend, each as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # headless: no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import numpy as np  # noqa: E402

from navreme.simulation.campaign import Campaign  # noqa: E402
from navreme.simulation.outcome import NEVER, Outcome  # noqa: E402


def write_charts(campaign: Campaign, folder: Path) -> list[Path]:
    """Cumulative documents issued and national office load, per arm; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (("documents-issued", _issued), ("office-load", _load)):
        figure, axes = plt.subplots(figsize=(9, 4.5))
        draw(axes, campaign)
        axes.axvline(campaign.timeline.days[campaign.timeline.deadline_index], color="grey",
                     linestyle="--", label="deadline")  # fmt: skip
        axes.legend()
        figure.autofmt_xdate()
        figure.tight_layout()
        for suffix in ("png", "svg"):
            path = folder / f"{name}.{suffix}"
            figure.savefig(path, dpi=110, metadata={"Date": None} if suffix == "svg" else None)
            written.append(path)
        plt.close(figure)
    return written


def _arms(campaign: Campaign) -> tuple[Outcome, Outcome]:
    return campaign.reactive, campaign.navreme


def _issued(axes: plt.Axes, campaign: Campaign) -> None:
    days = campaign.timeline.days
    for outcome in _arms(campaign):
        issued = outcome.issued[outcome.issued != NEVER]
        daily = np.bincount(issued, minlength=len(days))
        axes.plot(days, np.cumsum(daily) / 1e6, label=outcome.name)
    needed = campaign.country.holds.sum() / 1e6
    axes.axhline(needed, color="black", linewidth=0.8, label="documents to replace")
    axes.set_ylabel("documents issued (millions, cumulative)")
    axes.set_title(f"Documents issued, {campaign.country.persons:,} persons")


def _load(axes: plt.Axes, campaign: Campaign) -> None:
    days, working = campaign.timeline.days, campaign.timeline.working
    capacity = campaign.capacity.units.sum(axis=0)
    for outcome in _arms(campaign):
        load = (outcome.used + outcome.idle_held).sum(axis=0)
        axes.plot(days[working], load[working] / capacity[working], label=outcome.name)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("office units used or held ÷ capacity")
    axes.set_title("National office load on working days")
