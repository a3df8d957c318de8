"""The flag keys of the labelling page in a real browser: d (urgent) and o (wants to leave)
toggle, the team key sends them with the label, and the next mail starts without them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from labeling.settings import Settings, load_settings
from labeling.store.db import upgrade
from labeling.store.tables import Annotation
from mailroom.testbed.browser import LiveServer
from mailroom.testbed.seeded_archive import PASSWORD, SeededArchive, seed_store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, SeededArchive]]:
    settings: Settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'browser.sqlite3'}",
    )
    upgrade(settings)
    with LiveServer(settings) as server:
        yield server, seed_store(server.sessions, messages=12)


def _shown(page: Page) -> int:
    return int(page.inner_text("#m-id").lstrip("#"))


def test_flag_keys_toggle_and_travel_with_the_team_key(
    browser: Browser, live: tuple[LiveServer, SeededArchive]
) -> None:
    server, seeded = live
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{server.url}/label")
    page.fill("input[name=username]", seeded.labeller)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#message:not([hidden])")

    first = _shown(page)
    page.keyboard.press("d")
    page.keyboard.press("o")
    page.keyboard.press("o")  # changed their mind: not churn after all
    assert page.get_attribute("#flag-urgent", "aria-pressed") == "true"
    assert page.get_attribute("#flag-churn", "aria-pressed") == "false"
    page.keyboard.press(seeded.hotkeys[seeded.truth[first]])
    page.wait_for_function(
        "([before]) => document.getElementById('m-id').textContent !== '#' + before",
        arg=[first],
    )
    assert "urgent" in page.inner_text("#notice")
    # The next mail starts with neither flag.
    assert page.get_attribute("#flag-urgent", "aria-pressed") == "false"
    # The help lists the keys.
    page.keyboard.press("?")
    help_text = page.inner_text("#help")
    assert "mark this mail urgent" in help_text and "wants to leave" in help_text
    page.keyboard.press("Escape")
    with server.sessions() as session:
        label = session.scalars(
            select(Annotation).where(
                Annotation.message_id == first,
                Annotation.superseded_at.is_(None),
                Annotation.source == "human",
            )
        ).one()
    assert (label.urgent, label.churn) == (True, False)
    context.close()
