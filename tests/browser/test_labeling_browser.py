"""The labelling page in a real browser: headless Chromium (Debian's) driven by Playwright
against the app on a real HTTP server with a seeded SQLite store.

Skipped with the reason when Chromium or the playwright package is missing — except under
CI=true, where that is a failure: CI must run these.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from labeling.settings import Settings, load_settings
from labeling.store.db import upgrade
from labeling.store.tables import Annotation, User
from mailroom.testbed.browser import LiveServer
from mailroom.testbed.seeded_archive import EVIL_MARKERS, PASSWORD, SeededArchive, seed_store

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        ConsoleMessage,
        Locator,
        LocatorAssertions,
        Page,
        Request,
    )

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "labeling.png"
MAX_SCREENSHOT_BYTES = 300_000


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, SeededArchive]]:
    settings: Settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'browser.sqlite3'}",
    )
    upgrade(settings)
    # Production cookie settings (Secure included): browsers accept them from 127.0.0.1.
    with LiveServer(settings) as server:
        seeded = seed_store(server.sessions, messages=220)
        yield server, seeded


def expect(locator: Locator) -> LocatorAssertions:
    # Imported here: without playwright the module must still load, to skip with a reason.
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/label")
    assert "/login" in page.url  # anonymous: sent to log in first
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{base}/label")
    page.wait_for_selector("#message:not([hidden])")


def _shown(page: Page) -> int:
    return int(page.inner_text("#m-id").lstrip("#"))


def _press_and_wait(page: Page, key: str, *, before: int | None = None) -> int:
    """Press a key and wait until the page shows another mail (or the busy state ends)."""
    before = _shown(page) if before is None else before
    page.keyboard.press(key)
    page.wait_for_function(
        "([before]) => !document.body.classList.contains('busy')"
        " && document.getElementById('m-id').textContent !== '#' + before",
        arg=[before],
    )
    return _shown(page)


def test_label_five_with_the_keyboard_undo_and_html_that_cannot_run(
    browser: Browser, live: tuple[LiveServer, SeededArchive], tmp_path: Path
) -> None:
    server, seeded = live
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="nl-NL")
    page = context.new_page()
    problems: list[str] = []
    requests: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # CSP reports are the policy doing its job; anything else is our bug.
        if message.type == "error" and "Content Security Policy" not in message.text:
            problems.append(f"console: {message.text}")

    def on_request(request: Request) -> None:
        requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("request", on_request)

    _log_in(page, server.url, seeded.labeller)
    title = page.title()
    assert _shown(page) == seeded.messages[0]
    assert page.is_visible("#suggestion")  # the first mail has an archive-folder label
    # The browser asks for Dutch (locale nl-NL): the page speaks Dutch, its script too.
    assert page.get_attribute("html", "lang") == "nl"
    assert page.inner_text("#progress-text").startswith("0 van 220 mails door een mens gelabeld")

    # Five labels: Enter confirms the first mail's suggestion, then team keys.
    labelled = []
    current = _shown(page)
    for index in range(5):
        key = "Enter" if index == 0 else seeded.hotkeys[seeded.truth[current]]
        labelled.append(current)
        team = seeded.truth[current]
        count = int(page.inner_text(f'[data-count-for="{team}"]'))
        current = _press_and_wait(page, key, before=current)
        # The counters move with the key press, before the server's count comes back.
        assert int(page.inner_text(f'[data-count-for="{team}"]')) == count + 1
        assert page.inner_text("#progress-text").startswith(f"{index + 1} van 220")
    assert labelled == seeded.messages[:5]
    expect(page.locator("#progress-text")).to_contain_text("5 van 220 mails door een mens")

    # Undo: the fifth mail comes back, and the database holds four labels.
    back = _press_and_wait(page, "u", before=current)
    assert back == labelled[4]
    assert page.is_visible("#returned")
    assert page.inner_text("#notice").startswith("Ongedaan: je label ")
    assert f"voor #{back} is ingetrokken" in page.inner_text("#notice")
    with server.sessions() as session:
        lotte = session.scalars(select(User.id).where(User.username == "lotte")).one()
        current_labels = session.execute(
            select(Annotation.message_id, Annotation.team_id)
            .where(
                Annotation.user_id == lotte,
                Annotation.source == "human",
                Annotation.superseded_at.is_(None),
            )
            .order_by(Annotation.message_id)
        ).all()
    assert [row.message_id for row in current_labels] == labelled[:4]
    for row in current_labels:
        assert row.team_id == seeded.teams[seeded.truth[row.message_id]]

    # Label it again; next is the HTML mail that tries to run script.
    evil = _press_and_wait(page, seeded.hotkeys[seeded.truth[back]], before=back)
    assert evil == seeded.evil_html
    assert page.is_enabled("#tab-html")
    page.keyboard.press("h")
    frame = page.frame_locator("#html-view")
    # The sanitised HTML still displays, with our stylesheet, under the page's CSP.
    expect(frame.locator("h1")).to_have_text("Uw factuur", timeout=5000)
    assert "factuur voor uw reisverzekering" in frame.locator("body").inner_text()
    assert frame.locator("script, style, form, [onerror], [onclick]").count() == 0
    assert frame.locator("body").evaluate("b => getComputedStyle(b).marginLeft") == "18.75px"
    sandbox = page.get_attribute("#html-view", "sandbox")
    assert sandbox == ""  # everything forbidden: no scripts, no same-origin
    page.wait_for_timeout(300)  # give anything that could run the time to do so
    assert page.title() == title
    assert page.evaluate("window.name") == ""
    assert not any(marker in url for url in requests for marker in EVIL_MARKERS), requests
    assert not [url for url in requests if not url.startswith(server.url)], "left the site"

    # Keys help opens and closes; back to text view, skip to a calmer mail for the picture.
    page.keyboard.press("?")
    assert page.is_visible("#help")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help")
    page.keyboard.press("h")
    assert page.is_visible("#m-new")
    _press_and_wait(page, "s", before=evil)
    page.mouse.move(0, 0)
    # The README's picture is refreshed only on request, so a test run leaves git clean.
    shot = SCREENSHOT if os.environ.get("MAILROOM_UPDATE_SCREENSHOT") == "1" else tmp_path / "l.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size < MAX_SCREENSHOT_BYTES

    # The skipped mail is listed; it opens from the list, and goes back in the queue.
    calm = _shown(page)
    page.click("#skipped-box summary")
    expect(page.locator("#skipped-list li")).to_have_count(1)
    assert f"#{evil}" in page.inner_text("#skipped-list")
    page.click(f"#skipped-list button:has-text('#{evil}')")
    expect(page.locator("#m-id")).to_have_text(f"#{evil}")
    assert "de mail die je op nummer opende" in page.inner_text("#served")
    page.click("#skipped-list button:has-text('terug in mijn wachtrij')")
    expect(page.locator("#skipped-list li")).to_have_count(0)
    expect(page.locator("#notice")).to_have_text(f"#{evil} staat weer in je wachtrij")
    assert problems == []

    # A mail with no reason to be chosen is refused by its number, saying why in the
    # page's language (the browser logs the 409 itself).
    page.fill("#open-id", str(calm + 1))
    page.press("#open-id", "Enter")
    expect(page.locator("#error")).to_contain_text("eigen volgorde van de wachtrij")
    context.close()


def test_session_cookie_is_http_only_and_secure(
    browser: Browser, live: tuple[LiveServer, SeededArchive]
) -> None:
    server, seeded = live
    context = browser.new_context()
    page = context.new_page()
    _log_in(page, server.url, seeded.labeller)
    cookie = next(c for c in context.cookies() if c["name"] == "mailroom_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # out of reach of any script
    context.close()


def test_group_mode_labels_every_near_duplicate(
    browser: Browser, live: tuple[LiveServer, SeededArchive]
) -> None:
    server, seeded = live
    group = next(iter(seeded.groups.values()))
    first = seeded.messages.index(group[0])
    with server.sessions() as session:
        lotte = session.scalars(select(User.id).where(User.username == "lotte")).one()
        # Everything before the newsletters is labelled already, so they come up next.
        for message_id in seeded.messages[:first]:
            team = seeded.teams[seeded.truth[message_id]]
            session.add(
                Annotation(message_id=message_id, team_id=team, user_id=lotte, source="human")
            )
        session.commit()
    context = browser.new_context()
    page = context.new_page()
    _log_in(page, server.url, seeded.labeller)
    assert _shown(page) == group[0]
    expect(page.locator("#group")).to_contain_text("this mail and 2 more")
    # Each other member is named and opens before the group is labelled.
    members = page.locator("#g-members button")
    expect(members).to_have_count(2)
    assert members.first.inner_text() == f"#{group[1]}"
    page.keyboard.press("g")
    assert page.is_visible("#group-armed")
    after = _press_and_wait(page, seeded.hotkeys["algemeen"], before=group[0])
    assert after == seeded.messages[first + 3]
    assert page.inner_text("#notice").startswith("3 mails")
    assert not page.is_visible("#group-armed")
    # g on a mail with no near-duplicates says so instead of arming nothing silently.
    assert not page.is_visible("#group")
    page.keyboard.press("g")
    assert not page.is_visible("#group-armed")
    assert "no near-duplicates" in page.inner_text("#notice")
    with server.sessions() as session:
        labelled = session.scalars(
            select(Annotation.message_id).where(
                Annotation.user_id == lotte,
                Annotation.message_id.in_(group),
                Annotation.superseded_at.is_(None),
                Annotation.team_id == seeded.teams["algemeen"],
            )
        ).all()
    assert sorted(labelled) == group
    context.close()
