"""Consent history: most adults allow proactive offers and reminders, on any channel or on
their favourite one; some refuse; a few granted and later withdrew (the table is append-only)."""

from __future__ import annotations

import random

from navreme.demo.rows import Identifiers, Stamps, below

CONSENT_FROM_AGE = 16  # younger people's consent is their parents' to give
RECORDED_WITHIN_DAYS = 3 * 365
# purpose: (grant on any channel, grant on the favourite channel, refuse), cumulative
CHOICES = {"proactive_offers": (0.76, 0.85, 0.93), "reminders": (0.84, 0.89, 0.93)}
WITHDRAWN_LATER = 0.04


class ConsentRecorder:
    """Appends a person's consent events in `rows.COLUMNS['consent_events']` order."""

    def __init__(
        self, rng: random.Random, *, ids: Identifiers, stamps: Stamps, as_of_ordinal: int
    ) -> None:
        self._rng = rng
        self._ids = ids
        self._stamps = stamps
        self._as_of_ordinal = as_of_ordinal

    def record(
        self, rows: list[tuple[object, ...]], *, person_id: str, channels: list[str]
    ) -> None:
        for purpose, (any_channel, favourite, refuse) in CHOICES.items():
            draw = self._rng.random()
            if draw < favourite:
                channel = "any" if draw < any_channel or not channels else channels[0]
                self._grant(rows, person_id, purpose, channel)
            elif draw < refuse:
                self._append(rows, person_id, purpose, "any", False, self._days_ago())

    def _grant(
        self, rows: list[tuple[object, ...]], person_id: str, purpose: str, channel: str
    ) -> None:
        days_ago = self._days_ago()
        self._append(rows, person_id, purpose, channel, True, days_ago)
        if days_ago > 1 and self._rng.random() < WITHDRAWN_LATER:
            withdrawn = 1 + below(self._rng, days_ago - 1)  # strictly after the grant
            self._append(rows, person_id, purpose, channel, False, withdrawn)

    def _days_ago(self) -> int:
        return 1 + below(self._rng, RECORDED_WITHIN_DAYS)

    def _append(
        self, rows: list[tuple[object, ...]], person_id: str, purpose: str, channel: str,
        granted: bool, days_ago: int,
    ) -> None:  # fmt: skip
        hour = 6 + below(self._rng, 14)
        recorded = self._stamps.at_hour(self._as_of_ordinal - days_ago, hour)
        rows.append((self._ids.next(), person_id, purpose, channel, granted, "seed", "seed",
                     recorded))  # fmt: skip
