"""T03: a hypothesis state machine of book / hold / confirm / cancel / reschedule / hold expiry /
no-show / waitlist. After every step: on every counter and slot at most one live visit, and per
slot no more live visits (confirmed + held) than counters; every live visit holds exactly the
claims its length needs, and nothing else holds claims."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, time, timedelta

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.catalogue.actions import load_demo_catalogue
from navreme.db import session_scope
from navreme.identity.principal import Principal
from navreme.registry.models import Person
from navreme.scheduling import actions
from navreme.scheduling.models import Appointment, Office, SlotClaim
from navreme.scheduling.queries import VisitItem
from tests import factories
from tests.scheduling.support import at, next_working_day

LIVE = ("booked", "checked_in", "done", "no_show")
SLOTS = 8  # 08:00–10:00 in 15-minute slots, two counters, two days
SERVICES = ("id-card", "driving-licence")  # 15 and 20 minutes: one or two slots


def test_t03__capacity_is_never_exceeded(settings: config.Settings, db_session: Session) -> None:
    load_demo_catalogue(db_session)
    db_session.commit()
    app_settings = config.get_settings()
    first_day = next_working_day()
    second_day = next_working_day(first_day)
    days = (first_day, second_day)
    weekdays = tuple(sorted({d.weekday() for d in days}))

    done: dict[str, int] = {}  # effects that happened, so the run provably exercised them
    # Every example (and every replay while shrinking) gets its own municipality and office in
    # this test's fresh database; a counter never collides, random suffixes eventually did.
    numbers = itertools.count()

    class Bookings(RuleBasedStateMachine):
        appointments = Bundle("appointments")

        def __init__(self) -> None:
            super().__init__()
            self.now = clock.now()
            code = f"MK-9{next(numbers):04x}"  # municipality codes are ≤ 8 characters
            with session_scope() as session:
                office = factories.office(
                    session, code, counters=2, hours=tuple((w, time(8), time(10)) for w in weekdays)
                )
                self.office_id = office.id
                self.people = [factories.person(session).id for _ in range(4)]

        def _actor(self, person_id: uuid.UUID) -> Principal:
            return Principal(kind="citizen", id=person_id)

        def _slot(self, index: int) -> datetime:
            day = days[index // SLOTS]
            return at(day, 8) + timedelta(minutes=15 * (index % SLOTS))

        @rule(
            target=appointments,
            who=st.integers(0, 3),
            slot=st.integers(0, 2 * SLOTS - 1),
            service=st.sampled_from(SERVICES),
            hold=st.booleans(),
        )
        def book(self, who: int, slot: int, service: str, hold: bool) -> uuid.UUID | None:
            person = self.people[who]
            with clock.frozen(self.now):
                try:
                    with session_scope() as session:
                        made = actions.make_appointment(
                            session, app_settings, self._actor(person),
                            office=session.get_one(Office, self.office_id),
                            starts_at=self._slot(slot), items=[VisitItem(person, service)],
                            hold_for=timedelta(minutes=15) if hold else None,
                        )  # fmt: skip
                        done[made.status] = done.get(made.status, 0) + 1
                        return made.id
                except actions.SchedulingError:
                    return None

        def _with(self, appointment_id: uuid.UUID | None, change: object) -> None:
            if appointment_id is None:
                return
            with clock.frozen(self.now):
                try:
                    with session_scope() as session:
                        found = session.get_one(Appointment, appointment_id)
                        change(session, found)  # type: ignore[operator]
                        done[f"→{found.status}"] = done.get(f"→{found.status}", 0) + 1
                except actions.SchedulingError:
                    pass

        @rule(appointment=appointments)
        def confirm(self, appointment: uuid.UUID | None) -> None:
            self._with(appointment, lambda s, a: actions.confirm(s, self._actor(a.made_by_id), a))

        @rule(appointment=consumes(appointments))
        def cancel(self, appointment: uuid.UUID | None) -> None:
            self._with(
                appointment,
                lambda s, a: actions.cancel(s, app_settings, self._actor(a.made_by_id), a),
            )

        @rule(appointment=appointments, slot=st.integers(0, 2 * SLOTS - 1))
        def reschedule(self, appointment: uuid.UUID | None, slot: int) -> None:
            self._with(
                appointment,
                lambda s, a: actions.reschedule(
                    s, app_settings, self._actor(a.made_by_id), a, starts_at=self._slot(slot)
                ),
            )

        @rule(appointment=appointments)
        def no_show(self, appointment: uuid.UUID | None) -> None:
            """The office marks a visit missed (seen from just after it began)."""
            if appointment is None:
                return
            with session_scope() as session:
                starts_at = session.get_one(Appointment, appointment).starts_at
            officer = Principal(kind="officer", roles=frozenset({"admin"}))
            saved, self.now = self.now, starts_at + timedelta(minutes=1)
            self._with(
                appointment, lambda s, a: actions.mark(s, app_settings, officer, a, "no_show")
            )
            self.now = max(saved, self.now)

        @rule(minutes=st.integers(1, 30))
        def time_passes(self, minutes: int) -> None:
            self.now += timedelta(minutes=minutes)

        @rule()
        def sweep_lapsed_holds(self) -> None:
            with clock.frozen(self.now), session_scope() as session:
                actions.release_lapsed_holds(session, app_settings)

        @rule(who=st.integers(0, 3), service=st.sampled_from(SERVICES))
        def join_waitlist(self, who: int, service: str) -> None:
            with clock.frozen(self.now), session_scope() as session:
                actions.join_waitlist(
                    session, self._actor(self.people[who]),
                    person=session.get_one(Person, self.people[who]), service_code=service,
                    office=session.get_one(Office, self.office_id), before=None,
                )  # fmt: skip

        @invariant()
        def confirmed_plus_held_within_capacity(self) -> None:
            with session_scope() as session:
                visits = session.scalars(
                    select(Appointment).where(Appointment.office_id == self.office_id)
                ).all()
                claims = session.execute(
                    select(SlotClaim.appointment_id, SlotClaim.counter_id, SlotClaim.starts_at)
                ).all()
            live = [
                v for v in visits
                if v.status in LIVE or (v.status == "held" and v.held_until > self.now)
            ]  # fmt: skip
            taken: dict[tuple[uuid.UUID, datetime], uuid.UUID] = {}
            per_slot: dict[datetime, int] = {}
            for visit in live:
                at_ = visit.starts_at
                while at_ < visit.ends_at:
                    key = (visit.counter_id, at_)
                    assert key not in taken, f"{visit.id} and {taken[key]} share {key}"
                    taken[key] = visit.id
                    per_slot[at_] = per_slot.get(at_, 0) + 1
                    at_ += timedelta(minutes=15)
            assert all(count <= 2 for count in per_slot.values()), per_slot
            mine = {v.id for v in visits}
            claimed = {(c.counter_id, c.starts_at): c.appointment_id for c in claims
                       if c.appointment_id in mine}  # fmt: skip
            for key, visit_id in taken.items():
                assert claimed.get(key) == visit_id, f"live visit {visit_id} lacks claim {key}"
            dead = {v.id for v in visits if v.status in ("cancelled", "expired")}
            assert not dead & set(claimed.values()), "a cancelled or expired visit holds claims"

    run_state_machine_as_test(
        Bookings,
        settings=hypothesis_settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),  # fmt: skip
    )
    for effect in ("booked", "held", "→booked", "→cancelled", "→no_show"):
        assert done.get(effect, 0) > 0, (effect, done)
