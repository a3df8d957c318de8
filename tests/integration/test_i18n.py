"""The interface speaks Dutch first: to a browser that asks for neither language, in Dutch;
English to a browser that asks for it; and each person's own choice over their browser."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.support.web import Seeded, csrf_token, login


def _client(app: Flask, accept: str | None) -> FlaskClient:
    client = FlaskClient(app, app.response_class, use_cookies=True)
    if accept is not None:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept
    return client


def test_dutch_first_english_from_the_browser_and_a_persons_choice_wins(
    app: Flask, seeded: Seeded
) -> None:
    anonymous = _client(app, None).get("/login").get_data(as_text=True)
    assert '<html lang="nl">' in anonymous and "Inloggen" in anonymous
    english = _client(app, "en-GB,en;q=0.9").get("/login").get_data(as_text=True)
    assert '<html lang="en">' in english and "Log in" in english
    german = _client(app, "de-DE").get("/login").get_data(as_text=True)
    assert '<html lang="nl">' in german  # neither language asked for: Dutch

    reviewer = _client(app, None)
    assert login(reviewer, "reviewer").status_code == 302
    page = reviewer.get("/review").get_data(as_text=True)
    assert "Er wacht niets op beoordeling" in page and ">Beoordelen<" in page
    agreement = reviewer.get("/agreement").get_data(as_text=True)
    assert "Overeenstemming tussen labelaars" in agreement
    assert "Geen open meningsverschillen." in reviewer.get("/agreement/disagreements").get_data(
        as_text=True
    )

    # The reviewer prefers English: the choice holds whatever the browser asks.
    token = csrf_token(reviewer, "/review")
    answer = reviewer.post(
        "/language", data={"language": "en", "next": "/review", "csrf_token": token}
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/review")
    page = reviewer.get("/review").get_data(as_text=True)
    assert '<html lang="en">' in page and "Nothing waits for review" in page

    # Back to the browser's language; an address elsewhere is not followed.
    answer = reviewer.post(
        "/language", data={"language": "", "next": "//evil.example/", "csrf_token": token}
    )
    assert answer.headers["Location"] in ("/", "http://localhost/")
    assert '<html lang="nl">' in reviewer.get("/review").get_data(as_text=True)

    # Labellers get the labelling page in Dutch too.
    labeller = _client(app, None)
    login(labeller, "labeler")
    label_page = labeller.get("/label").get_data(as_text=True)
    assert "Door jou overgeslagen" in label_page and "oudste eerst" in label_page
    # The words the page's script writes come with the page, in Dutch.
    assert "door een mens gelabeld" in label_page and "getoond: {what}" in label_page
