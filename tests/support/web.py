"""The web app through Flask's test client: a seeded store, logging in, the labelling API.

Helpers the web, review and dashboard tests share; the ``app``, ``client``, ``sessions``
and ``seeded`` fixtures built from them are in tests/conftest.py.

- :func:`seed`: users ``admin``, ``labeler``, ``labeler2`` and ``reviewer`` (password
  :data:`PASSWORD`, hashed cheaply: :data:`FAST_HASH`), three teams and a few mails
  (:func:`add_message`); :class:`Seeded` holds their ids.
- :func:`make_app`: the app on given settings, for testing.
- :func:`csrf_token`, :func:`login`, :func:`logged_in`: a client logged in as a user.
- :class:`Api`: the labelling page's JSON calls; :func:`current_labels`: the labels in force.
- :func:`serve`: record that the queue served mail to a person (a labeller may read and
  label only that), for tests that label chosen mail without walking the queue.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from labeling.annotation.queue import mark_served
from labeling.settings import Settings
from labeling.store.tables import Annotation, Message, Team, User
from web import create_app

PASSWORD = "correct horse battery"
# A cheap hash: the tests log in often; the real default (scrypt) is tested in test_web.py.
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
START = datetime(2023, 1, 1, 9, 0, tzinfo=UTC)


@dataclass
class Seeded:
    users: dict[str, int]  # username -> id
    teams: dict[str, int]  # slug -> id
    messages: list[int]  # in date order


def add_message(
    session: Session,
    n: int,
    *,
    subject: str = "",
    new_text: str = "",
    html: str | None = None,
    status: str = "ok",
) -> Message:
    raw = f"Subject: mail {n}\r\n\r\nbody {n}\r\n".encode()
    message = Message(
        raw_compressed=b"",
        raw_size=0,
        content_hash=hashlib.sha256(raw).hexdigest(),
        subject=subject or f"Vraag {n} over mijn polis",
        sender_name=f"Klant {n}",
        sender_email=f"klant{n}@example.nl",
        date=START + timedelta(hours=n),
        language="nl",
        body_text=new_text or f"Beste meneer, mevrouw,\n\nIk heb een vraag ({n}).",
        new_text=new_text or f"Beste meneer, mevrouw,\n\nIk heb een vraag ({n}).",
        quoted_text="> Eerdere mail\n> van ons" if n % 2 else "",
        signature="Met vriendelijke groet,\nKlant",
        html=html,
        attachments=[{"filename": "schade.jpg", "content_type": "image/jpeg", "size": 2048}]
        if n % 3 == 0
        else [],
        status=status,
        quarantine_reason="broken MIME" if status != "ok" else None,
    )
    message.raw = raw
    session.add(message)
    return message


def seed(sessions: sessionmaker[Session], *, messages: int = 6) -> Seeded:
    with sessions() as session:
        users = {
            name: User(username=name, password_hash=FAST_HASH, role=role)
            for name, role in (
                ("admin", "admin"),
                ("labeler", "labeler"),
                ("labeler2", "labeler"),
                ("reviewer", "reviewer"),
            )
        }
        session.add_all(users.values())
        teams = {
            slug: Team(slug=slug, name=name, hotkey=key, description=f"Alles over {name.lower()}")
            for slug, name, key in (
                ("schade", "Schade", "1"),
                ("premie", "Premie", "2"),
                ("klachten", "Klachten", "3"),
            )
        }
        session.add_all(teams.values())
        rows = [add_message(session, n) for n in range(1, messages + 1)]
        session.commit()
        return Seeded(
            users={name: user.id for name, user in users.items()},
            teams={slug: team.id for slug, team in teams.items()},
            messages=[row.id for row in rows],
        )


class EnglishClient(FlaskClient):
    """A browser that asks for English: the tests read the English text (the app speaks
    Dutch to a browser that asks for neither; tests/integration/test_i18n.py reads that)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def make_app(settings: Settings, **config: Any) -> Flask:
    app = create_app(settings, config={"TESTING": True, **config})
    app.test_client_class = EnglishClient
    return app


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF meta tag on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> TestResponse:
    token = csrf_token(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def logged_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


class Api:
    """The labelling page's calls, with the CSRF header its script sends."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = csrf_token(client, "/label")

    def next(self, **query: Any) -> dict[str, Any]:
        response = self.client.get("/api/next", query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        data: dict[str, Any] = response.get_json()
        return data

    def progress(self) -> dict[str, Any]:
        response = self.client.get("/api/progress")
        assert response.status_code == 200, response.get_data(as_text=True)
        data: dict[str, Any] = response.get_json()["progress"]
        return data

    def post(self, path: str, expect: int = 200, **body: Any) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers={"X-CSRFToken": self.token})
        assert response.status_code == expect, response.get_data(as_text=True)
        data: dict[str, Any] = response.get_json()
        return data


def serve(sessions: sessionmaker[Session], user_id: int, *message_ids: int) -> None:
    with sessions() as session:
        for message_id in message_ids:
            mark_served(session, user_id, message_id)
        session.commit()


def current_labels(sessions: sessionmaker[Session], **where: Any) -> list[Annotation]:
    with sessions() as session:
        query = select(Annotation).where(Annotation.superseded_at.is_(None))
        for name, value in where.items():
            query = query.where(getattr(Annotation, name) == value)
        return list(session.scalars(query.order_by(Annotation.id)))
