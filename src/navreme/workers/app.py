"""The job queue: Huey with SQLite storage embedded, Redis when NAVREME_QUEUE_URL says so.

Queue items carry ids only; the database is the source of truth. Periodic work is written to
be idempotent, so it may run more often than needed (the daily rule run is checked hourly).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from huey import Huey, PriorityRedisHuey, SqliteHuey, crontab

from navreme.config import Settings, get_settings

log = logging.getLogger("navreme.workers")
Job = TypeVar("Job", bound=Callable[..., Any])
# Several consumers of the scaled mode each enqueue every periodic job at every tick; copies
# of one tick arrive within seconds of each other, the next tick at least a minute later.
TICK_CLAIM_SECONDS = 50


def make_huey(settings: Settings) -> Huey:
    if settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        # Priority-aware (a Redis sorted set): the messaging priority lane goes first.
        return PriorityRedisHuey("navreme", url=settings.queue_url)
    settings.home.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("navreme", filename=str(settings.home / "queue.db"))


huey = make_huey(get_settings())


@functools.cache
def _claims(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def once_per_tick(name: str) -> Callable[[Job], Job]:
    """Run a periodic job once per tick however many consumers enqueued it: the first copy
    claims the tick in Redis (SET NX with a 50 s expiry, so a killed worker's claim lapses by
    itself), later copies skip. Embedded (one consumer, no Redis) every copy runs. If Redis is
    unreachable every copy runs too: the jobs are idempotent, a second run only wastes work."""

    def decorate(job: Job) -> Job:
        @functools.wraps(job)
        def claimed(*args: Any, **kwargs: Any) -> Any:
            url = get_settings().resolved_redis_url
            if url:
                try:
                    first = _claims(url).set(
                        f"navreme-tick:{name}", os.getpid(), nx=True, ex=TICK_CLAIM_SECONDS
                    )
                except redis.RedisError as down:
                    log.warning(
                        "%s: tick claim unavailable (%s), running", name, type(down).__name__
                    )
                    first = True
                if not first:
                    return None
            return job(*args, **kwargs)

        return claimed  # type: ignore[return-value]

    return decorate


# Every hour, at five past: the rules' daily run is a catch-up that does nothing for a day
# already done, so checking hourly survives downtime, restarts and DST changes alike.
DAILY_RULES_SCHEDULE = crontab(minute="5")


@huey.periodic_task(DAILY_RULES_SCHEDULE, name="rules.daily")
@once_per_tick("rules.daily")
def daily_rules() -> int:
    """Run every published rule for each day it has not yet run, up to today (Europe/Skopje)."""
    from navreme import clock
    from navreme.db import session_scope
    from navreme.rules.actions import catch_up

    settings = get_settings()
    with session_scope() as session:
        return len(catch_up(session, until=clock.today(settings.timezone)))


@huey.periodic_task(crontab(minute="*"), name="scheduling.release_lapsed_holds")
@once_per_tick("scheduling.release_lapsed_holds")
def release_lapsed_holds() -> int:
    """Every minute: holds whose time ran out give their slots back, to the waitlist first.

    A lapsed hold already reads as free to anyone booking; this makes it visible as `expired`
    and passes the slot to the next person waiting.
    """
    from navreme.db import session_scope
    from navreme.scheduling.actions import release_lapsed_holds as release

    with session_scope() as session:
        return release(session, get_settings())


@huey.periodic_task(crontab(minute="17"), name="web.forget_idempotency_keys")
@once_per_tick("web.forget_idempotency_keys")
def forget_idempotency_keys() -> int:
    """Hourly: Idempotency-Key answers older than a day are dropped."""
    from navreme.db import session_scope
    from navreme.web.idempotency import forget_old

    with session_scope() as session:
        return forget_old(session)


@huey.periodic_task(crontab(minute="*/5"), name="scheduling.send_due_invitations")
@once_per_tick("scheduling.send_due_invitations")
def send_due_invitations() -> int:
    """Every five minutes: held appointments whose invitation day has come are offered."""
    from navreme.db import session_scope
    from navreme.scheduling.invitations import send_due_invitations as invite

    total = 0
    while True:  # a thousand per transaction, so a big campaign day commits as it goes
        with session_scope() as session:
            sent = invite(session, get_settings(), limit=1000)
        total += sent
        if sent < 1000:
            return total


@huey.periodic_task(crontab(minute="*/5"), name="cases.supervise_sla")
@once_per_tick("cases.supervise_sla")
def supervise_sla() -> int:
    """Every five minutes: open cases' SLA states; escalations for new at-risk/breached ones."""
    from navreme.cases.sla import run
    from navreme.db import session_scope

    with session_scope() as session:
        return sum(run(session).changed.values())


@huey.periodic_task(crontab(minute="*"), name="audit.chain_pending")
@once_per_tick("audit.chain_pending")
def chain_audit_entries() -> int:
    """Every minute: audit entries appended since the last run join the hash chain, a batch
    per transaction (PostgreSQL; on SQLite `record` chains at once and this finds nothing)."""
    from navreme.audit.actions import chain_all_pending
    from navreme.db import get_engine

    return chain_all_pending(get_engine())


# Task modules register themselves on import; the consumer must see every one of them.
from navreme.messaging import tasks as messaging_tasks  # noqa: E402

__all__ = ["huey", "make_huey", "messaging_tasks"]
