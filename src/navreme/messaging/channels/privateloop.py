"""One asyncio event loop in a daemon thread, owned by one adapter (Matrix, XMPP).

Their client libraries (matrix-nio, slixmpp) are asyncio-only and keep a connection and state
bound to one loop, while the dispatcher calls `send()` from many worker threads and
`listen()` from its own. So each adapter runs one private loop, and every thread hands it
coroutines and blocks on the result: all client state is touched by the loop's thread only,
which is what makes `send()` thread-safe without locks around the client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_STOP_POLL_S = 0.1  # how soon a blocked listener notices its stop event


class LoopClosed(RuntimeError):
    """The adapter was closed; no more work is taken."""


class PrivateLoop:
    """A running event loop that other threads submit coroutines to."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `work` on the loop; the future is the caller's handle on it."""
        if self._closed:
            work.close()
            raise LoopClosed("the adapter is closed")
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def run(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `work` on the loop and wait for it; `TimeoutError` (and cancel) after `timeout`.

        `LoopClosed` when the adapter is closed before or while it runs.
        """
        future = self.submit(work)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout} s") from None
        except concurrent.futures.CancelledError:
            raise LoopClosed("the adapter was closed meanwhile") from None

    def run_until_stopped(
        self, work: Coroutine[Any, Any, T], stop: threading.Event
    ) -> tuple[bool, T | None]:
        """Wait for `work` unless `stop` is set first, then cancel it: (finished, result).

        Closing the adapter counts as a stop: a listener then simply returns.
        """
        try:
            future = self.submit(work)
        except LoopClosed:
            return False, None
        while not future.done():
            if stop.wait(_STOP_POLL_S):
                future.cancel()
                return False, None
        if future.cancelled():
            return False, None
        return True, future.result()

    def close(self, last: Coroutine[Any, Any, object] | None = None, timeout: float = 10) -> None:
        """Run `last` (the client's own shutdown), then stop the loop and join its thread."""
        if self._closed:
            if last is not None:
                last.close()
            return
        if last is not None:
            # shutting down: a goodbye that fails or hangs changes nothing
            with contextlib.suppress(Exception):
                self.run(last, timeout)
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._cancel_leftovers()
            self._loop.close()

    def _cancel_leftovers(self) -> None:
        leftovers = asyncio.all_tasks(self._loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            gathered = asyncio.gather(*leftovers, return_exceptions=True)
            self._loop.run_until_complete(gathered)
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
