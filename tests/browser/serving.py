"""Navreme in a uvicorn thread and Debian's Chromium: for the browser tests and the screenshots."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, no network chatter of its own (never `playwright install`)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


class Serving:
    """`with Serving() as url:` the app of the current settings on a free loopback port, in a
    daemon thread of this process (like tests/conftest.py's live_server); `.app` is the app."""

    def __enter__(self) -> str:
        import uvicorn

        from navreme.web.app import create_app
        from tests.servers.process import any_free_port

        port, self.app = any_free_port(), create_app()
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
