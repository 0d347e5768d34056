"""Arm (a), the campaign as it ran: citizens hear it on TV, procrastinate, book the earliest
free slot on a site with a short horizon (several slots in Skopje, keeping the earliest),
walk in when nothing is free, apply for ONE document per visit (the ID card before the
passport) and come back to collect."""

from __future__ import annotations

import numpy as np

from navreme.simulation.assumptions import PRODUCTION_DAYS, Reactive
from navreme.simulation.capacity import APPLICATION_UNITS, COLLECTION_UNITS, Capacity
from navreme.simulation.country import ID_CARD, PASSPORT, Country
from navreme.simulation.ledger import NOT_BOOKED, book
from navreme.simulation.outcome import NEVER, Outcome
from navreme.simulation.people import document_queue, media_informed
from navreme.simulation.timeline import Timeline

DORMANT, SEEK, BOOKED, COLLECT, DONE = range(5)


class ReactiveRun:
    """The state of every person in the reactive arm; `run` steps it day by day."""

    def __init__(self, country: Country, capacity: Capacity, timeline: Timeline,
                 params: Reactive, rng: np.random.Generator) -> None:  # fmt: skip
        self.c, self.t, self.p, self.rng = country, timeline, params, rng
        self.queue = document_queue(country.holds)
        needs = self.queue[:, 0] >= 0
        informed = np.where(needs, media_informed(country, timeline, params, rng), NEVER)
        self.out = Outcome("reactive", capacity.units, informed.astype(np.int32))
        self.act = self._act_days(informed, needs)
        self.office = country.municipality.astype(np.int32)
        self.skopje = country.in_skopje()
        size = country.persons
        self.phase = np.where(needs, DORMANT, DONE).astype(np.int8)
        self.stage = np.zeros(size, dtype=np.int8)
        self.when = np.full(size, NEVER, dtype=np.int32)  # next try, booked day or collect day
        self.bookable = np.floor(capacity.units * params.bookable_share).astype(np.int32)
        self.site_left = self.bookable.copy()  # bookable units the site has not handed out
        self.held_no_show = np.zeros_like(capacity.units)
        self.skopje_offices = np.flatnonzero([m.in_city_of_skopje for m in country.municipalities])

    def _act_days(self, informed: np.ndarray, needs: np.ndarray) -> np.ndarray:
        """When each informed person first tries: soon, or procrastinating toward the deadline;
        the diaspora while in the country."""
        p, rng, size = self.p, self.rng, len(informed)
        left = np.maximum(self.t.deadline_index - informed, 0)
        late = informed + left * rng.beta(*p.late_beta, size)
        early = informed + rng.exponential(p.early_mean_days, size)
        act = np.where(rng.random(size) < p.early_share, early, late).astype(np.int32)
        summer = rng.integers(self.t.index(p.summer[0]), self.t.index(p.summer[1]) + 1, size)
        winter = rng.integers(self.t.index(p.winter[0]), self.t.index(p.winter[1]) + 1, size)
        abroad_act = np.where(rng.random(size) < p.summer_share, summer, winter)
        act = np.where(self.c.abroad, np.maximum(abroad_act, informed), act)
        return np.where(needs & (informed != NEVER), act, NEVER).astype(np.int32)

    def run(self) -> Outcome:
        for day in range(self.t.length):
            starting = (self.phase == DORMANT) & (self.act == day)
            self.phase[starting] = SEEK
            self.when[starting] = day
            if self.t.working[day]:
                self._appointments(day)
                free = self._free_today(day)
                self._collections(day, free)
                self._seek(day, free)
            else:
                self._seek(day, None)
        self.out.idle_held += self.held_no_show
        return self.out

    def _free_today(self, day: int) -> np.ndarray:
        """Units left for collections and walk-ins: what the site did not hand out, plus the
        share of no-shows' slots the queue gets to use."""
        units = self.out.capacity[:, day]
        handed_out = self.bookable[:, day] - self.site_left[:, day]
        recaptured = np.floor(self.held_no_show[:, day] * self.p.recapture_share).astype(np.int32)
        self.held_no_show[:, day] -= recaptured
        return units - handed_out + recaptured

    def _appointments(self, day: int) -> None:
        who = np.flatnonzero((self.phase == BOOKED) & (self.when == day))
        rate = np.where(self.skopje[who], self.p.no_show_skopje, self.p.no_show_elsewhere)
        absent = self.rng.random(len(who)) < rate
        gone = who[absent]
        np.add.at(self.out.no_shows, self.office[gone], 1)
        np.add.at(self.held_no_show[:, day], self.office[gone], APPLICATION_UNITS)
        self._retry(gone, day)
        came = who[~absent]
        self.out.serve(self.office[came], day, APPLICATION_UNITS)
        self._apply(came, day)

    def _apply(self, persons: np.ndarray, day: int) -> None:
        """One document applied for at this visit; ready ones collected on the way."""
        out = self.out
        out.visit(persons)
        out.hand_over_ready(persons, day, lead=PRODUCTION_DAYS)
        kinds = self.queue[persons, self.stage[persons]]
        out.apply_for(persons, kinds, day)
        self.stage[persons] += 1
        after = self.queue[persons, np.minimum(self.stage[persons], self.queue.shape[1] - 1)]
        finished = self.stage[persons] >= (self.queue[persons] >= 0).sum(axis=1)
        id_waiting = (out.applied[persons, ID_CARD] != NEVER) & (
            out.issued[persons, ID_CARD] == NEVER
        )
        collect = finished | ((after == PASSPORT) & id_waiting)
        self._to_collect(persons[collect])
        self.phase[persons[~collect]] = SEEK
        self.when[persons[~collect]] = day + 1

    def _to_collect(self, persons: np.ndarray) -> None:
        applied = np.where(self.out.issued[persons] == NEVER, self.out.applied[persons], NEVER)
        ready = applied.max(axis=1) + PRODUCTION_DAYS
        delay = self.rng.geometric(1 / self.p.collect_delay_mean_days, len(persons)) - 1
        self.phase[persons] = COLLECT
        self.when[persons] = ready + delay

    def _collections(self, day: int, free: np.ndarray) -> None:
        who = np.flatnonzero((self.phase == COLLECT) & (self.when <= day))
        served = self._admit(who, free, COLLECTION_UNITS, day)
        self.out.visit(who)
        self.out.hand_over_ready(who[served], day, lead=PRODUCTION_DAYS)
        done = who[served]
        more = self.stage[done] < (self.queue[done] >= 0).sum(axis=1)
        self.phase[done] = np.where(more, SEEK, DONE)
        self.when[done[more]] = day + 1
        self.when[who[~served]] = day + 1

    def _admit(self, who: np.ndarray, free: np.ndarray, cost: int, day: int) -> np.ndarray:
        """Serve the queue at each office in arrival order while units last; count the rest."""
        order = self.rng.permutation(len(who))
        office = self.office[who]
        booked = book(free[:, None], office, cost=cost, first=0, last=0, order=order)
        served = booked != NOT_BOOKED
        self.out.serve(office[served], day, cost)
        np.add.at(self.out.turned_away[:, day], office[~served], cost)
        return served

    def _seek(self, day: int, free: np.ndarray | None) -> None:
        who = np.flatnonzero((self.phase == SEEK) & (self.when <= day))
        on_site = self.rng.random(len(who)) < self._site_works(day)
        booked = self._book_online(who[on_site], day)
        failed = np.concatenate([who[~on_site], who[on_site][~booked]])
        walking = self.rng.random(len(failed)) < self.p.walk_in_share
        if free is None:
            walking[:] = False
        self._retry(failed[~walking], day)
        self._walk_in(failed[walking], day, free)

    def _site_works(self, day: int) -> float:
        down = day >= self.t.index(self.p.site_down_from)
        return self.p.call_centre_success if down else 1.0

    def _walk_in(self, who: np.ndarray, day: int, free: np.ndarray | None) -> None:
        if free is None or len(who) == 0:
            return
        served = self._admit(who, free, APPLICATION_UNITS, day)
        self._apply(who[served], day)
        self.out.visit(who[~served])
        self._retry(who[~served], day)

    def _retry(self, who: np.ndarray, day: int) -> None:
        self.phase[who] = SEEK
        self.when[who] = day + self.rng.geometric(1 / self.p.retry_mean_days, len(who))

    def _book_online(self, who: np.ndarray, day: int) -> np.ndarray:
        """Book own office plus extra offices; keep the earliest, the rest become no-shows."""
        tries, offices = self._booking_requests(who)
        order = self.rng.permutation(len(tries))
        horizon = (day + 1, day + self.p.booking_horizon_days)
        got = book(self.site_left, offices, cost=APPLICATION_UNITS, first=horizon[0],
                   last=horizon[1], order=order)  # fmt: skip
        ok = got != NOT_BOOKED
        np.add.at(self.out.bookings, offices[ok], 1)
        key = np.where(ok, got.astype(np.int64), 1 << 40) * 100 + offices  # earliest first
        best = np.full(self.c.persons, 1 << 62, dtype=np.int64)
        np.minimum.at(best, tries, key)
        kept = ok & (key == best[tries])
        self._phantoms(offices[ok & ~kept], got[ok & ~kept])
        self.phase[tries[kept]] = BOOKED
        self.when[tries[kept]] = got[kept]
        self.office[tries[kept]] = offices[kept]
        return np.isin(who, tries[kept], assume_unique=False)

    def _booking_requests(self, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        home = self.c.municipality[who].astype(np.int32)
        mean = np.where(self.skopje[who], self.p.extra_bookings_skopje,
                        self.p.extra_bookings_elsewhere)  # fmt: skip
        extra = self.rng.poisson(mean)
        persons = np.repeat(who, extra)
        skopje = np.repeat(self.skopje[who], extra)
        pick = self.skopje_offices[self.rng.integers(0, len(self.skopje_offices), len(persons))]
        neighbour = np.repeat(home, extra)  # outside Skopje: another slot at the own office
        others = np.where(skopje, pick, neighbour).astype(np.int32)
        return np.concatenate([who, persons]), np.concatenate([home, others])

    def _phantoms(self, offices: np.ndarray, days: np.ndarray) -> None:
        """Bookings kept but never used: the slot stays held and empty (70 % in Skopje)."""
        np.add.at(self.out.no_shows, offices, 1)
        np.add.at(self.held_no_show, (offices, days), APPLICATION_UNITS)


def run_reactive(country: Country, capacity: Capacity, timeline: Timeline, params: Reactive,
                 rng: np.random.Generator) -> Outcome:  # fmt: skip
    """Arm (a) from the campaign's start to the end of the timeline."""
    return ReactiveRun(country, capacity, timeline, params, rng).run()
