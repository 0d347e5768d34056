"""The campaign's days: calendar-day indices from the start, working days, the deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from navreme.simulation.calendar import calendar_days, working_mask

TAIL_DAYS = 60  # simulated past the deadline, so late documents and waits are seen


@dataclass(frozen=True)
class Timeline:
    start: date
    deadline: date
    days: np.ndarray  # datetime64[D] (T,)
    working: np.ndarray  # bool (T,)

    @classmethod
    def between(cls, start: date, deadline: date) -> Timeline:
        days = calendar_days(start, deadline + timedelta(days=TAIL_DAYS))
        return cls(start, deadline, days, working_mask(days))

    def index(self, day: date) -> int:
        return (day - self.start).days

    @property
    def deadline_index(self) -> int:
        return self.index(self.deadline)

    @property
    def length(self) -> int:
        return len(self.days)

    def next_working(self, day: np.ndarray) -> np.ndarray:
        """The first working day on or after each day (past the end: the last index + 1)."""
        working_days = np.flatnonzero(self.working)
        found = np.searchsorted(working_days, day)
        return np.append(working_days, self.length)[found]
