"""`mailroom inspect FILE`: how Mailroom reads one mail and the route it would take now,
with the store's teams and threads and the active model (issue 12 item 5)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from labeling.mail.values import RawMail
from labeling.settings import Settings
from labeling.store.db import make_engine, make_session_factory
from labeling.store.ingest import ingest
from labeling.store.tables import Message, Team
from mailroom.cli import cli, register_commands
from mailroom.testbed.mail_factory import auto_reply_mail
from mailroom.testbed.worker_stack import ADDRESS, team_mail

FORWARD = (
    b"From: Jan Jansen <jan.jansen@example.nl>\r\nTo: info@polder.example\r\n"
    b"Subject: Fwd: waterschade\r\nMessage-ID: <fwd-1@example.nl>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nZie hieronder.\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: Piet <piet@example.nl>\r\nSubject: waterschade\r\n\r\n"
    b"Er is lekkage en waterschade in mijn keuken.\r\n"
    b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
    b'filename="foto.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n'
    b"--b--\r\n"
)


def _inspect(settings: Settings, path: Path, *args: str) -> dict[str, Any]:
    register_commands()
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json", *args], obj=settings)
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.output)
    return shown


def test_inspect_shows_kind_parts_keys_and_the_route_with_why(
    db_settings: Settings, trained_models: Path, tmp_path: Path
) -> None:
    shutil.copytree(trained_models, db_settings.models_path)
    engine = make_engine(db_settings)
    sessions = make_session_factory(engine)
    parent_id, parent = team_mail("klachten", 1)
    with sessions() as session:
        teams = {
            slug: Team(slug=slug, name=slug.title(), forward_address=address)
            for slug, address in ADDRESS.items()
        }
        session.add_all(teams.values())
        session.flush()
        # A thread already routed to klachten: a reply follows it, whatever its words.
        stored = ingest(session, RawMail(parent, "", "parent"), origin="live")
        row = session.get_one(Message, stored.message_id)
        assert row.thread is not None
        row.thread.team_id = teams["klachten"].id
        session.commit()

    customer = tmp_path / "schade.eml"
    customer.write_bytes(team_mail("schade", 2)[1])
    shown = _inspect(db_settings, customer)
    assert shown["kind"]["kind"] == "customer"
    route = shown["route"]
    assert (route["action"], route["team"], route["reason"], route["decided_by"]) == (
        "forward",
        "schade",
        "confident",
        "model",
    )
    assert route["confidence"] > 0.9 and route["top"][0][0] == "schade"
    assert shown["thread_keys"]["message_id"] == "m-schade-2@klant.example"

    reply = tmp_path / "reply.eml"
    reply.write_bytes(team_mail("schade", 3, in_reply_to=parent_id)[1])
    shown = _inspect(db_settings, reply)
    assert (shown["route"]["action"], shown["route"]["team"], shown["route"]["reason"]) == (
        "forward",
        "schade",
        "confident",
    )
    assert shown["route"]["details"]["topic_changed"] is True
    assert shown["route"]["details"]["thread_team"] == "klachten"
    assert shown["thread_keys"]["in_reply_to"] == parent_id.strip("<>")

    ooo = tmp_path / "ooo.eml"
    ooo.write_bytes(auto_reply_mail(message_id="ooo@klant.example", in_reply_to="x@y.nl"))
    shown = _inspect(db_settings, ooo)
    assert shown["kind"]["kind"] == "auto_reply"
    assert shown["kind"]["reason"] == "Auto-Submitted: auto-replied"
    assert shown["route"]["action"] == "file"

    forwarded = tmp_path / "forwarded.eml"
    forwarded.write_bytes(FORWARD)
    shown = _inspect(db_settings, forwarded)
    assert shown["forwarded_original"] is True
    assert "lekkage en waterschade" in shown["quoted_text"]
    assert {"filename": "foto.pdf", "content_type": "application/pdf", "size": 5} in shown[
        "attachments"
    ]
    assert shown["route"]["team"] == "schade"  # the model read the forwarded original

    private = _inspect(db_settings, forwarded, "--pseudonymise")
    assert "Jansen" not in json.dumps(private) and "jan.jansen" not in json.dumps(private)
    assert private["thread_keys"]["message_id"] == "[hidden]"

    register_commands()
    text = CliRunner().invoke(cli, ["inspect", str(reply)], obj=db_settings).output
    assert "kind:        Customer mail" in text
    assert "route:       forward to schade (confident, by model" in text
    with sessions() as session:  # inspecting stored nothing
        assert session.scalar(select(Message.id).where(Message.subject.like("%schade%"))) is None
    engine.dispose()
