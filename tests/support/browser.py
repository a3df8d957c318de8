"""The headless Chromium the browser tests share (pytest plugin, see tests/conftest.py).

``browser`` (module)
    Debian's Chromium through Playwright (:func:`mailroom.testbed.browser.launch_chromium`),
    one per test module. A test that takes it is marked ``browser``.

Skipped with the reason when Chromium or the playwright package is missing — except under
CI=true, where that is a failure: CI must run these.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from mailroom.testbed.browser import browser_missing, launch_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = browser_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run: {reason} — CI must run them", pytrace=False)
        pytest.skip(f"browser tests skipped: {reason}")
    with launch_chromium() as (_playwright, chromium):
        yield chromium
