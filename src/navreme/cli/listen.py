"""`navreme listen CHANNEL`: hold a channel's connection (Matrix sync, XMPP, SMPP) and receive.

Channels without webhooks deliver inbound messages and receipts over a connection the adapter
keeps open; each batch it hands over is recorded by `inbound.receive` in a transaction of its
own. A batch that cannot be recorded is logged and raised back to the adapter, which must
not acknowledge it to the provider (it comes again; replays are no-ops). Ctrl-C or SIGTERM
stops it cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading

import typer

from navreme.config import get_settings
from navreme.messaging.channels.base import Event, Listener, as_channel
from navreme.messaging.channels.registry import ChannelNotConfigured, Channels

log = logging.getLogger("navreme.cli.listen")


def deliver(events: list[Event]) -> None:
    """Record one batch in its own transaction; a failure is logged and raised to the adapter."""
    from navreme.db import session_scope
    from navreme.messaging.inbound import receive

    try:
        with session_scope() as session:
            receive(session, events)
    except Exception:
        log.exception("a batch of %d events could not be recorded", len(events))
        raise


def run(channel: str, stop: threading.Event) -> None:
    """Listen on `channel` until `stop` is set; exits 2 if the channel cannot listen."""
    channels = Channels(get_settings())
    try:
        adapter = channels.get(channel)
    except ChannelNotConfigured as missing:
        typer.echo(f"navreme listen: {missing}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(adapter, Listener):
        typer.echo(
            f"navreme listen: channel {channel!r} has no listener (it uses webhooks)", err=True
        )
        raise typer.Exit(2)
    try:
        adapter.listen(lambda events: deliver(as_channel(events, channel)), stop)
    finally:
        channels.close()


def listen(channel: str = typer.Argument(..., help="a configured channel, e.g. matrix")) -> None:
    """Receive a channel's inbound messages and receipts until interrupted."""
    from navreme.migrate import ensure_database

    ensure_database()
    stop = threading.Event()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, lambda *_: stop.set())
    try:
        run(channel, stop)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
