"""The development channel: accepts everything; the outbox page shows what it was given.

Tests and chaos drills configure failures with options: `fail_first` retryable failures per
attempt id, `permanent` to refuse every message, or `fail_rate` / `permanent_rate`: a share of
tries that fail, drawn from the attempt id and try number (so a run can be replayed). The
dispatcher's retries and ladder can so be exercised without a network.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import ClassVar

from navreme.messaging.channels.base import Accepted, DeliveryError, Outgoing


class FakeChannel:
    name: ClassVar[str] = "fake"

    def __init__(
        self,
        fail_first: int = 0,
        permanent: bool = False,
        fail_rate: float = 0.0,
        permanent_rate: float = 0.0,
    ) -> None:
        self.fail_first = fail_first
        self.permanent = permanent
        self.fail_rate = fail_rate
        self.permanent_rate = permanent_rate
        self._tries: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> Accepted:
        key = str(message.attempt_id)
        if self.permanent:
            raise DeliveryError("fake channel refuses every message", retryable=False, code="fake")
        with self._lock:
            self._tries[key] += 1
            tries = self._tries[key]
        if tries <= self.fail_first:
            raise DeliveryError(f"fake failure {tries} of {self.fail_first}", retryable=True)
        draw = random.Random(f"{key}:{tries}").random()  # noqa: S311 - a drill, not security  # nosec B311
        if draw < self.permanent_rate:
            raise DeliveryError("fake refusal (drawn)", retryable=False, code="fake")
        if draw < self.permanent_rate + self.fail_rate:
            raise DeliveryError("fake failure (drawn)", retryable=True)
        return Accepted(provider_message_id=f"fake-{key}")

    def close(self) -> None:
        return None
