"""Who reads mail pseudonymised, through the web app on SQLite and PostgreSQL: labellers
always (JSON API and HTML frame, one set of placeholders), reviewers when
MAILROOM_PSEUDONYMISE_REVIEWERS says so, admins never."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from labeling.settings import Settings
from labeling.store.tables import Message, ReviewItem
from tests.support.web import Api, add_message, logged_in, make_app, seed

PII = ("Vries", "jan.devries@example.nl", "NL91", "06-12345678", "Dorpsstraat")


def _add_personal_mail(sessions: sessionmaker[Session], **extra: Any) -> int:
    with sessions() as session:
        message = add_message(
            session,
            0,
            subject="Schade van Jan de Vries",
            new_text="Beste mensen,\n\nMijn IBAN is NL91ABNA0417164300, bel 06-12345678.\n"
            "Ik woon op de Dorpsstraat 12.",
            html="<p>Beste mensen, groet van <b>Jan de Vries</b>, 06-12345678</p>",
        )
        message.sender_name, message.sender_email = "Jan de Vries", "jan.devries@example.nl"
        message.signature = "Met vriendelijke groet,\nJan de Vries"
        message.date = datetime(2022, 1, 1, tzinfo=UTC)  # oldest: first in the queue
        for name, value in extra.items():
            setattr(message, name, value)
        session.commit()
        return message.id


@pytest.fixture
def app(db_settings: Settings) -> Iterator[Flask]:
    app = make_app(db_settings)
    seed(app.extensions["mailroom.db"].sessions)
    yield app
    app.extensions["mailroom.db"].engine.dispose()


def test_a_labeller_reads_the_mail_pseudonymised_text_and_html_alike(app: Flask) -> None:
    message_id = _add_personal_mail(app.extensions["mailroom.db"].sessions)
    api = Api(logged_in(app, "labeler"))
    shown = api.next()["message"]
    assert shown["id"] == message_id and shown["pseudonymised"] is True
    text = " ".join(str(value) for value in shown.values())
    assert not [p for p in PII if p in text], text
    assert shown["subject"] == "Schade van [NAAM-1]"
    assert shown["sender"] == "[NAAM-1] <[EMAIL-1]>"
    assert "[IBAN-1]" in shown["new_text"] and "[TELEFOON-1]" in shown["new_text"]
    assert shown["signature"] == "Met vriendelijke groet,\n[NAAM-1]"
    document = api.client.get(f"/api/messages/{message_id}/html").get_json()["document"]
    assert "Vries" not in document and "06-12345678" not in document
    assert "<b>[NAAM-1]</b>, [TELEFOON-1]" in document


def test_an_admin_reads_the_original(app: Flask) -> None:
    message_id = _add_personal_mail(app.extensions["mailroom.db"].sessions)
    api = Api(logged_in(app, "admin"))
    shown = api.next()["message"]
    assert shown["id"] == message_id and shown["pseudonymised"] is False
    assert shown["sender"] == "Jan de Vries <jan.devries@example.nl>"
    document = api.client.get(f"/api/messages/{message_id}/html").get_json()["document"]
    assert "<b>Jan de Vries</b>" in document


@pytest.mark.parametrize("pseudonymise_reviewers", [False, True])
def test_reviewers_read_pseudonymised_mail_when_the_setting_says_so(
    db_settings: Settings, pseudonymise_reviewers: bool
) -> None:
    settings = db_settings.model_copy(update={"pseudonymise_reviewers": pseudonymise_reviewers})
    app = make_app(settings)
    try:
        _review_page_checks(app, pseudonymise_reviewers)
    finally:
        app.extensions["mailroom.db"].engine.dispose()


def _review_page_checks(app: Flask, pseudonymise_reviewers: bool) -> None:
    sessions = app.extensions["mailroom.db"].sessions
    seed(sessions)
    now = datetime.now(UTC)
    message_id = _add_personal_mail(
        sessions, origin="live", route_state="review", route_state_at=now
    )
    with sessions() as session:
        session.add(ReviewItem(message_id=message_id, status="open", reason="below-threshold"))
        session.commit()
    reviewer = logged_in(app, "reviewer")
    page = reviewer.get("/review").get_data(as_text=True)
    assert f'data-message-id="{message_id}"' in page
    assert ("Vries" in page) is not pseudonymise_reviewers
    assert ("[NAAM-1]" in page) is pseudonymise_reviewers
    # The admin sees the original whatever the setting.
    assert "Jan de Vries" in logged_in(app, "admin").get("/review").get_data(as_text=True)
    with sessions() as session:
        row = session.get(Message, message_id)
        assert row is not None and row.sender_name == "Jan de Vries"  # the store is untouched
