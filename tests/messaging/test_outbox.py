"""The outbox: messages written with the business change, delivered by workers, laddered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from navreme import clock, config
from navreme.db import session_scope
from navreme.messaging import actions, dispatch
from navreme.messaging.models import ConversationItem, Delivery, DeliveryEvent, Message
from tests.messaging.conftest import queued_ids
from tests.messaging.helpers import ADDRESSES, citizen, give

NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 in Skopje: outside quiet hours


@pytest.fixture
def noon() -> Iterator[datetime]:
    with clock.frozen(NOON):
        yield NOON


def channels_setting(monkeypatch: pytest.MonkeyPatch, value: dict[str, dict[str, object]]) -> None:
    monkeypatch.setenv("NAVREME_CHANNELS", json.dumps(value))
    config.get_settings.cache_clear()
    actions.reset_channels()


def invite(session: Session, person_id: object, **extra: object) -> Message:
    return actions.send(
        session, person_id=person_id, purpose="proactive_offers", template="appointment_invite",  # type: ignore[arg-type]
        context={"service_name": "Лична карта", "office_name": "МВР Велес",
                 "starts_at": "03.12.2026 09:30", "held_until": "26.11.2026 00:00",
                 "reason": "вашата лична карта истекува"},
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def deliveries(session: Session, message: Message) -> list[Delivery]:
    session.expire_all()
    query = select(Delivery).where(Delivery.message_id == message.id).order_by(Delivery.step)
    return list(session.scalars(query))


def run_worker(session: Session) -> int:
    """What a worker does with every id waiting in the queue; returns how many were claimed."""
    from navreme.workers.app import huey

    ids = queued_ids()
    huey.storage.flush_queue()
    import uuid

    dispatch.deliver([uuid.UUID(i) for i in ids])
    session.expire_all()
    return len(ids)


def test_the_message_and_its_first_delivery_are_written_in_the_callers_transaction(
    db_session: Session, noon: datetime
) -> None:
    person = citizen(db_session)
    db_session.commit()
    message = invite(db_session, person.id)
    assert message.ladder == [
        ["telegram", ADDRESSES["telegram"]], ["sms", ADDRESSES["sms"]],
        ["email", ADDRESSES["email"]], ["outreach", ""],
    ]  # fmt: skip
    [first] = deliveries(db_session, message)
    assert first.channel == "telegram"
    assert first.status == "created"
    assert "СТОП" in first.body  # a proactive message says how to stop proactive contact
    assert "Лична карта" in first.body
    second = invite(db_session, person.id)  # a second send releases a SAVEPOINT of its own
    assert queued_ids() == []  # nothing is handed out before the transaction commits
    db_session.commit()
    assert queued_ids() == [str(first.id), str(deliveries(db_session, second)[0].id)]


def test_a_rolled_back_business_change_leaves_no_message_and_hands_nothing_out(
    db_session: Session, noon: datetime
) -> None:
    person = citizen(db_session)
    db_session.commit()

    def business_change_that_fails() -> None:
        with session_scope() as session:
            invite(session, person.id)
            session.flush()
            raise RuntimeError("business rule broke")

    with pytest.raises(RuntimeError, match="business rule broke"):
        business_change_that_fails()
    assert db_session.scalar(select(func.count()).select_from(Message)) == 0
    assert db_session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert queued_ids() == []


def test_channels_without_consent_are_not_on_the_ladder(
    db_session: Session, noon: datetime
) -> None:
    person = citizen(db_session, consent={"telegram": False, "sms": True, "email": False})
    message = invite(db_session, person.id)
    assert [step[0] for step in message.ladder] == ["sms", "outreach"]


def test_no_consent_anywhere_sends_nothing_and_asks_an_officer(
    db_session: Session, noon: datetime
) -> None:
    person = citizen(db_session, consent={})
    message = invite(db_session, person.id)
    assert message.status == "exhausted"
    assert deliveries(db_session, message) == []
    item = db_session.scalars(select(ConversationItem)).one()
    assert item.needs_officer


def test_the_same_dedupe_key_is_one_message(db_session: Session, noon: datetime) -> None:
    person = citizen(db_session)
    first = invite(db_session, person.id, dedupe_key="invite:x")
    second = invite(db_session, person.id, dedupe_key="invite:x")
    assert first.id == second.id
    assert db_session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_a_worker_sends_and_records_the_provider_id(db_session: Session, noon: datetime) -> None:
    person = citizen(db_session)
    message = invite(db_session, person.id)
    db_session.commit()
    assert run_worker(db_session) == 1
    [sent] = deliveries(db_session, message)
    assert sent.status == "sent"
    assert sent.provider_message_id == f"fake-{sent.id}"
    assert sent.sent_at == NOON
    db_session.refresh(message)
    assert message.status == "completed"  # Telegram tells no more than "sent"


def test_retryable_failures_back_off_then_succeed(
    db_session: Session, noon: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels_setting(monkeypatch, {"telegram": {"adapter": "fake", "fail_first": 2}})
    person = citizen(db_session)
    message = invite(db_session, person.id)
    db_session.commit()
    [delivery] = deliveries(db_session, message)
    at = NOON
    for _ in range(2):
        with clock.frozen(at):
            dispatch.deliver([delivery.id])
            db_session.expire_all()
            assert delivery.status == "failed-temporary"
            assert delivery.not_before > at
            dispatch.deliver([delivery.id])  # not due yet: nothing happens
            db_session.expire_all()
            assert delivery.tries < 3
        at = delivery.not_before
    with clock.frozen(at):
        dispatch.deliver([delivery.id])
    db_session.expire_all()
    assert delivery.status == "sent"
    assert delivery.tries == 3
    statuses = db_session.scalars(
        select(DeliveryEvent.status)
        .where(DeliveryEvent.delivery_id == delivery.id)
        .order_by(DeliveryEvent.id)
    ).all()
    assert statuses == ["created", "failed-temporary", "failed-temporary", "sent"]


def test_backoff_is_capped_exponential_with_jitter() -> None:
    settings = config.Settings(retry_base_seconds=5, retry_cap_seconds=60)
    delays = [dispatch.backoff(tries, settings) for tries in range(1, 10) for _ in range(50)]
    assert min(delays) >= 2.5
    assert max(delays) <= 60
    firsts = {dispatch.backoff(1, settings) for _ in range(50)}
    assert len(firsts) > 1  # jittered
    assert dispatch.backoff(1, settings, retry_after=90) == 90


def test_a_permanent_failure_climbs_to_the_next_rung_at_once(
    db_session: Session, noon: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels_setting(monkeypatch, {"telegram": {"adapter": "fake", "permanent": True}})
    person = citizen(db_session)
    message = invite(db_session, person.id)
    db_session.commit()
    run_worker(db_session)
    first, second = deliveries(db_session, message)
    assert first.status == "permanent-failure"
    assert first.tries == 1
    assert second.channel == "sms"
    assert second.status == "created"
    run_worker(db_session)
    db_session.expire_all()
    assert second.status == "sent"


def test_retries_run_out_into_a_technical_failure_nothing_left_sending(
    db_session: Session, noon: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAVREME_MAX_TRIES", "3")
    channels_setting(monkeypatch, {"telegram": {"adapter": "fake", "fail_first": 99}})
    person = citizen(db_session, channels=("telegram",))
    message = invite(db_session, person.id)
    db_session.commit()
    [delivery] = deliveries(db_session, message)
    at = NOON
    for _ in range(3):
        with clock.frozen(at):
            dispatch.deliver([delivery.id])
        db_session.expire_all()
        at = delivery.not_before
    assert delivery.status == "technical-failure"
    assert delivery.error is not None
    db_session.refresh(message)
    assert message.status == "exhausted"
    assert db_session.scalar(select(func.count()).where(Delivery.status == "sending")) == 0
    assert db_session.scalars(select(ConversationItem)).one().needs_officer


def test_the_circuit_opens_after_repeated_failures_and_holds_the_rest(
    db_session: Session, noon: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAVREME_BREAKER_THRESHOLD", "2")
    channels_setting(monkeypatch, {"telegram": {"adapter": "fake", "fail_first": 99}})
    people = [citizen(db_session, channels=("telegram",)) for _ in range(5)]
    messages = [invite(db_session, p.id) for p in people]
    db_session.commit()
    run_worker(db_session)
    rows = [deliveries(db_session, m)[0] for m in messages]
    assert sorted(r.tries for r in rows) == [0, 0, 0, 1, 1]  # three never reached the provider
    assert {r.status for r in rows} == {"failed-temporary"}
    assert dispatch.breaker("telegram", config.get_settings()).is_open


def test_consent_withdrawn_after_sending_was_decided_stops_the_send(
    db_session: Session, noon: datetime
) -> None:
    person = citizen(db_session, channels=("telegram", "sms"))
    message = invite(db_session, person.id)
    give(db_session, person.id, "telegram", False, at_offset=59)
    db_session.commit()
    run_worker(db_session)
    first, second = deliveries(db_session, message)
    assert first.status == "cancelled"
    assert first.sent_at is None
    assert second.channel == "sms"


def test_quiet_hours_wait_for_the_morning_urgent_does_not(db_session: Session) -> None:
    late = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 23:30 in Skopje
    with clock.frozen(late):
        person = citizen(db_session)
        quiet = invite(db_session, person.id)
        urgent = invite(db_session, person.id, urgent=True)
    assert deliveries(db_session, quiet)[0].not_before == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert deliveries(db_session, urgent)[0].not_before == late


def test_an_unanswered_step_climbs_after_its_time_and_the_old_step_is_never_sent(
    db_session: Session, noon: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels_setting(monkeypatch, {"matrix": {"adapter": "fake", "fail_first": 1}})
    person = citizen(db_session, channels=("matrix", "sms"))
    message = invite(db_session, person.id)
    db_session.commit()
    run_worker(db_session)  # matrix fails once: retrying
    later = NOON + timedelta(hours=config.get_settings().ladder_step_hours, minutes=1)
    with clock.frozen(later):
        dispatch.sweep(db_session, config.get_settings())
        db_session.commit()
        first, second = deliveries(db_session, message)
        assert first.status == "cancelled"  # the retry can no longer reach the person
        assert second.channel == "sms"
        dispatch.deliver([first.id, second.id])
    first, second = deliveries(db_session, message)
    assert first.status == "cancelled"
    assert second.status == "sent"


def test_an_acknowledgement_stops_the_ladder(db_session: Session, noon: datetime) -> None:
    person = citizen(db_session, channels=("matrix", "sms"))
    message = invite(db_session, person.id, subject=("appointment", person.id))
    db_session.commit()
    run_worker(db_session)
    assert (
        actions.acknowledge(
            db_session, person_id=person.id, at=NOON, subject=("appointment", person.id)
        )
        == 1
    )
    db_session.commit()
    with clock.frozen(NOON + timedelta(days=3)):
        dispatch.sweep(db_session, config.get_settings())
        db_session.commit()
    assert [d.channel for d in deliveries(db_session, message)] == ["matrix"]
    db_session.refresh(message)
    assert message.status == "acknowledged"


def test_a_lease_that_runs_out_makes_the_delivery_due_again(
    db_session: Session, noon: datetime
) -> None:
    person = citizen(db_session)
    message = invite(db_session, person.id)
    db_session.commit()
    [delivery] = deliveries(db_session, message)
    with db_session.begin_nested():
        claimed = dispatch.claim(db_session, [delivery.id], config.get_settings())
    db_session.commit()
    assert [c.id for c in claimed] == [delivery.id]  # and then the worker was killed
    assert dispatch.claim(db_session, [delivery.id], config.get_settings()) == []
    db_session.commit()
    with clock.frozen(NOON + timedelta(minutes=5)):
        report = dispatch.sweep(db_session, config.get_settings())
        db_session.commit()
        assert report["leases_expired"] == 1
        run_worker(db_session)
    db_session.expire_all()
    assert delivery.status == "sent"


def test_a_channel_rate_limit_holds_what_exceeds_it_without_counting_a_try(
    db_session: Session, noon: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAVREME_CHANNEL_RATES", json.dumps({"telegram": 2}))
    monkeypatch.setenv("NAVREME_RATE_WAIT_SECONDS", "0")
    config.get_settings.cache_clear()
    people = [citizen(db_session, channels=("telegram",)) for _ in range(5)]
    messages = [invite(db_session, p.id) for p in people]
    db_session.commit()
    run_worker(db_session)
    rows = [deliveries(db_session, m)[0] for m in messages]
    assert sorted(r.status for r in rows) == ["failed-temporary"] * 3 + ["sent"] * 2
    held = [r for r in rows if r.status == "failed-temporary"]
    assert {r.tries for r in held} == {0}  # the provider was never called for them
    assert all(r.not_before > NOON for r in held)
