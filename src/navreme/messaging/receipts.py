"""Receipts: a provider's word on a delivery, applied idempotently and only ever forwards (T09).

A receipt moves its delivery up the scale of `models.RANK` and never down, so receipts
replayed in any order end in the most final status. A receipt naming an unknown provider id is
counted and dropped (it may be for a message of another system on the same account), and so
is a read watermark that finds nothing left to mark read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from navreme import clock
from navreme.messaging import actions
from navreme.messaging.channels.base import Receipt
from navreme.messaging.dispatch import reached_at
from navreme.messaging.models import RANK, Delivery, Message

WATERMARK = "watermark:"
_STAMP = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at"}


@dataclass(frozen=True, slots=True)
class Applied:
    applied: int
    stale: int  # already at or past that status
    unknown: int


def _deliveries_named(session: Session, receipt: Receipt) -> list[Delivery]:
    """The delivery a receipt names; for a read *watermark* (Messenger: "everything sent to this
    person up to this instant was read", id `watermark:<address>:<epoch ms>`), every delivery on
    that channel to that address sent at or before it."""
    if receipt.provider_message_id.startswith(WATERMARK):
        address, _, millis = receipt.provider_message_id[len(WATERMARK) :].rpartition(":")
        if not address or not millis.isdigit():
            return []
        until = datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
        query = select(Delivery).where(
            Delivery.channel == receipt.channel, Delivery.address == address,
            Delivery.sent_at.is_not(None), Delivery.sent_at <= until,
            Delivery.status.in_(("sent", "delivered")),
        )  # fmt: skip
        return list(session.scalars(query.with_for_update()))
    found = session.scalar(
        select(Delivery)
        .where(
            Delivery.channel == receipt.channel,
            Delivery.provider_message_id == receipt.provider_message_id,
        )
        .with_for_update()
    )
    return [found] if found is not None else []


def apply_receipts(session: Session, receipts: Sequence[Receipt]) -> Applied:
    applied = stale = unknown = 0
    now = clock.now()
    named = [(receipt, delivery) for receipt in receipts
             for delivery in _deliveries_named(session, receipt) or [None]]  # fmt: skip
    for receipt, delivery in named:
        if delivery is None:
            unknown += 1
            continue
        if RANK[receipt.status] <= RANK[delivery.status]:
            stale += 1
            continue
        applied += 1
        at = receipt.at or now
        stamp = _STAMP.get(receipt.status)
        if stamp is not None:
            setattr(delivery, stamp, at)
        if receipt.status == "read" and delivery.delivered_at is None:
            delivery.delivered_at = at  # read implies delivered
        if receipt.error_code:
            delivery.error_code = receipt.error_code[:60]
        actions.set_status(session, delivery, receipt.status, now, source="receipt")
        _after(session, delivery, receipt.status, now)
    return Applied(applied, stale, unknown)


def _after(session: Session, delivery: Delivery, status: str, now: datetime) -> None:
    if RANK[status] >= RANK[reached_at(delivery.channel)] and status != "permanent-failure":
        actions.complete(session, delivery.message_id, now)
    elif status == "permanent-failure":
        message = session.get_one(Message, delivery.message_id, with_for_update=True)
        if message.step == delivery.step:
            actions.climb(session, message, now, reason="provider reported failure")
