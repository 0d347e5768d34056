"""The long tail of messengers through Apprise: Signal, Discord, LINE, ntfy, … outbound only.

Apprise speaks to about a hundred services, each named by a URL. One channel's setting is a
URL template with `{address}` where the person's address goes, e.g.
"signal://signal-api.internal:8080/+38970000000/{address}". The address is percent-encoded
before it goes in, so an address can never change the URL's host or options.

What Apprise cannot tell us, and what follows:
- Its answer is success or failure (or a timeout), never the service's own status or error
  code, so a failure is always retryable: the dispatcher's backoff, circuit breaker and
  fallback ladder decide what happens next. The result's status name (FAILURE, TIMEOUT, …)
  is kept as the error code. Only an address that makes no URL the service accepts is
  permanent, since it never will.
- No message id comes back, so there are no receipts, no replies and no idempotency key:
  a retry after a crash may reach the person twice.
- Its log lines name recipients (numbers, channels), which our logs must not hold, so the
  "apprise" logger is kept to CRITICAL.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import apprise
from apprise.attachment.file import AttachFile
from apprise.manager_plugins import NotificationManager

from navreme.messaging.channels.base import Accepted, Attachment, DeliveryError, Outgoing

BODY_FORMATS = ("text", "markdown", "html")
logging.getLogger("apprise").setLevel(logging.CRITICAL)


class AppriseChannel:
    """Any Apprise service as an outbound channel (`"adapter": "apprise"` in NAVREME_CHANNELS).

    Settings (keyword arguments):
    - url_template: an Apprise URL with `{address}` where the person's address goes. Each HTTP
      request's own timeouts are Apprise URL options: `?cto=` (connect) and `?rto=` (read),
      4 seconds each by default.
    - body_format: what `Outgoing.text` is: "markdown" (the messengers' chat.md, the
      default), "text" or "html"; Apprise converts it to what the service takes.
    - timeout: seconds the whole call may take, retries inside Apprise included.
    """

    name: ClassVar[str] = "apprise"

    def __init__(
        self, url_template: str, body_format: str = "markdown", timeout: float = 30.0
    ) -> None:
        if "{address}" not in url_template:
            raise ValueError("url_template needs {address} where the person's address goes")
        schema = url_template.partition("://")[0].lower()
        if schema not in NotificationManager():
            raise ValueError(f"Apprise knows no service {schema!r}")
        if body_format not in BODY_FORMATS:
            raise ValueError(f"body_format must be one of {', '.join(BODY_FORMATS)}")
        self.url_template = url_template
        self.body_format = body_format
        self.timeout = timeout

    def send(self, message: Outgoing) -> Accepted:
        notifier = apprise.Apprise()  # one per send: nothing shared between worker threads
        if not notifier.add(self.url_for(message.address)):
            raise DeliveryError(
                "the address makes no valid Apprise URL", retryable=False, code="invalid-address"
            )
        with tempfile.TemporaryDirectory(prefix="navreme-apprise-") as folder:
            result = notifier.notify(
                body=message.text,
                title=" ".join(message.subject.split()),
                body_format=self.body_format,
                attach=_files(message.attachments, Path(folder)) or None,
                timeout=self.timeout,
            )
        if not result:
            status = getattr(getattr(result, "status", None), "name", "FAILURE")
            raise DeliveryError(
                f"Apprise could not deliver ({status})", retryable=True, code=status
            )
        return Accepted(provider_message_id=None, detail="apprise")

    def url_for(self, address: str) -> str:
        return self.url_template.replace("{address}", quote(address, safe=""))

    def close(self) -> None:
        return None


def _files(attachments: tuple[Attachment, ...], folder: Path) -> list[AttachFile]:
    """Attachments as files: several Apprise services read an attachment only from a path."""
    files = []
    for number, attachment in enumerate(attachments):
        path = folder / str(number) / (Path(attachment.filename).name or "attachment")
        path.parent.mkdir()
        path.write_bytes(attachment.data)
        mimetype = attachment.content_type.partition(";")[0].strip()  # Apprise takes no params
        files.append(AttachFile(str(path), name=path.name, mimetype=mimetype))
    return files
