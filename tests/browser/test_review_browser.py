"""A reviewer in a real browser settles three mails with the keyboard and sees them
forwarded: headless Chromium against the app on a real HTTP server, and a real
``mailroom worker`` on the embedded default (SQLite store and broker, Maildir in and out).

With no model active the worker sends every new mail to review; the reviewer's keys queue
the forwards on the broker, and the worker delivers them into the teams' Maildirs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from labeling.settings import Settings, load_settings
from labeling.store.db import upgrade
from labeling.store.tables import Message, ReviewItem, User
from mailroom.testbed.browser import LiveServer
from mailroom.testbed.seeded_archive import PASSWORD, TEAMS
from mailroom.testbed.worker_stack import worker_env
from tests.support.processes import Spawn
from worker.driver import maildir_outbox_files

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

MAILS = (
    ("Waterschade na de storm", "Ons dak lekt sinds de storm van gisteren. Hoe meld ik dit?"),
    ("Premie te hoog", "Waarom is mijn premie zo veel hoger dan vorig jaar?"),
    ("Opzegging", "Hierbij zeg ik mijn inboedelverzekering op per de eerste van de maand."),
)
CHOICES = ("schade", "premie", "opzeggingen")  # what the reviewer decides, in that order


def _env(instance: Path) -> dict[str, str]:
    return worker_env({"instance_path": instance, "poll_interval": 0.5, "sweep_interval": 2})


@pytest.fixture
def world(tmp_path: Path, spawn: Spawn) -> Iterator[tuple[LiveServer, Settings]]:
    instance = tmp_path / "instance"
    settings = load_settings(_env(instance))
    upgrade(settings)
    inbox = settings.maildir_inbox
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True)
    for n, (subject, text) in enumerate(MAILS):
        msg = EmailMessage()
        msg["From"] = f"klant{n}@example.nl"
        msg["To"] = "info@polderzeker.example"
        msg["Subject"] = subject
        msg["Message-ID"] = f"<browser-review-{n}@example.nl>"
        msg["Date"] = f"Mon, 0{n + 1} Jun 2026 09:00:00 +0200"  # arrival order = queue order
        msg.set_content(text)
        (inbox / "new" / f"{n}.eml").write_bytes(msg.as_bytes())
    with LiveServer(settings) as server:
        from werkzeug.security import generate_password_hash

        from labeling.store.tables import Team

        with server.sessions() as session:
            session.add(
                User(
                    username="rob", password_hash=generate_password_hash(PASSWORD), role="reviewer"
                )
            )
            for slug, name, key, guideline, _texts in TEAMS:
                session.add(Team(slug=slug, name=name, hotkey=key, description=guideline))
            session.commit()
        with (tmp_path / "worker.log").open("wb") as log:
            worker = spawn(
                [sys.executable, "-m", "mailroom", "worker"],
                env=_env(instance),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            yield server, settings
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _wait(condition: object, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _open_items(server: LiveServer) -> int:
    with server.sessions() as session:
        query = select(func.count()).select_from(ReviewItem).where(ReviewItem.status == "open")
        return int(session.scalar(query) or 0)


def _routed_states(server: LiveServer) -> set[str | None]:
    with server.sessions() as session:
        return set(session.scalars(select(Message.route_state)))


def _subject(page: Page) -> str:
    return page.inner_text("#message h1")


def test_a_reviewer_settles_three_mails_with_the_keyboard_and_sees_them_forwarded(
    browser: Browser, world: tuple[LiveServer, Settings]
) -> None:
    server, settings = world
    _wait(lambda: _open_items(server) == 3, "the worker to send the three mails to review")

    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{server.url}/")
    page.fill("input[name=username]", "rob")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{server.url}/review")
    assert "3 waiting" in page.inner_text(".toolbar")

    # ? shows the review keys, Esc closes them.
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    assert "pass over it for now" in page.inner_text("#help")
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()

    # The model's view is absent (no model): the page says why a person decides.
    assert "No model is active" in page.inner_text("#why")

    # g on a mail with no look-alikes says so instead of arming nothing silently.
    assert not page.locator("#no-group").is_visible()
    page.keyboard.press("g")
    assert page.locator("#no-group").is_visible()

    # n passes over the oldest mail: it stays out of the way while other mail waits.
    assert _subject(page) == MAILS[0][0]
    with page.expect_navigation():
        page.keyboard.press("n")
    assert "passed over until" in page.inner_text(".flashes")
    assert "you passed over 1 for now" in page.inner_text("#waiting")

    hotkeys = {slug: key for slug, _name, key, _g, _t in TEAMS}
    names = {slug: name for slug, name, _k, _g, _t in TEAMS}
    order = [1, 2, 0]  # the passed-over mail comes back once nothing else waits
    for index in order:
        subject, team = MAILS[index][0], CHOICES[index]
        assert _subject(page) == subject
        assert page.locator("#passed-again").count() == (1 if index == 0 else 0)
        with page.expect_navigation():
            page.keyboard.press(hotkeys[team])
        notice = page.inner_text(".flashes")
        assert f"sent to {names[team]}; forward queued." in notice  # the name, not the slug
    assert "Nothing waits for review" in page.inner_text("main")
    assert problems == []

    # The worker took the queued forwards from the broker and delivered them.
    outbox = settings.maildir_outbox
    _wait(
        lambda: all(len(maildir_outbox_files(outbox, team)) == 1 for team in CHOICES),
        "the forwards in the teams' Maildirs",
    )
    _wait(lambda: _routed_states(server) == {"done"}, "the three mails marked done")
    page.goto(f"{server.url}/review/routed")
    routed = page.inner_text("table.data")
    for (subject, _text), team in zip(MAILS, CHOICES, strict=True):
        row = page.locator("table.data tr", has_text=subject)
        assert names[team] in row.inner_text()
    assert routed.count("rob") == 3  # routed by a person, named
    assert "user:" not in routed
    assert "Mails 1–3 of 3" in page.inner_text("#paging-note")

    # A reviewer reads the mail before sending it back.
    with page.expect_navigation():
        page.click(f"text={MAILS[0][0]}")
    assert MAILS[0][1] in page.inner_text("#message")
    assert names[CHOICES[0]] in page.inner_text("#routed-team")
    page.fill("#send-back input[name=note]", "niet voor ons")
    with page.expect_navigation():
        page.click("#send-back button")
    assert f"came back from team {names[CHOICES[0]]}" in page.inner_text(".flashes")
    page.context.close()

    # A Dutch browser gets the review page in Dutch.
    dutch = browser.new_context(locale="nl-NL").new_page()
    dutch.goto(f"{server.url}/")
    dutch.fill("input[name=username]", "rob")
    dutch.fill("input[name=password]", PASSWORD)
    dutch.press("input[name=password]", "Enter")
    dutch.wait_for_url(f"{server.url}/review")
    assert dutch.get_attribute("html", "lang") == "nl"
    assert "Teruggestuurd als verkeerd doorgestuurd door team" in dutch.inner_text("#why")
    assert "Voorlopig overslaan" in dutch.inner_text("aside")
    dutch.context.close()
