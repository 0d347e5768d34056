"""Which adapter serves which channel: `NAVREME_CHANNELS`, a JSON object per channel.

    NAVREME_CHANNELS='{"email": {"adapter": "smtp", "host": "mail.example", "port": 587},
                       "telegram": {"adapter": "telegram", "token": "…", "secret_token": "…"}}'

Every key but "adapter" is a keyword argument of the adapter's class, so a misspelt option is a
clear error at start-up, not a silent default. Outside production a channel with no settings is
served by the fake adapter, whose messages the development outbox page shows.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from navreme.config import Settings
from navreme.messaging.channels.base import Channel

# adapter name -> "module:Class"; a new adapter adds one line (docs/how-to-add-a-channel.md)
ADAPTERS: dict[str, str] = {
    "fake": "navreme.messaging.channels.fake:FakeChannel",
    "http": "navreme.messaging.channels.http:HttpChannel",
    "smtp": "navreme.messaging.channels.smtp:SmtpChannel",
    "matrix": "navreme.messaging.channels.matrix:MatrixChannel",
    "xmpp": "navreme.messaging.channels.xmpp:XmppChannel",
    "smpp": "navreme.messaging.channels.sms:SmppChannel",
    "telegram": "navreme.messaging.channels.telegram:TelegramChannel",
    "whatsapp": "navreme.messaging.channels.whatsapp:WhatsAppChannel",
    "viber": "navreme.messaging.channels.viber:ViberChannel",
    "messenger": "navreme.messaging.channels.messenger:MessengerChannel",
    "apprise": "navreme.messaging.channels.apprise:AppriseChannel",
    "webpush": "navreme.messaging.channels.webpush:WebPushChannel",
    "letter": "navreme.messaging.channels.letter:LetterChannel",
    "voice": "navreme.messaging.channels.voice:VoiceChannel",
}


class ChannelNotConfigured(LookupError):
    pass


def adapter_class(adapter: str) -> type[Channel]:
    try:
        module_name, _, class_name = ADAPTERS[adapter].partition(":")
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ChannelNotConfigured(f"unknown adapter {adapter!r} (known: {known})") from None
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def build(adapter: str, options: dict[str, Any]) -> Channel:
    cls = adapter_class(adapter)
    try:
        return cls(**options)
    except TypeError as wrong:
        raise ChannelNotConfigured(f"adapter {adapter!r}: {wrong}") from None


def options_for(settings: Settings, channel: str) -> tuple[str, dict[str, Any]] | None:
    configured = settings.channels.get(channel)
    if configured is None:
        return None if settings.env == "production" else ("fake", {})
    values = dict(configured)
    return str(values.pop("adapter", channel)), values


class Channels:
    """One adapter instance per channel per process, built on first use, closed together."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._built: dict[str, Channel] = {}
        self._lock = threading.Lock()

    def available(self, channel: str) -> bool:
        return options_for(self._settings, channel) is not None

    def get(self, channel: str) -> Channel:
        with self._lock:
            if channel not in self._built:
                chosen = options_for(self._settings, channel)
                if chosen is None:
                    raise ChannelNotConfigured(f"channel {channel!r} has no adapter configured")
                self._built[channel] = build(*chosen)
            return self._built[channel]

    def close(self) -> None:
        with self._lock:
            for adapter in self._built.values():
                adapter.close()
            self._built.clear()
