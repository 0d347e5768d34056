"""Portfolio planning: the fewest office visits that get a household all the documents it needs.

A need (a person, a service) becomes up to three dated steps: *apply* (at a visit, or online),
*ready* (the produce/decide lead time later) and *in hand* (collected at a visit, delivered, or
simply ready when there is nothing to collect). Prerequisites join one need's *in hand* (condition
`valid`) or *ready* (`completed`) to another need's *apply*. Steps at the office are "visit steps";
every other step is dated as early as its predecessors allow.

Why the plan has the fewest visits (the argument the tests check by brute force):

* Lower bound. Call a visit step's *level* the largest number of strictly later visit steps that
  must precede it along a chain of prerequisites and lead times: one step follows another
  *strictly later* when the longest path between them adds up to at least one day. A chain of
  levels 0, 1, …, L forces L + 1 different days, so every plan needs at least
  `max level + 1` visits. `PortfolioPlan.lower_bound` reports that number.
* Upper bound. The planner makes exactly one visit per level: visit k holds every step that
  cannot wait any longer (its *latest* level, `max level − longest chain after it`, is k) and
  absorbs every other step that is already possible that day. A step that must happen at level k
  only waits for steps of lower latest level (already placed) or for same-day steps of the same
  visit, so each visit is feasible, and the count equals the lower bound: the plan is minimal.

The argument needs every level's visit to find a common working day inside the availability of
the persons it serves. When it cannot (family members whose windows never meet after a date),
that visit is split per person and the plan says so (`family-split`); the count is then minimal
per person but not necessarily for the household. A step that finds no day at all is replanned:
a collection becomes a delivery where allowed, otherwise the need is reported as unplanned.

Days: lead times and delivery times count calendar days; visits fall on working days
(`is_working_day`) inside the person's windows; online applications and deliveries need neither.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme.catalogue.models import Service, ServicePrerequisite, ServiceStep

Condition = Literal["valid", "completed"]
Action = Literal["apply", "collect"]
PersonId = Hashable

# Minutes at the counter per applicant, by service: a first biometric document takes longer
# (photo, fingerprints, signature) than a renewal; anything not listed takes DEFAULT_MINUTES.
DEFAULT_MINUTES = 15
MINUTES_BY_SERVICE: Mapping[str, int] = {
    "id-card": 15,
    "first-adult-id-card": 20,
    "passport": 20,
    "passport-minor": 20,
    "driving-licence": 15,
    "vehicle-registration": 20,
    "health-insurance-registration": 10,
    "choose-gp": 10,
    "pension-application": 30,
    "unemployment-registration": 20,
    "unemployment-benefit": 20,
    "school-enrolment": 15,
}
COLLECT_MINUTES = 5  # handing over a finished document: identify the person, sign, done
DEFAULT_DELIVERY_DAYS = 2  # postal delivery inside the country when the catalogue gives none
_SEARCH_DAYS = 2 * 366  # how far to look for a working day when a person has no windows


@dataclass(frozen=True)
class ServiceSpec:
    """What planning needs to know about a service (see `specs_from_catalogue`)."""

    code: str
    apply_needs_visit: bool = True
    lead_time_days: int = 0  # sum of the produce/decide steps' lead times
    collect_needs_visit: bool = True
    delivery_allowed: bool = False
    prerequisites: tuple[tuple[str, Condition], ...] = ()
    minutes: int = DEFAULT_MINUTES  # applying, per applicant
    collect_minutes: int = COLLECT_MINUTES
    delivery_days: int = DEFAULT_DELIVERY_DAYS


@dataclass(frozen=True)
class Need:
    """A person needs a service; `holds` lists prerequisites the person already satisfies."""

    person: PersonId
    service: str
    offer_id: uuid.UUID | None = None
    holds: frozenset[str] = frozenset()
    accepts_delivery: bool = True


@dataclass(frozen=True)
class Window:
    """Days a person can come to an office, both ends included."""

    first: date
    last: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@dataclass(frozen=True)
class VisitItem:
    person: PersonId
    service: str
    action: Action
    minutes: int
    offer_id: uuid.UUID | None = None


@dataclass(frozen=True)
class PlannedVisit:
    number: int
    earliest: date  # the first day it can take place; the slot is held on or after it
    items: tuple[VisitItem, ...]
    minutes: int


@dataclass(frozen=True)
class Delivery:
    person: PersonId
    service: str
    arrives: date
    offer_id: uuid.UUID | None = None


@dataclass(frozen=True)
class OnlineApplication:
    person: PersonId
    service: str
    earliest: date
    offer_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Unplanned:
    """A need the plan leaves out; `reason` is a stable code, `detail` says it in words."""

    person: PersonId
    service: str
    reason: str
    detail: str


@dataclass(frozen=True)
class PlanNote:
    """Something the person should know about the plan (`collect-in-next-window`, …)."""

    person: PersonId
    service: str
    code: str
    detail: str


@dataclass(frozen=True)
class PortfolioPlan:
    visits: tuple[PlannedVisit, ...]
    deliveries: tuple[Delivery, ...]
    online: tuple[OnlineApplication, ...]
    unplanned: tuple[Unplanned, ...]
    notes: tuple[PlanNote, ...]
    lower_bound: int  # no plan of the planned needs has fewer visits

    @property
    def visit_count(self) -> int:
        return len(self.visits)


# --- the catalogue -----------------------------------------------------------------------------


def _spec(
    service: Service, steps: Sequence[ServiceStep], prerequisites: Iterable[ServicePrerequisite]
) -> ServiceSpec:
    kinds = {step.kind for step in steps}
    deliver_days = sum(step.lead_time_days for step in steps if step.kind == "deliver")
    return ServiceSpec(
        code=service.code,
        apply_needs_visit=any(s.needs_visit for s in steps if s.kind == "apply"),
        lead_time_days=sum(s.lead_time_days for s in steps if s.kind in ("produce", "decide")),
        collect_needs_visit=any(s.needs_visit for s in steps if s.kind == "collect"),
        delivery_allowed=service.delivery_allowed,
        prerequisites=tuple(sorted((row.requires_code, row.condition) for row in prerequisites)),
        minutes=MINUTES_BY_SERVICE.get(service.code, DEFAULT_MINUTES),
        delivery_days=deliver_days if "deliver" in kinds else DEFAULT_DELIVERY_DAYS,
    )


def specs_from_catalogue(session: Session) -> dict[str, ServiceSpec]:
    """The planning view of the latest published version of every service, by code."""
    latest: dict[str, Service] = {}
    for service in session.scalars(select(Service).where(Service.status == "published")):
        if service.code not in latest or service.version > latest[service.code].version:
            latest[service.code] = service
    ids = [service.id for service in latest.values()]
    steps: dict[uuid.UUID, list[ServiceStep]] = defaultdict(list)
    for step in session.scalars(select(ServiceStep).where(ServiceStep.service_id.in_(ids))):
        steps[step.service_id].append(step)
    requires: dict[uuid.UUID, list[ServicePrerequisite]] = defaultdict(list)
    query = select(ServicePrerequisite).where(ServicePrerequisite.service_id.in_(ids))
    for row in session.scalars(query):
        requires[row.service_id].append(row)
    return {
        code: _spec(service, steps[service.id], requires[service.id])
        for code, service in latest.items()
    }


# --- which needs can be planned at all ---------------------------------------------------------


def _unplanned(need: Need, reason: str, detail: str) -> Unplanned:
    return Unplanned(person=need.person, service=need.service, reason=reason, detail=detail)


def _missing(need: Need, spec: ServiceSpec, wanted: set[tuple[PersonId, str]]) -> str | None:
    """The first prerequisite the person neither holds nor gets in this plan."""
    for code, condition in spec.prerequisites:
        if code not in need.holds and (need.person, code) not in wanted:
            return f"needs a {condition} {code} first: the person has none and the plan has none"
    return None


def _screen(needs: Sequence[Need], specs: Mapping[str, ServiceSpec]) -> dict[int, Unplanned]:
    """Needs refused before planning: unknown services, duplicates, missing prerequisites."""
    refused: dict[int, Unplanned] = {}
    seen: set[tuple[PersonId, str]] = set()
    wanted = {(need.person, need.service) for need in needs}
    for i, need in enumerate(needs):
        key = (need.person, need.service)
        spec = specs.get(need.service)
        if spec is None:
            refused[i] = _unplanned(need, "unknown-service", f"no service {need.service!r}")
        elif key in seen:
            refused[i] = _unplanned(need, "duplicate", "the same person needs it twice")
        elif missing := _missing(need, spec, wanted):
            refused[i] = _unplanned(need, "missing-prerequisite", missing)
        seen.add(key)
    return refused


def _prerequisite_needs(
    needs: Sequence[Need], specs: Mapping[str, ServiceSpec], active: Iterable[int]
) -> dict[int, list[tuple[int, Condition]]]:
    """For each active need, the needs of the same person it waits for, and how."""
    index = {(needs[i].person, needs[i].service): i for i in active}
    waits: dict[int, list[tuple[int, Condition]]] = {}
    for i in index.values():
        need = needs[i]
        waits[i] = [
            (index[(need.person, code)], condition)
            for code, condition in specs[need.service].prerequisites
            if code not in need.holds and (need.person, code) in index
        ]
    return waits


def _cascade(
    needs: Sequence[Need], specs: Mapping[str, ServiceSpec], refused: dict[int, Unplanned]
) -> None:
    """Refuse every need that waits for a refused one, and every need caught in a cycle."""
    first: dict[tuple[PersonId, str], int] = {}
    for i, need in enumerate(needs):
        first.setdefault((need.person, need.service), i)
    changed = True
    while changed:
        changed = False
        for i, need in enumerate(needs):
            if i not in refused and _waits_for_refused(need, specs, first, refused):
                detail = "a prerequisite cannot be planned"
                refused[i] = _unplanned(need, "waits-for-unplanned", detail)
                changed = True
    active = [i for i in range(len(needs)) if i not in refused]
    for i in _in_cycles(_prerequisite_needs(needs, specs, active)):
        refused[i] = _unplanned(needs[i], "prerequisite-cycle", "its prerequisites form a cycle")


def _waits_for_refused(
    need: Need,
    specs: Mapping[str, ServiceSpec],
    first: Mapping[tuple[PersonId, str], int],
    refused: Mapping[int, Unplanned],
) -> bool:
    for code, _ in specs[need.service].prerequisites:
        j = first.get((need.person, code))
        if code not in need.holds and (j is None or j in refused):
            return True
    return False


def _in_cycles(waits: Mapping[int, list[tuple[int, Condition]]]) -> list[int]:
    """Needs that never become free when needs are released in prerequisite order (Kahn)."""
    pending = {i: len(before) for i, before in waits.items()}
    after: dict[int, list[int]] = defaultdict(list)
    for i, before in waits.items():
        for j, _ in before:
            after[j].append(i)
    free = [i for i, count in pending.items() if count == 0]
    while free:
        for k in after[free.pop()]:
            pending[k] -= 1
            if pending[k] == 0:
                free.append(k)
    return sorted(i for i, count in pending.items() if count > 0)


# --- days a person can come ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    is_working_day: Callable[[date], bool]
    windows: Mapping[PersonId, Sequence[Window]]

    def can_come(self, person: PersonId, day: date) -> bool:
        windows = self.windows.get(person)
        return self.is_working_day(day) and (not windows or any(day in w for w in windows))

    def window_of(self, person: PersonId, day: date) -> int | None:
        windows = self.windows.get(person) or ()
        return next((k for k, window in enumerate(windows) if day in window), None)

    def first_day(self, persons: Iterable[PersonId], not_before: date) -> date | None:
        """The first working day on or after `not_before` on which all `persons` can come."""
        persons = list(persons)
        ends = [max(w.last for w in self.windows[p]) for p in persons if self.windows.get(p)]
        last = min(ends) if ends else not_before + timedelta(days=_SEARCH_DAYS)
        day = not_before
        while day <= last:
            if all(self.can_come(person, day) for person in persons):
                return day
            day += timedelta(days=1)
        return None


# --- the steps of the needs, as a graph ----------------------------------------------------------

_APPLY, _READY, _HAND = 0, 1, 2  # node = 3 × need position + step


@dataclass
class _Graph:
    """Steps of the active needs; an edge (before, days) means "at least `days` after"."""

    needs: list[Need]
    specs: list[ServiceSpec]
    delivered: list[bool]
    before: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    after: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    visit: dict[int, bool] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)

    def person(self, node: int) -> PersonId:
        return self.needs[node // 3].person

    def visit_nodes(self) -> list[int]:
        return [node for node in self.order if self.visit[node]]

    def link(self, first: int, then: int, days: int) -> None:
        self.before[then].append((first, days))
        self.after[first].append((then, days))


def _build(
    needs: list[Need],
    specs: list[ServiceSpec],
    delivered: list[bool],
    waits: Mapping[int, list[tuple[int, Condition]]],
) -> _Graph:
    graph = _Graph(needs, specs, delivered)
    for node in range(3 * len(needs)):
        graph.before[node], graph.after[node] = [], []
    for i, spec in enumerate(specs):
        graph.visit[3 * i + _APPLY] = spec.apply_needs_visit
        graph.visit[3 * i + _READY] = False
        graph.visit[3 * i + _HAND] = spec.collect_needs_visit and not delivered[i]
        graph.link(3 * i + _APPLY, 3 * i + _READY, spec.lead_time_days)
        graph.link(3 * i + _READY, 3 * i + _HAND, spec.delivery_days if delivered[i] else 0)
        for j, condition in waits[i]:
            graph.link(3 * j + (_HAND if condition == "valid" else _READY), 3 * i + _APPLY, 0)
    graph.order = _topological(graph)
    return graph


def _topological(graph: _Graph) -> list[int]:
    pending = {node: len(edges) for node, edges in graph.before.items()}
    free = sorted(node for node, count in pending.items() if count == 0)
    order: list[int] = []
    while free:
        node = free.pop(0)
        order.append(node)
        for then, _ in graph.after[node]:
            pending[then] -= 1
            if pending[then] == 0:
                free.append(then)
    return order


def _levels(graph: _Graph, *, reverse: bool = False) -> dict[int, int]:
    """Each visit step's level: the longest chain of strictly later visit steps leading to it.

    A node carries (same-day, later): the highest level reachable from it backwards by a path of
    zero days, and by a path of at least one day. Reversed, it counts the chain after a step.
    """
    edges = graph.after if reverse else graph.before
    state: dict[int, tuple[int, int]] = {}
    levels: dict[int, int] = {}
    for node in reversed(graph.order) if reverse else graph.order:
        same, later = -1, -1
        for other, days in edges[node]:
            other_same, other_later = state[other]
            same = same if days > 0 else max(same, other_same)
            later = max(later, other_later, other_same if days > 0 else -1)
        if graph.visit[node]:
            levels[node] = max(0, same, later + 1)
            same, later = levels[node], -1
        state[node] = (same, later)
    return levels


# --- dating the steps, one visit per level -------------------------------------------------------


@dataclass
class _Outcome:
    dates: dict[int, date]
    failed: dict[int, str]  # node → why no day was found for it
    split: list[int]  # a node of each person whose visit could not be shared
    lower_bound: int = 0


def _bounds(graph: _Graph, dates: Mapping[int, date], start: date) -> dict[int, date]:
    """The earliest date each step could have if everything not yet dated went as fast as it can."""
    bound: dict[int, date] = {}
    for node in graph.order:
        before = [bound[other] + timedelta(days=days) for other, days in graph.before[node]]
        bound[node] = dates.get(node) or max([start, *before])
    return bound


def _fill(
    graph: _Graph, calendar: _Calendar, dates: dict[int, date], *, day: date | None, start: date
) -> None:
    """Date every step that is possible now: off-office steps at once, office steps on `day`."""
    for node in graph.order:
        if node in dates or any(other not in dates for other, _ in graph.before[node]):
            continue
        release = max([start, *(dates[o] + timedelta(days=d) for o, d in graph.before[node])])
        if not graph.visit[node]:
            dates[node] = release
        elif day is not None and release <= day and calendar.can_come(graph.person(node), day):
            dates[node] = day


def _days_for(
    graph: _Graph, calendar: _Calendar, due: list[int], bound: Mapping[int, date], outcome: _Outcome
) -> list[date]:
    """One shared day for the steps that cannot wait; per person when no shared day exists."""
    persons = list(dict.fromkeys(graph.person(node) for node in due))
    shared = calendar.first_day(persons, max(bound[node] for node in due))
    if shared is not None:
        return [shared]
    days: set[date] = set()
    for person in persons:
        own = [node for node in due if graph.person(node) == person]
        not_before = max(bound[node] for node in own)
        day = calendar.first_day([person], not_before)
        if day is None:
            why = f"no working day inside the availability windows on or after {not_before}"
            outcome.failed.update(dict.fromkeys(own, why))
        else:
            days.add(day)
            outcome.split.append(own[0])
    return sorted(days)


def _schedule(graph: _Graph, calendar: _Calendar, start: date) -> _Outcome:
    """Date every step, one visit per level (see the module docstring); also the lower bound."""
    levels, tails = _levels(graph), _levels(graph, reverse=True)
    top = max(levels.values(), default=-1)
    outcome = _Outcome(dates={}, failed={}, split=[], lower_bound=top + 1)
    _fill(graph, calendar, outcome.dates, day=None, start=start)
    for level in range(top + 1):
        due = [n for n in graph.visit_nodes() if n not in outcome.dates and top - tails[n] <= level]
        if not due:
            continue
        days = _days_for(graph, calendar, due, _bounds(graph, outcome.dates, start), outcome)
        if outcome.failed:
            return outcome
        for day in days:
            _fill(graph, calendar, outcome.dates, day=day, start=start)
    if len(outcome.dates) < len(graph.order):
        raise RuntimeError("portfolio planner left a step undated")  # the argument above is broken
    return outcome


# --- the plan -----------------------------------------------------------------------------------


@dataclass
class _Choices:
    """What the planner decided so far: needs left out, collections turned into deliveries."""

    needs: list[Need]
    specs: Mapping[str, ServiceSpec]
    prefer_delivery: bool
    refused: dict[int, Unplanned]
    forced: set[int] = field(default_factory=set)

    def deliverable(self, i: int) -> bool:
        spec = self.specs[self.needs[i].service]
        return spec.collect_needs_visit and spec.delivery_allowed and self.needs[i].accepts_delivery

    def delivered(self, i: int) -> bool:
        return self.deliverable(i) and (self.prefer_delivery or i in self.forced)

    def deliver_instead(self, i: int) -> bool:
        """Turn collecting need `i` into a delivery where that is allowed and not yet done."""
        if self.delivered(i) or not self.deliverable(i):
            return False
        self.forced.add(i)
        return True


def _graph_of(choices: _Choices) -> tuple[_Graph, list[int]]:
    _cascade(choices.needs, choices.specs, choices.refused)
    active = [i for i in range(len(choices.needs)) if i not in choices.refused]
    position = {i: k for k, i in enumerate(active)}
    waits = _prerequisite_needs(choices.needs, choices.specs, active)
    graph = _build(
        [choices.needs[i] for i in active],
        [choices.specs[choices.needs[i].service] for i in active],
        [choices.delivered(i) for i in active],
        {position[i]: [(position[j], how) for j, how in waits[i]] for i in active},
    )
    return graph, active


def _window(calendar: _Calendar, need: Need, day: date) -> int | None:
    return calendar.window_of(need.person, day)


def _collections_in_later_window(
    graph: _Graph, calendar: _Calendar, dates: Mapping[int, date]
) -> list[int]:
    """Positions of needs collected in a later availability window than the one applied in."""
    later = []
    for k, need in enumerate(graph.needs):
        apply, hand = 3 * k + _APPLY, 3 * k + _HAND
        both = graph.visit[apply] and graph.visit[hand] and calendar.windows.get(need.person)
        if both and _window(calendar, need, dates[apply]) != _window(calendar, need, dates[hand]):
            later.append(k)
    return later


def _replan(
    choices: _Choices, graph: _Graph, active: list[int], outcome: _Outcome, *, calendar: _Calendar
) -> bool:
    """Adjust the choices after a failed or window-crossing schedule; False when nothing changed."""
    for node, why in outcome.failed.items():
        i = active[node // 3]
        if not (node % 3 == _HAND and choices.deliver_instead(i)):
            choices.refused[i] = _unplanned(choices.needs[i], "no-available-day", why)
    if outcome.failed:
        return True
    crossing = _collections_in_later_window(graph, calendar, outcome.dates)
    return any([choices.deliver_instead(active[k]) for k in crossing])


def plan_portfolio(
    needs: Sequence[Need],
    specs: Mapping[str, ServiceSpec],
    *,
    start: date,
    is_working_day: Callable[[date], bool],
    windows: Mapping[PersonId, Sequence[Window]] | None = None,
    prefer_delivery: bool = True,
) -> PortfolioPlan:
    """The plan with the fewest visits for a household's needs (the argument: module docstring).

    Visits fall on working days from `start` on, inside each person's `windows` (none: always).
    With `prefer_delivery`, every collection that may be delivered (and that the person accepts
    delivered) is delivered; without it, only those that cannot be collected inside the window
    the person applied in.
    """
    calendar = _Calendar(is_working_day, windows or {})
    choices = _Choices(list(needs), specs, prefer_delivery, _screen(needs, specs))
    while True:
        graph, active = _graph_of(choices)
        outcome = _schedule(graph, calendar, start)
        if not _replan(choices, graph, active, outcome, calendar=calendar):
            return _assemble(graph, outcome, choices=choices, calendar=calendar)


def _counter_order(graph: _Graph, nodes: list[int]) -> list[int]:
    """Steps of one visit in an order that works at the counter: what a step needs comes first
    (the card collected before the passport application that needs it), then collections."""
    members, ahead = set(nodes), dict[int, int]()
    for node in graph.order:
        ahead[node] = max((ahead[o] + (o in members) for o, _ in graph.before[node]), default=0)
    return sorted(nodes, key=lambda node: (ahead[node], node % 3 != _HAND, node))


def _item(graph: _Graph, node: int) -> VisitItem:
    need, spec, collect = graph.needs[node // 3], graph.specs[node // 3], node % 3 == _HAND
    return VisitItem(
        person=need.person,
        service=need.service,
        action="collect" if collect else "apply",
        minutes=spec.collect_minutes if collect else spec.minutes,
        offer_id=need.offer_id,
    )


def _visit(graph: _Graph, number: int, day: date, nodes: list[int]) -> PlannedVisit:
    items = tuple(_item(graph, node) for node in _counter_order(graph, nodes))
    return PlannedVisit(number, day, items, sum(item.minutes for item in items))


_SAYS = {
    "delivered-outside-window": "collecting it would fall outside the window it was applied in",
    "collect-in-next-window": "production ends after the window closes; collected in the next one",
    "family-split": "no day shared with the rest of the household; this visit is on its own",
}


def _notes(
    graph: _Graph, outcome: _Outcome, *, choices: _Choices, calendar: _Calendar
) -> list[PlanNote]:
    noted = [("delivered-outside-window", choices.needs[i]) for i in sorted(choices.forced)]
    later = _collections_in_later_window(graph, calendar, outcome.dates)
    noted += [("collect-in-next-window", graph.needs[k]) for k in later]
    noted += [("family-split", graph.needs[node // 3]) for node in outcome.split]
    return [PlanNote(need.person, need.service, code, _SAYS[code]) for code, need in noted]


def _assemble(
    graph: _Graph, outcome: _Outcome, *, choices: _Choices, calendar: _Calendar
) -> PortfolioPlan:
    by_day: dict[date, list[int]] = defaultdict(list)
    for node in graph.visit_nodes():
        by_day[outcome.dates[node]].append(node)
    visits = [_visit(graph, n, day, by_day[day]) for n, day in enumerate(sorted(by_day), start=1)]
    deliveries = [
        Delivery(need.person, need.service, outcome.dates[3 * k + _HAND], need.offer_id)
        for k, need in enumerate(graph.needs)
        if graph.delivered[k]
    ]
    online = [
        OnlineApplication(need.person, need.service, outcome.dates[3 * k + _APPLY], need.offer_id)
        for k, need in enumerate(graph.needs)
        if not graph.specs[k].apply_needs_visit
    ]
    return PortfolioPlan(
        visits=tuple(visits),
        deliveries=tuple(deliveries),
        online=tuple(online),
        unplanned=tuple(choices.refused[i] for i in sorted(choices.refused)),
        notes=tuple(_notes(graph, outcome, choices=choices, calendar=calendar)),
        lower_bound=outcome.lower_bound,
    )
