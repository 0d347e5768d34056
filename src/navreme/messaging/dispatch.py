"""Delivering: workers claim deliveries by id, call the provider outside any transaction, record.

A worker's batch goes through three short steps:

1. **claim** — one UPDATE moves the given deliveries that are still due from `created` /
   `failed-temporary` to `sending`, with a lease (`claimed_until`). A duplicate task, a second
   worker or a replay finds nothing left to claim: each delivery is sent by one worker at a time.
2. **send** — per delivery, outside the database: the consent check already done at claim,
   the channel's circuit breaker and rate limit, then the adapter. The delivery id travels as
   the provider's idempotency key, so a resend after a crash is recognisably the same message.
3. **record** — one transaction: `sent` (with the provider id), or `failed-temporary` with a
   capped exponential backoff with jitter, or a terminal `technical-failure` /
   `permanent-failure`, after which the message climbs its fallback ladder.

A worker killed between 1 and 3 leaves deliveries in `sending`; when their lease runs out the
sweeper makes them due again (T05). Nothing is lost because the database, not the queue, holds
the deliveries; the queue only carries ids.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.orm import Session

from navreme import clock
from navreme.config import Settings, get_settings
from navreme.db import session_scope
from navreme.messaging import actions, choices
from navreme.messaging.channels.base import (
    Accepted,
    BatchChannel,
    DeliveryError,
    Outgoing,
)
from navreme.messaging.channels.registry import ChannelNotConfigured, options_for
from navreme.messaging.models import Delivery, DeliveryEvent, Message
from navreme.registry.models import ConsentEvent
from navreme.registry.queries import ANY_CHANNEL, deciding_event

log = logging.getLogger(__name__)

DUE = ("created", "failed-temporary")
# Where a channel's news ends: messengers report reading, SMS delivery, the rest only sending.
READ_RECEIPTS = frozenset({"matrix", "whatsapp", "viber", "messenger", "xmpp"})
DELIVERY_RECEIPTS = frozenset({"sms"})


def reached_at(channel: str) -> str:
    """The status at which a delivery on `channel` counts as having reached the person."""
    if channel in READ_RECEIPTS:
        return "read"
    if channel in DELIVERY_RECEIPTS:
        return "delivered"
    return "sent"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    message_id: uuid.UUID
    channel: str
    address: str
    lane: str
    tries: int
    subject: str
    body: str
    html: str | None
    language: str
    format: str
    person_id: uuid.UUID | None
    purpose: str


@dataclass(frozen=True, slots=True)
class Outcome:
    claimed: Claimed
    accepted: Accepted | None = None
    error: DeliveryError | None = None
    held_until: datetime | None = None  # not tried: breaker open or rate limit, try then
    withheld: str | None = None  # not tried: consent gone / channel gone


# --- backoff, circuit breaker (per process), rate limit (per process or shared in Redis) ---


def backoff(tries: int, settings: Settings, *, retry_after: float | None = None) -> float:
    """Seconds before try `tries + 1`: capped exponential with full jitter, or what the
    provider asked for (Retry-After), whichever is longer."""
    ceiling = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** max(tries - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security  # nosec B311
    return max(delay, retry_after or 0.0)


class CircuitBreaker:
    """Per provider: after `threshold` retryable failures in a row, stop calling it for
    `cooldown` seconds; then one trial call decides (half-open)."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self.threshold, self.cooldown = threshold, cooldown
        self._failures = 0
        self._open_until = 0.0
        self._trial = False
        self._lock = threading.Lock()

    def admit(self) -> float | None:
        """None: go ahead; otherwise the monotonic time at which to try again."""
        with self._lock:
            now = time.monotonic()
            if self._open_until == 0.0:
                return None
            if now < self._open_until or self._trial:
                return max(self._open_until, now + 1.0)
            self._trial = True  # half-open: this caller is the one trial
            return None

    def succeeded(self) -> None:
        with self._lock:
            self._failures, self._open_until, self._trial = 0, 0.0, False

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial or self._failures >= self.threshold:
                self._open_until = time.monotonic() + self.cooldown
                self._trial = False

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until > time.monotonic()


class RateLimit:
    """A token bucket per channel in this process (embedded mode: one process sends);
    `take` waits up to `max_wait` seconds for a token."""

    def __init__(self, per_second: float) -> None:
        self.rate = per_second
        self._tokens = per_second
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self, max_wait: float) -> bool:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return True
                wait = (1 - self._tokens) / self.rate
            if wait > max_wait:
                return False
            time.sleep(wait)
            max_wait -= wait


class SharedRateLimit:
    """The channel's rate for all worker processes together, counted in Redis (scaled mode).

    A moving window: never more than the rate in any window, whichever process sends. It fails
    closed: with Redis unreachable nothing is sent and the delivery is held and tried again,
    because a provider's limit overrun gets the sender blocked for everyone.
    """

    def __init__(self, channel: str, per_second: float, storage: Storage) -> None:
        amount, seconds = _as_window(per_second)
        self.item = RateLimitItemPerSecond(amount, seconds, namespace="channel")
        self.channel = channel
        self.storage = storage
        self._window = MovingWindowRateLimiter(storage)

    def take(self, max_wait: float) -> bool:
        while True:
            try:
                if self._window.hit(self.item, self.channel):
                    return True
                frees_at = self._window.get_window_stats(self.item, self.channel).reset_time
            except StorageError as unreachable:
                log.warning("%s rate store unreachable (%s): held", self.channel, unreachable)
                return False
            wait = max(frees_at - time.time(), 0.001)  # limits stamps hits with time.time()
            if wait > max_wait:
                return False
            time.sleep(wait)
            max_wait -= wait


def _as_window(per_second: float) -> tuple[int, int]:
    """A rate as whole messages per whole seconds (2.5/s: 5 per 2 s; 0.2/s: 1 per 5 s)."""
    rate = Fraction(per_second).limit_denominator(60)
    if rate.numerator == 0:
        return 1, math.ceil(1 / per_second)
    return rate.numerator, rate.denominator


_breakers: dict[str, CircuitBreaker] = {}
_limits: dict[str, RateLimit | SharedRateLimit] = {}
_guard = threading.Lock()


def breaker(channel: str, settings: Settings) -> CircuitBreaker:
    with _guard:
        if channel not in _breakers:
            _breakers[channel] = CircuitBreaker(
                settings.breaker_threshold, settings.breaker_cooldown_seconds
            )
        return _breakers[channel]


def rate_limit(channel: str, settings: Settings) -> RateLimit | SharedRateLimit | None:
    """The channel's limit: shared through Redis when the scaled mode has one, else this
    process's bucket."""
    per_second = settings.channel_rates.get(channel)
    if not per_second:
        return None
    with _guard:
        if channel not in _limits:
            _limits[channel] = _new_limit(channel, float(per_second), settings)
        return _limits[channel]


def _new_limit(channel: str, per_second: float, settings: Settings) -> RateLimit | SharedRateLimit:
    if not settings.resolved_redis_url:
        return RateLimit(per_second)
    from navreme.web.ratelimit import storage_for

    return SharedRateLimit(channel, per_second, storage_for(settings))


def reset_process_state() -> None:
    """Forget breakers and buckets (tests; a worker reloading its settings)."""
    from navreme.web.ratelimit import close_storage

    with _guard:
        _breakers.clear()
        for limit in _limits.values():
            if isinstance(limit, SharedRateLimit):
                close_storage(limit.storage)
        _limits.clear()


# --- 1. claim --------------------------------------------------------------------------------


def claim(session: Session, ids: Sequence[uuid.UUID], settings: Settings) -> list[Claimed]:
    """Move the still-due deliveries among `ids` to `sending` under a lease; return them."""
    if not ids:
        return []
    now = clock.now()
    lease = now + timedelta(seconds=settings.lease_seconds)
    rows = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status.in_(DUE), Delivery.not_before <= now)
        .values(status="sending", claimed_until=lease, tries=Delivery.tries + 1, updated_at=now)
        .returning(
            Delivery.id,
            Delivery.message_id,
            Delivery.channel,
            Delivery.address,
            Delivery.lane,
            Delivery.tries,
            Delivery.subject,
            Delivery.body,
            Delivery.html,
        )  # fmt: skip
    ).all()
    if not rows:
        return []
    messages = {
        row.id: row
        for row in session.execute(
            select(
                Message.id, Message.language, Message.format, Message.person_id, Message.purpose
            ).where(Message.id.in_({row.message_id for row in rows}))
        )
    }
    return [
        Claimed(
            id=row.id,
            message_id=row.message_id,
            channel=row.channel,
            address=row.address,
            lane=row.lane,
            tries=row.tries,
            subject=row.subject,
            body=row.body,
            html=row.html,
            language=messages[row.message_id].language,
            format=messages[row.message_id].format,
            person_id=messages[row.message_id].person_id,
            purpose=messages[row.message_id].purpose,
        )  # fmt: skip
        for row in rows
    ]


def consent_now(session: Session, claimed: Sequence[Claimed], at: datetime) -> set[uuid.UUID]:
    """The claimed deliveries whose person no longer consents (T20: checked at send time)."""
    asking = [c for c in claimed if c.person_id is not None and choices.needs_consent(c.purpose)]
    if not asking:
        return set()
    persons = {c.person_id for c in asking}
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.person_id.in_(persons), ConsentEvent.recorded_at <= at)
        .order_by(ConsentEvent.recorded_at)
    )
    latest: dict[tuple[uuid.UUID, str, str], ConsentEvent] = {}
    for event in events:
        latest[(event.person_id, event.purpose, event.channel)] = event
    refused = set()
    for c in asking:
        key = (c.person_id, c.purpose)
        decided = deciding_event(latest.get((*key, c.channel)), latest.get((*key, ANY_CHANNEL)))  # type: ignore[arg-type]
        if decided is None or not decided.granted:
            refused.add(c.id)
    return refused


# --- 2. send ---------------------------------------------------------------------------------


def send_one(claimed: Claimed, settings: Settings) -> Outcome:
    circuit = breaker(claimed.channel, settings)
    reopen = circuit.admit()
    if reopen is not None:
        wait = reopen - time.monotonic()
        return Outcome(claimed, held_until=clock.now() + timedelta(seconds=max(wait, 1.0)))
    limit = rate_limit(claimed.channel, settings)
    if limit is not None and not limit.take(max_wait=settings.rate_wait_seconds):
        return Outcome(claimed, held_until=clock.now() + timedelta(seconds=1))
    try:
        adapter = actions.channels().get(claimed.channel)
    except ChannelNotConfigured as gone:
        return Outcome(claimed, withheld=str(gone))
    try:
        accepted = adapter.send(_outgoing(claimed))
    except DeliveryError as error:
        if error.retryable:
            circuit.failed()
        return Outcome(claimed, error=error)
    except Exception as unexpected:  # an adapter bug must not kill the batch or lose the row
        log.exception("adapter %s raised", claimed.channel)
        circuit.failed()
        return Outcome(
            claimed, error=DeliveryError(type(unexpected).__name__, retryable=True, code="bug")
        )
    circuit.succeeded()
    return Outcome(claimed, accepted=accepted)


# --- 3. record -------------------------------------------------------------------------------


def record(session: Session, outcomes: Iterable[Outcome], settings: Settings) -> list[Retry]:
    """Write every outcome of a batch; return what to try again and when.

    The common case — the provider took it — is written set-wise: one locking read of the
    batch, one UPDATE executed for all its rows, one INSERT of their events, one UPDATE of
    the messages that this completes. Failures are rarer and go one by one.
    """
    now = clock.now()
    outcomes = list(outcomes)
    still_sending = {
        row.id: row
        for row in session.execute(
            select(Delivery.id, Delivery.channel, Delivery.message_id)
            .where(Delivery.id.in_([o.claimed.id for o in outcomes]), Delivery.status == "sending")
            .with_for_update()
        )
    }  # anything else: the sweeper or an acknowledgement got there first
    accepted = [o for o in outcomes if o.accepted is not None and o.claimed.id in still_sending]
    _record_sent(session, accepted, now, settings)
    retries: list[Retry] = []
    for outcome in outcomes:
        if outcome.accepted is not None or outcome.claimed.id not in still_sending:
            continue
        delivery = session.get_one(Delivery, outcome.claimed.id)
        retry = _record_one(session, delivery, outcome, now, settings)
        if retry is not None:
            retries.append(retry)
    return retries


def _record_sent(
    session: Session, accepted: list[Outcome], now: datetime, settings: Settings
) -> None:
    if not accepted:
        return
    rows = []
    for outcome in accepted:
        claimed = outcome.claimed
        secret = claimed.purpose == "login" and _real_channel(settings, claimed.channel)
        rows.append({
            "b_id": claimed.id, "b_pid": outcome.accepted.provider_message_id,  # type: ignore[union-attr]
            "b_body": LOGIN_CODE_REMOVED if secret else claimed.body,
            "b_html": None if secret else claimed.html,
        })  # fmt: skip
    table = Delivery.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            status="sent",
            provider_message_id=bindparam("b_pid"),
            sent_at=now,
            updated_at=now,
            claimed_until=None,
            body=bindparam("b_body"),
            html=bindparam("b_html"),
        ),  # fmt: skip
        rows,
    )
    session.execute(
        insert(DeliveryEvent.__table__),
        [
            {
                "delivery_id": o.claimed.id,
                "status": "sent",
                "source": "worker",
                "detail": "",
                "at": now,
            }
            for o in accepted
        ],  # fmt: skip
    )
    done = [o.claimed.message_id for o in accepted if reached_at(o.claimed.channel) == "sent"]
    if done:
        session.execute(
            update(Message)
            .where(Message.id.in_(done), Message.status == "active")
            .values(status="completed", next_step_at=None, updated_at=now)
        )


@dataclass(frozen=True, slots=True)
class Retry:
    id: uuid.UUID
    lane: str
    at: datetime


def _record_one(
    session: Session, delivery: Delivery, outcome: Outcome, now: datetime, settings: Settings
) -> Retry | None:
    if outcome.held_until is not None:
        delivery.tries -= 1  # not a try: the provider was not called
        delivery.not_before = outcome.held_until
        actions.set_status(session, delivery, "failed-temporary", now, source="worker",
                           detail="circuit open or rate limited")  # fmt: skip
        return Retry(delivery.id, delivery.lane, outcome.held_until)
    if outcome.withheld is not None:
        actions.set_status(session, delivery, "cancelled", now, source="worker",
                           detail=outcome.withheld)  # fmt: skip
        _climb(session, delivery, now, "withheld")
        return None
    error = outcome.error
    if error is None:
        return None
    delivery.error_code = (error.code or "")[:60] or None
    delivery.error = str(error)[:300]
    if error.retryable and delivery.tries < settings.max_tries:
        delay = backoff(delivery.tries, settings, retry_after=error.retry_after)
        delivery.not_before = now + timedelta(seconds=delay)
        actions.set_status(session, delivery, "failed-temporary", now, source="worker",
                           detail=str(error))  # fmt: skip
        return Retry(delivery.id, delivery.lane, delivery.not_before)
    final = "technical-failure" if error.retryable else "permanent-failure"
    actions.set_status(session, delivery, final, now, source="worker", detail=str(error))
    _climb(session, delivery, now, final)
    return None


LOGIN_CODE_REMOVED = "(a login code: removed once sent)"


def _real_channel(settings: Settings, channel: str) -> bool:
    chosen = options_for(settings, channel)
    return chosen is not None and chosen[0] != "fake"


def _climb(session: Session, delivery: Delivery, now: datetime, reason: str) -> None:
    message = session.get_one(Message, delivery.message_id, with_for_update=True)
    if message.step == delivery.step:
        actions.climb(session, message, now, reason=reason)


# --- the batch, as a worker runs it -----------------------------------------------------------


def deliver(ids: Sequence[uuid.UUID], settings: Settings | None = None) -> list[Retry]:
    """Claim, send and record one batch of deliveries; return the retries to schedule."""
    settings = settings or get_settings()
    with session_scope() as session:
        claimed = claim(session, ids, settings)
        refused = consent_now(session, claimed, clock.now())
    if not claimed:
        return []
    outcomes = [Outcome(c, withheld="consent withdrawn") for c in claimed if c.id in refused]
    by_channel: dict[str, list[Claimed]] = {}
    for c in claimed:
        if c.id not in refused:
            by_channel.setdefault(c.channel, []).append(c)
    for channel, group in by_channel.items():
        outcomes += send_group(channel, group, settings)
    with session_scope() as session:
        return record(session, outcomes, settings)


def send_group(channel: str, group: list[Claimed], settings: Settings) -> list[Outcome]:
    """A provider with a batch API (or an adapter that sends a group concurrently) gets the
    group in one call; any other one by one."""
    try:
        adapter = actions.channels().get(channel)
    except ChannelNotConfigured as gone:
        return [Outcome(c, withheld=str(gone)) for c in group]
    if len(group) < 2 or not isinstance(adapter, BatchChannel) or rate_limit(channel, settings):
        return [send_one(c, settings) for c in group]
    probed: list[Outcome] = []
    if getattr(adapter, "sends_each", False):
        # One request per message, all in flight at once: the first goes alone, so a provider
        # that is down costs one request and the breaker opens exactly as it would one by one.
        probed = [send_one(group[0], settings)]
        if probed[0].accepted is None:
            return probed + [send_one(c, settings) for c in group[1:]]
        group = group[1:]
        if len(group) == 1:
            return probed + [send_one(group[0], settings)]
    circuit = breaker(channel, settings)
    reopen = circuit.admit()
    if reopen is not None:
        wait = timedelta(seconds=max(reopen - time.monotonic(), 1.0))
        return probed + [Outcome(c, held_until=clock.now() + wait) for c in group]
    try:
        answers = adapter.send_many([_outgoing(c) for c in group])
    except DeliveryError as error:  # the whole call failed: every message shares the answer
        if error.retryable:
            circuit.failed()
        return probed + [Outcome(c, error=error) for c in group]
    retryable = [a for a in answers if isinstance(a, DeliveryError) and a.retryable]
    for _ in retryable:  # each refused message counts, as it would one by one
        circuit.failed()
    if len(retryable) < len(answers):
        circuit.succeeded()
    return probed + [
        Outcome(c, error=a) if isinstance(a, DeliveryError) else Outcome(c, accepted=a)
        for c, a in zip(group, answers, strict=True)
    ]


def _outgoing(claimed: Claimed) -> Outgoing:
    return Outgoing(
        attempt_id=claimed.id, address=claimed.address, language=claimed.language,
        text=claimed.body, subject=claimed.subject, html=claimed.html, format=claimed.format,
    )  # fmt: skip


def enqueue(ids: Sequence[uuid.UUID], lane: str, *, at: datetime | None = None) -> None:
    """Hand ids to the queue in batches; the priority lane goes before any bulk batch."""
    from navreme.messaging import tasks

    settings = get_settings()
    batch = settings.dispatch_batch
    for start in range(0, len(ids), batch):
        chunk = [str(i) for i in ids[start : start + batch]]
        tasks.enqueue_batch(chunk, lane, at=at)


# --- the sweeper -----------------------------------------------------------------------------


def sweep(session: Session, settings: Settings, *, limit: int = 10_000) -> dict[str, int]:
    """Leases that ran out become due again; due deliveries nobody took are handed out again;
    ladders whose time ran out climb. Safe to run any number of times, anywhere."""
    now = clock.now()
    expired = session.execute(
        update(Delivery)
        .where(Delivery.status == "sending", Delivery.claimed_until < now)
        .values(status="failed-temporary", claimed_until=None, not_before=now, updated_at=now)
        .returning(Delivery.id, Delivery.lane)
    ).all()
    overdue = session.execute(
        select(Delivery.id, Delivery.lane)
        .where(
            and_(
                Delivery.status.in_(DUE),
                Delivery.not_before <= now - timedelta(seconds=settings.sweep_grace_seconds),
            )
        )
        .order_by(Delivery.not_before)
        .limit(limit)
    ).all()
    climbed = actions.climb_due_ladders(session)
    by_lane: dict[str, list[uuid.UUID]] = {"priority": [], "bulk": []}
    for row in [*expired, *overdue]:
        by_lane[row.lane].append(row.id)
    for lane, ids in by_lane.items():
        if ids:
            actions.hand_to_workers(session, ids, lane)
    return {"leases_expired": len(expired), "requeued": len(overdue), "climbed": climbed}
