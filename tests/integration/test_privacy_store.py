"""Erasure, subject access and retention (labeling.store.privacy) and their commands, on
SQLite and PostgreSQL: what goes, what stays, what comes back (nothing)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from labeling.annotation.export import training_examples
from labeling.errors import LabelingError
from labeling.importers.run import run_import
from labeling.live import lifecycle
from labeling.mail.values import RawMail
from labeling.settings import Settings
from labeling.store.ingest import ingest
from labeling.store.privacy import address_hash, erase, expire_all, subject_export
from labeling.store.tables import (
    Annotation,
    AuditLog,
    Erasure,
    Message,
    ReviewItem,
    RoutingDecision,
    Team,
    Thread,
    User,
)
from mailroom.cli import cli, register_commands

PERSON = "Jan.Jansen@Example.nl"
ADDRESS = PERSON.lower()


def _mail(n: int, sender: str, body: str, *, to: str = "info@polderzeker.example") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Vraag {n}"
    message["Message-ID"] = f"<privacy-{n}@example.nl>"
    message["Date"] = "Mon, 06 Jan 2025 10:00:00 +0100"
    message.set_content(body)
    return message.as_bytes()


def _archive(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    mails = {
        "theirs.eml": _mail(1, f"Jan Jansen <{PERSON}>", "Mijn polis PZ-12345678 graag."),
        "to-them.eml": _mail(2, "Polderzeker <info@polderzeker.example>", "Beste Jan,", to=PERSON),
        "quotes-them.eml": _mail(
            3,
            "Kees | Adviesbureau <k@advies.example>",
            f"Zie onder.\n\nVan: Jan Jansen <{ADDRESS}>\nMijn auto is stuk.",
        ),
        "other.eml": _mail(4, "Sanne Visser <sanne@example.org>", "Over mijn premie."),
    }
    for name, raw in mails.items():
        (folder / name).write_bytes(raw)
    return folder


@pytest.fixture
def world(db_sessions: sessionmaker[Session], tmp_path: Path) -> Path:
    archive = _archive(tmp_path / "archive")
    run_import(db_sessions, str(archive), progress=False)
    with db_sessions() as session:
        team = Team(slug="schade", name="Schade")
        user = User(username="lisa", password_hash="x", role="labeler")
        session.add_all([team, user])
        session.flush()
        for message in session.scalars(select(Message)):
            session.add(Annotation(message_id=message.id, team_id=team.id, user_id=user.id,
                                   source="human"))
        session.commit()
    return archive


def _subjects(session: Session) -> set[str]:
    return set(session.scalars(select(Message.subject)))


def test_erasure_removes_their_mail_and_labels_and_audits_without_content(
    db_sessions: sessionmaker[Session], world: Path
) -> None:
    with db_sessions() as session:
        result = erase(session, PERSON, actor="user:1")
        session.commit()
    assert (result.messages, result.labels, result.already_erased) == (3, 3, False)
    with db_sessions() as session:
        assert _subjects(session) == {"Vraag 4"}
        assert session.scalar(select(func.count()).select_from(Annotation)) == 1
        assert session.scalar(select(func.count()).select_from(Thread)) == 1
        tombstone = session.scalar(select(Erasure.address_hash))
        assert tombstone == address_hash(ADDRESS)
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "erase")).one()
        assert audit.details["address_hash"] == tombstone and audit.details["messages"] == 3
        assert audit.actor == "user:1" and audit.message_id is None
        every_audit = json.dumps([row.details for row in session.scalars(select(AuditLog))])
        assert "jansen" not in every_audit.lower()


def test_an_erased_person_does_not_come_back_by_import_or_into_training(
    db_sessions: sessionmaker[Session], world: Path
) -> None:
    with db_sessions() as session:
        erase(session, ADDRESS)
        session.commit()
    again = run_import(db_sessions, str(world), progress=False)
    assert (again.erased, again.imported, again.duplicates) == (3, 0, 1)
    with db_sessions() as session:
        assert _subjects(session) == {"Vraag 4"}
        # Live mail of theirs is still routed (it is new contact), but never trained on.
        result = ingest(
            session,
            RawMail(_mail(5, PERSON, "Nieuwe schade."), folder="", source_ref="live"),
            origin="live",
        )
        team = session.scalars(select(Team)).one()
        user = session.scalars(select(User)).one()
        session.add(Annotation(message_id=result.message_id, team_id=team.id, user_id=user.id,
                               source="review"))
        session.commit()
        subjects = {
            session.get(Message, e.message_id).subject  # type: ignore[union-attr]
            for e in training_examples(session)
        }
    assert subjects == {"Vraag 4"}


def test_subject_export_holds_their_mail_with_labels_and_original(
    db_sessions: sessionmaker[Session], world: Path
) -> None:
    with db_sessions() as session:
        export = subject_export(session, PERSON)
    assert export["address"] == ADDRESS and export["mail_count"] == 3
    assert {m["subject"] for m in export["mails"]} == {"Vraag 1", "Vraag 2", "Vraag 3"}
    first = next(m for m in export["mails"] if m["subject"] == "Vraag 1")
    assert first["labels"][0]["team"] == "schade" and first["labels"][0]["source"] == "human"
    assert "PZ-12345678" in first["raw"]["content"] and first["raw_expired_at"] is None
    json.dumps(export)  # JSON-ready as it is


def _live_done(session: Session, n: int, arrived: datetime) -> int:
    raw = _mail(100 + n, f"Jan Jansen <{PERSON}>", "Bel me op 06-12345678, groet Jan Jansen")
    result = ingest(session, RawMail(raw, folder="", source_ref=f"live-{n}"), origin="live")
    message = session.get(Message, result.message_id)
    assert message is not None
    message.imported_at = arrived
    message.route_state, message.route_state_at = "done", arrived
    session.add(RoutingDecision(message_id=message.id, decided_by="model", mode="auto",
                                reason="confident"))
    return message.id


def test_retention_expires_raw_live_mail_that_is_done_and_keeps_its_history(
    db_settings: Settings, db_sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    with db_sessions() as session:
        old = _live_done(session, 1, now - timedelta(days=40))
        recent = _live_done(session, 2, now - timedelta(days=5))
        waiting = _live_done(session, 3, now - timedelta(days=40))
        session.get(Message, waiting).route_state = "review"  # type: ignore[union-attr]
        session.add(ReviewItem(message_id=waiting, status="open", reason="below-threshold"))
        session.commit()
    expired = expire_all(
        db_sessions, days=30, pseudonymiser=db_settings.pseudonymiser(), now=now
    )
    assert expired == 1
    with db_sessions() as session:
        gone = session.get(Message, old)
        assert gone is not None and gone.raw_expired_at is not None and gone.raw_size == 0
        assert gone.raw == b"" and gone.sender_email == "" and gone.recipients == {}
        assert "06-12345678" not in gone.new_text and "[TELEFOON-1]" in gone.new_text
        assert gone.sender_name == "[NAAM-1]" and "Jansen" not in gone.new_text
        assert session.scalar(
            select(func.count()).select_from(RoutingDecision).where(
                RoutingDecision.message_id == old
            )
        ) == 1
        for kept in (recent, waiting):
            row = session.get(Message, kept)
            assert row is not None and row.raw_expired_at is None and PERSON in row.raw.decode()
        with pytest.raises(LabelingError, match="retention"):
            lifecycle.send_back(session, old, 1, now, audit={})
    assert expire_all(db_sessions, days=30, pseudonymiser=db_settings.pseudonymiser()) == 0


def test_the_commands_erase_export_inspect_and_expire(
    db_settings: Settings, world: Path, tmp_path: Path
) -> None:
    register_commands()
    runner = CliRunner()
    out = tmp_path / "export.json"
    result = runner.invoke(cli, ["subject-export", "--address", PERSON, "--out", str(out)],
                           obj=db_settings)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["mail_count"] == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    inspected = runner.invoke(
        cli, ["inspect", str(world / "quotes-them.eml"), "--pseudonymise", "--json"],
        obj=db_settings,
    )
    assert inspected.exit_code == 0, inspected.output
    shown = json.loads(inspected.output)
    assert shown["pseudonymised"] and shown["sender"] == {"name": "[NAAM-1]", "email": "[EMAIL-1]"}
    assert ADDRESS not in inspected.output and "Jansen" not in inspected.output
    plain = runner.invoke(cli, ["inspect", str(world / "theirs.eml")], obj=db_settings)
    assert "sender:      Jan Jansen <jan.jansen@example.nl>" in plain.output

    refused = runner.invoke(cli, ["erase", "--address", PERSON], obj=db_settings, input="n\n")
    assert refused.exit_code == 1
    erased = runner.invoke(cli, ["erase", "--address", PERSON, "--yes"], obj=db_settings)
    assert erased.exit_code == 0, erased.output
    assert "erased: 3 mails, 3 labels" in erased.output
    bad = runner.invoke(cli, ["erase", "--address", "not an address", "--yes"], obj=db_settings)
    assert bad.exit_code == 1 and "is not an e-mail address" in bad.output
    expired = runner.invoke(cli, ["expire-raw", "--days", "30"], obj=db_settings)
    assert expired.exit_code == 0 and "expired the raw mail of 0 live mails" in expired.output
