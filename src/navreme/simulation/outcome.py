"""What one arm did, day by day: the record both arms fill and the report reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from navreme.simulation.country import KINDS

NEVER = -1


@dataclass
class Outcome:
    """Per person and per office-day records of one arm (days are calendar-day indices)."""

    name: str
    capacity: np.ndarray  # int32 (O, T) units
    informed: np.ndarray  # int32 (P,): day the person learned they must act (NEVER: not)
    applied: np.ndarray = field(init=False)  # int32 (P, 3): day applied at a visit
    issued: np.ndarray = field(init=False)  # int32 (P, 3): day handed over or delivered
    visits: np.ndarray = field(init=False)  # int16 (P,): trips to an office
    used: np.ndarray = field(init=False)  # int32 (O, T): units of visits served
    idle_held: np.ndarray = field(init=False)  # int32 (O, T): units held for no-shows, unused
    turned_away: np.ndarray = field(init=False)  # int32 (O, T): units of visits refused
    bookings: np.ndarray = field(init=False)  # int64 (O,): booked or held slots
    no_shows: np.ndarray = field(init=False)  # int64 (O,)

    def __post_init__(self) -> None:
        persons, (offices, days) = len(self.informed), self.capacity.shape
        self.applied = np.full((persons, len(KINDS)), NEVER, dtype=np.int32)
        self.issued = np.full((persons, len(KINDS)), NEVER, dtype=np.int32)
        self.visits = np.zeros(persons, dtype=np.int16)
        self.used = np.zeros((offices, days), dtype=np.int32)
        self.idle_held = np.zeros((offices, days), dtype=np.int32)
        self.turned_away = np.zeros((offices, days), dtype=np.int32)
        self.bookings = np.zeros(offices, dtype=np.int64)
        self.no_shows = np.zeros(offices, dtype=np.int64)

    def visit(self, persons: np.ndarray) -> None:
        np.add.at(self.visits, persons, 1)

    def serve(self, office: np.ndarray, day: int, units: np.ndarray | int) -> None:
        np.add.at(self.used[:, day], office, units)

    def apply_for(self, persons: np.ndarray, kinds: np.ndarray, day: int) -> None:
        self.applied[persons, kinds] = day

    def hand_over_ready(self, persons: np.ndarray, day: int, *, lead: int) -> None:
        """Hand over every document of `persons` applied for at least `lead` days ago."""
        applied = self.applied[persons]
        ready = (applied != NEVER) & (applied + lead <= day) & (self.issued[persons] == NEVER)
        rows, kinds = np.nonzero(ready)
        self.issued[persons[rows], kinds] = day

    def over_capacity(self) -> int:
        """Office-days whose served and held units exceed capacity (must be 0)."""
        return int(np.count_nonzero(self.used + self.idle_held > self.capacity))
