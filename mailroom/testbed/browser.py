"""The web app on a real HTTP server, and headless Chromium to drive it.

Shared by the browser tests, ``benchmarks/bench_labeling.py`` and ``scripts/screenshots.py``:

- :class:`LiveServer` serves :func:`web.create_app` with werkzeug on 127.0.0.1 and a free
  port, in a thread.
- :func:`launch_chromium` starts Debian's ``/usr/bin/chromium`` through Playwright (its own
  browser download cannot work here), headless, without network side traffic;
  :func:`browser_missing` says why it cannot, if it cannot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server

from labeling.settings import Settings
from mailroom.testbed.ports import HOST
from web import create_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium phones home (updates, sync, field trials).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LiveServer:
    """The web app on a real HTTP server (werkzeug, threaded) on 127.0.0.1, free port."""

    def __init__(self, settings: Settings, config: dict[str, Any] | None = None) -> None:
        self.app = create_app(settings, config=config)
        self.server: BaseWSGIServer = make_server(HOST, 0, self.app, threaded=True)
        self.url = f"http://{HOST}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def sessions(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = self.app.extensions["mailroom.db"].sessions
        return factory

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
        self.app.extensions["mailroom.db"].engine.dispose()


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@contextmanager
def launch_chromium() -> Iterator[tuple[Playwright, Browser]]:
    """Debian's Chromium, headless, each launch with a fresh temporary profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield playwright, browser
        finally:
            browser.close()
