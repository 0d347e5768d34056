"""The figures the report compares: per arm, from an Outcome and the country it ran on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from navreme.simulation.country import Country
from navreme.simulation.outcome import NEVER, Outcome
from navreme.simulation.timeline import Timeline


@dataclass(frozen=True)
class ArmFigures:
    name: str
    issued_by_month: dict[str, int]  # "2023-05" → documents handed over or delivered
    issued_by_kind_at: np.ndarray  # (3,) documents by kind issued by the checkpoint
    applications_per_working_day: float  # to the deadline
    share_done_by_deadline: float  # persons with every document, of those who need any
    share_done_by_end: float
    visits_per_person: float  # of persons who got at least one document
    wait_median_days: float  # informed → document issued, over issued documents
    wait_p95_days: float
    peak_office_load: float  # max over office-days of (served + held idle) / capacity
    peak_national_load: float  # max over days, all offices together
    peak_office_demand: float  # as peak_office_load, counting visits turned away
    no_show_rate: float
    no_show_rate_skopje: float
    over_capacity_office_days: int


def figures(outcome: Outcome, country: Country, timeline: Timeline, checkpoint: date) -> ArmFigures:
    """Every figure of one arm (checkpoint: the day the real totals were reported)."""
    issued, needs = outcome.issued, country.holds
    wanted = needs.any(axis=1)
    deadline = timeline.deadline_index
    skopje = np.array([m.in_city_of_skopje for m in country.municipalities])
    got_any = (issued != NEVER).any(axis=1)
    return ArmFigures(
        name=outcome.name, issued_by_month=_by_month(issued, timeline),
        issued_by_kind_at=((issued != NEVER) & (issued <= timeline.index(checkpoint))).sum(axis=0),
        applications_per_working_day=float(((outcome.applied != NEVER) & (outcome.applied <= deadline)).sum()
                                           / max(timeline.working[: deadline + 1].sum(), 1)),
        share_done_by_deadline=_done(issued, needs, wanted, deadline),
        share_done_by_end=_done(issued, needs, wanted, timeline.length),
        visits_per_person=float(outcome.visits[got_any].mean()) if got_any.any() else 0.0,
        wait_median_days=_wait(outcome, 50), wait_p95_days=_wait(outcome, 95),
        peak_office_load=_peak(outcome.used + outcome.idle_held, outcome.capacity),
        peak_national_load=_peak((outcome.used + outcome.idle_held).sum(axis=0, keepdims=True),
                                 outcome.capacity.sum(axis=0, keepdims=True)),
        peak_office_demand=_peak(outcome.used + outcome.idle_held + outcome.turned_away,
                                 outcome.capacity),
        no_show_rate=_ratio(outcome.no_shows.sum(), outcome.bookings.sum()),
        no_show_rate_skopje=_ratio(outcome.no_shows[skopje].sum(), outcome.bookings[skopje].sum()),
        over_capacity_office_days=outcome.over_capacity(),
    )  # fmt: skip


def _by_month(issued: np.ndarray, timeline: Timeline) -> dict[str, int]:
    months = timeline.days.astype("datetime64[M]").astype(str)
    found, counts = np.unique(months[issued[issued != NEVER]], return_counts=True)
    return {str(month): int(count) for month, count in zip(found, counts, strict=True)}


def _done(issued: np.ndarray, needs: np.ndarray, wanted: np.ndarray, by: int) -> float:
    have = ((issued != NEVER) & (issued <= by)) | ~needs
    return _ratio(int((have.all(axis=1) & wanted).sum()), int(wanted.sum()))


def _wait(outcome: Outcome, percentile: float) -> float:
    rows, kinds = np.nonzero(outcome.issued != NEVER)
    informed = outcome.informed[rows]
    known = informed != NEVER
    waits = outcome.issued[rows, kinds][known] - informed[known]
    return float(np.percentile(waits, percentile)) if len(waits) else float("nan")


def _peak(load: np.ndarray, capacity: np.ndarray) -> float:
    open_days = capacity > 0
    return float((load[open_days] / capacity[open_days]).max()) if open_days.any() else 0.0


def _ratio(part: float, whole: float) -> float:
    return float(part) / float(whole) if whole else 0.0
