"""Arm (b), Navreme: every household is invited in a capacity-aware wave with a held slot
(`navreme.planning.waves.plan_waves`), the family comes together, each visit does all that
prerequisites allow (ID card and licence first; the passport at the ID card's collection),
passports are delivered at home, reminders lower no-shows and a no-show gets a new held slot.
"""

from __future__ import annotations

import numpy as np

from navreme.planning.waves import WaveInstance, plan_waves, usable_capacity
from navreme.simulation.assumptions import PRODUCTION_DAYS, Proactive
from navreme.simulation.capacity import (
    APPLICATION_UNITS,
    COLLECTION_UNITS,
    FAMILY_VISIT_MEMBERS,
    Capacity,
    nearest_offices,
)  # fmt: skip
from navreme.simulation.country import ID_CARD, LICENCE, PASSPORT, Country
from navreme.simulation.ledger import NOT_BOOKED, book_by_cost
from navreme.simulation.outcome import NEVER, Outcome
from navreme.simulation.timeline import Timeline

URGENT_WEIGHT, NORMAL_WEIGHT = 4.0, 1.0  # km a person would travel to come a day sooner


def visit_groups(household: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Group number per person (-1: nothing to do): a household's members who need documents,
    FAMILY_VISIT_MEMBERS at a time, come together."""
    rank = np.zeros(len(household), dtype=np.int64)
    order = np.lexsort((np.arange(len(household)), household))
    sorted_households = household[order]
    starts = np.searchsorted(sorted_households, sorted_households, side="left")
    rank[order] = np.arange(len(household)) - starts
    key = np.where(member, household.astype(np.int64) * 64 + rank // FAMILY_VISIT_MEMBERS, -1)
    found, group = np.unique(key, return_inverse=True)
    return np.where(member, group - (found[0] < 0), -1).astype(np.int32)


class ProactiveRun:
    """Households as visit groups; `run` plans the waves, then steps day by day."""

    def __init__(self, country: Country, capacity: Capacity, timeline: Timeline,
                 params: Proactive, rng: np.random.Generator) -> None:  # fmt: skip
        self.c, self.t, self.p, self.rng = country, timeline, params, rng
        self.needs = country.holds
        member = self.needs.any(axis=1)
        self.group_of = visit_groups(country.household, member)
        self.groups = int(self.group_of.max()) + 1
        first_member = np.full(self.groups, country.persons, dtype=np.int64)
        np.minimum.at(first_member, self.group_of[member], np.flatnonzero(member))
        self._lead = first_member  # one member per group stands for the group
        self.office = country.municipality[first_member].astype(np.int32)
        self.abroad = country.abroad[first_member]
        self.out = Outcome("Navreme", capacity.units, np.full(country.persons, NEVER, np.int32))
        self.hold_day = np.full(self.groups, NEVER, dtype=np.int32)
        self.hold_cost = np.zeros(self.groups, dtype=np.int32)
        self.priority = rng.permutation(self.groups)
        self.unplanned = 0

    def _group_sum(self, per_person: np.ndarray) -> np.ndarray:
        member = self.group_of >= 0
        return np.bincount(self.group_of[member], weights=per_person[member],
                           minlength=self.groups).astype(np.int64)  # fmt: skip

    def first_visit_cost(self) -> np.ndarray:
        """Units of each group's first visit: ID card, licence, and passports needing no ID."""
        n = self.needs
        apps = n[:, ID_CARD].astype(int) + n[:, LICENCE] + (n[:, PASSPORT] & ~n[:, ID_CARD])
        return self._group_sum(apps * APPLICATION_UNITS)

    def later_visit_cost(self) -> np.ndarray:
        """Units of the visits after the first: collection, passports after the ID card."""
        n = self.needs
        collect = n[:, ID_CARD] | n[:, LICENCE] | (n[:, PASSPORT] & self.c.abroad)
        later = collect * COLLECTION_UNITS + (n[:, PASSPORT] & n[:, ID_CARD]) * APPLICATION_UNITS
        return self._group_sum(later)

    def plan(self) -> None:
        """Waves over the working days to the deadline, then exact holds on the ledger."""
        cost1, later = self.first_visit_cost(), self.later_visit_cost()
        share = cost1.sum() / max(cost1.sum() + later.sum(), 1)
        working = np.flatnonzero(self.t.working[: self.t.deadline_index + 1])
        units = self.out.capacity
        self.wave_left = np.floor(units * share).astype(np.int32)
        plan = plan_waves(self._instance(cost1, working))
        day = np.where(plan.day >= 0, working[np.maximum(plan.day, 0)], NEVER)
        office = np.where(plan.office >= 0, plan.office, self.office)
        self.office = office.astype(np.int32)
        self.unplanned = int((plan.day < 0).sum())
        self._hold_waves(day, cost1)
        self.left = units - (np.floor(units * share).astype(np.int32) - self.wave_left)
        self._first_invitations()

    def _instance(self, cost1: np.ndarray, working: np.ndarray) -> WaveInstance:
        mean_cost = np.bincount(self.office, weights=cost1) / np.maximum(
            np.bincount(self.office), 1
        )
        raw = self.wave_left[:, working] / np.maximum(mean_cost, 1)[:, None]
        candidates, km = nearest_offices(self.c.municipalities, k=self.p.candidate_offices)
        expired = self._group_sum(self.c.expired.astype(int)) > 0
        earliest = np.zeros(self.groups, dtype=np.int32)
        latest = np.full(self.groups, len(working) - 1, dtype=np.int32)
        summer = np.searchsorted(working, [self.t.index(d) for d in self.p.summer])
        earliest[self.abroad], latest[self.abroad] = summer[0], max(summer[1] - 1, summer[0])
        return WaveInstance(
            days=self.t.days[working], capacity=usable_capacity(raw, self.p.no_show_buffer),
            candidates=candidates[self.office], distance_km=km[self.office],
            weight=np.where(expired, URGENT_WEIGHT, NORMAL_WEIGHT).astype(np.float32),
            earliest=earliest, latest=latest,
        )  # fmt: skip

    def _hold_waves(self, day: np.ndarray, cost: np.ndarray) -> None:
        """Hold each planned group's slot from its planned day on (exactly within capacity);
        groups the waves could not plan get the first slot still free (planned ones rounded
        their office's capacity down, so gaps remain), else one after the deadline."""
        for start in np.unique(day[day >= 0]):
            self._hold(np.flatnonzero(day == start), cost, first=int(start), ledger=self.wave_left)
        late = np.flatnonzero(day < 0)
        self._hold(late, cost, first=0, ledger=self.wave_left)

    def _hold(
        self, groups: np.ndarray, cost: np.ndarray, *, first: int, ledger: np.ndarray
    ) -> None:
        got = book_by_cost(ledger, self.office[groups], cost[groups], first=first,
                           last=self.t.length - 1, order=self.priority[groups])  # fmt: skip
        self.hold_day[groups] = got
        self.hold_cost[groups] = np.where(got != NOT_BOOKED, cost[groups], 0)
        np.add.at(self.out.bookings, self.office[groups[got != NOT_BOOKED]], 1)

    def _first_invitations(self) -> None:
        invited = np.maximum(self.hold_day - self.p.invite_days_before, 0)
        member = self.group_of >= 0
        informed = np.where(self.hold_day[self.group_of] >= 0, invited[self.group_of], NEVER)
        self.out.informed[member] = informed[member]

    def run(self) -> Outcome:
        self.plan()
        cost1 = self.first_visit_cost().astype(np.int32)
        for day in np.flatnonzero(self.t.working):
            self._visits(int(day))
            self._standby(int(day), cost1)
        return self.out

    def _standby(self, day: int, cost1: np.ndarray) -> None:
        """Households the waves could not place take what is still free two weeks ahead."""
        waiting = np.flatnonzero((self.hold_day == NEVER) & (self.out.visits[self._lead] == 0))
        ahead = day + self.p.invite_days_before
        if len(waiting) == 0 or ahead >= self.t.length:
            return
        got = book_by_cost(self.left, self.office[waiting], cost1[waiting], first=ahead,
                           last=ahead, order=self.priority[waiting])  # fmt: skip
        placed = waiting[got != NOT_BOOKED]
        self.hold_day[placed], self.hold_cost[placed] = ahead, cost1[placed]
        np.add.at(self.out.bookings, self.office[placed], 1)
        informed = np.isin(self.group_of, placed)
        self.out.informed[informed] = day

    def _visits(self, day: int) -> None:
        groups = np.flatnonzero(self.hold_day == day)
        absent = self.rng.random(len(groups)) < self.p.no_show
        gone = groups[absent]
        np.add.at(self.out.no_shows, self.office[gone], 1)
        np.add.at(self.out.idle_held[:, day], self.office[gone], self.hold_cost[gone])
        self._hold(gone, self.hold_cost, first=day + 1, ledger=self.left)
        came = groups[~absent]
        self.out.serve(self.office[came], day, self.hold_cost[came])
        today = np.zeros(self.groups, dtype=bool)
        today[came] = True
        persons = np.flatnonzero((self.group_of >= 0) & today[np.maximum(self.group_of, 0)])
        self._services(persons, day)
        self._next_visit(came, persons, day)

    def _services(self, persons: np.ndarray, day: int) -> None:
        """Hand over what is ready, apply for all that prerequisites allow, deliver passports."""
        out, n = self.out, self.needs[persons]
        before = (out.issued[persons] != NEVER).sum(axis=1)
        out.hand_over_ready(persons, day, lead=PRODUCTION_DAYS)
        collected = (out.issued[persons] != NEVER).sum(axis=1) > before
        not_yet = out.applied[persons] == NEVER
        id_done = out.issued[persons, ID_CARD] != NEVER
        apply = n & not_yet
        apply[:, PASSPORT] &= ~n[:, ID_CARD] | id_done
        rows, kinds = np.nonzero(apply)
        out.apply_for(persons[rows], kinds, day)
        post = (
            (kinds == PASSPORT) & ~self.c.abroad[persons[rows]] & self.p.deliver_passports_at_home
        )
        delivered = day + PRODUCTION_DAYS + self.p.delivery_days
        if delivered < self.t.length:  # later deliveries fall outside the simulated days
            out.issued[persons[rows[post]], PASSPORT] = delivered
        out.visit(persons[collected | apply.any(axis=1)])

    def _next_visit(self, groups: np.ndarray, persons: np.ndarray, day: int) -> None:
        """Hold the group's next slot once today's applications are ready."""
        out, n = self.out, self.needs[persons]
        pending = ((out.applied[persons] != NEVER) & (out.issued[persons] == NEVER)).any(axis=1)
        waiting = n[:, PASSPORT] & (out.applied[persons, PASSPORT] == NEVER)
        units = pending * COLLECTION_UNITS + waiting * APPLICATION_UNITS
        cost = np.zeros(self.groups, dtype=np.int64)
        np.add.at(cost, self.group_of[persons], units)
        again = groups[cost[groups] > 0]
        self.hold_day[groups] = NEVER
        ready = int(self.t.next_working(np.array([day + PRODUCTION_DAYS]))[0])
        self._hold(again, cost.astype(np.int32), first=ready, ledger=self.left)


def run_proactive(country: Country, capacity: Capacity, timeline: Timeline, params: Proactive,
                  rng: np.random.Generator) -> Outcome:  # fmt: skip
    """Arm (b) from the campaign's start to the end of the timeline."""
    return ProactiveRun(country, capacity, timeline, params, rng).run()
