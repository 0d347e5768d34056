"""An adapter's `listen()` running in a thread of its own, what it delivers kept for the test."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from navreme.messaging.channels.base import Event, Listener

WAIT_S = 30.0  # an upper bound for a wait, never an assertion about speed


class Listening:
    """The adapter's `listen()` running in its own thread, its events collected."""

    def __init__(self, channel: Listener) -> None:
        self._events: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=channel.listen, args=(self._deliver, self._stop))
        self._thread.start()

    def first(self, wanted: Callable[[Event], bool]) -> Event:
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                break
            if wanted(event):
                return event
        raise AssertionError("listen() delivered no such event")

    def stop(self) -> None:
        """Set the stop event; `listen()` must return (the thread end) within the wait."""
        self._stop.set()
        self._thread.join(WAIT_S)
        if self._thread.is_alive():
            raise AssertionError("listen() did not return after its stop event was set")

    def _deliver(self, events: list[Event]) -> None:
        for event in events:
            self._events.put(event)
