"""Identity that cannot be spoofed: a mail is its bytes (content hash) and its place on the
server (mailbox + UIDVALIDITY + UID); Message-ID is a hint anyone can write. On SQLite and
PostgreSQL (the db fixtures run both).

Revision 0004 dropped the UNIQUE constraint on ``messages.message_id``; its SQLite rebuild
of ``messages`` must keep every row that references a message, and the label counter.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, func, select
from sqlalchemy.orm import Session, sessionmaker

from classifier.scoring import Prediction
from labeling import imap
from labeling.importers.run import run_import
from labeling.live import lifecycle
from labeling.mail.values import RawMail
from labeling.settings import Settings, load_settings
from labeling.store.db import alembic_config, make_engine, make_session_factory, upgrade
from labeling.store.ingest import content_hash, ingest
from labeling.store.tables import Annotation, Delivery, Message, Team
from mailroom.testbed.dovecot_server import DovecotServer
from worker import outgoing
from worker.driver import Services, advance
from worker.outgoing import ROUTED_KEYWORD, ImapActions, ImapLocation
from worker.watchers import configured_mailboxes, register_mailboxes


def mail(message_id: str | None, body: str, *, subject: str = "Waterschade") -> RawMail:
    msg = EmailMessage()
    msg["From"] = "Jan <jan@example.nl>"
    msg["To"] = "info@polderzeker.example"
    msg["Subject"] = subject
    if message_id is not None:
        msg["Message-ID"] = f"<{message_id}>"
    msg.set_content(body)
    return RawMail(msg.as_bytes(), "", f"{message_id}:{len(body)}")


@dataclass
class ConfidentModel:
    """Says 'schade' with confidence 0.99 for every text: routing needs no person."""

    def active(self) -> bool:
        return True

    def warm_up(self) -> None:
        pass

    def predict(
        self,
        texts: Sequence[str],
        known_teams: Collection[str],
        case_teams: Sequence[str | None] | None = None,
        thread_teams: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        return [
            Prediction(
                team="schade",
                confidence=0.99,
                top=(("schade", 0.99),),
                auto=True,
                reason="confident",
                model_version="v0001",
                margin=0.99,
            )
            for _ in texts
        ]


@dataclass
class RecordingSmtp:
    sent: list[bytes] = field(default_factory=list)

    def send(self, envelope_from: str, recipients: list[str], data: bytes) -> None:
        self.sent.append(data)


@dataclass
class Live:
    sessions: sessionmaker[Session]
    services: Services
    smtp: RecordingSmtp
    mailbox_id: int
    inbox: Path

    def arrive(
        self, mail: RawMail, name: str, *, uid: int | None = None, uidvalidity: int = 1
    ) -> lifecycle.Arrival:
        (self.inbox / "new" / name).write_bytes(mail.raw)
        raw = RawMail(mail.raw, "", name, uid=uid, uidvalidity=uidvalidity if uid else None)
        with self.sessions() as session:
            arrival = lifecycle.record_arrival(session, self.mailbox_id, raw)
            session.commit()
        return arrival


@pytest.fixture
def live(db_settings: Settings) -> Iterator[Live]:
    settings = db_settings.model_copy(update={"outgoing": "smtp"})
    engine = make_engine(settings)
    sessions = make_session_factory(engine)
    with sessions() as session:
        session.add(Team(slug="schade", name="Schade", forward_address="schade@polder.example"))
        session.commit()
    mailbox_id = next(iter(register_mailboxes(sessions, configured_mailboxes(settings))))
    for sub in ("new", "cur", "tmp"):
        (settings.maildir_inbox / sub).mkdir(parents=True, exist_ok=True)
    smtp = RecordingSmtp()
    services = Services(
        settings=settings,
        sessions=sessions,
        predictor=ConfidentModel(),
        smtp=smtp,  # type: ignore[arg-type]
        sleep=lambda _: None,
    )
    yield Live(sessions, services, smtp, mailbox_id, settings.maildir_inbox)
    engine.dispose()


def test_different_mails_sharing_a_message_id_are_both_kept(session: Session) -> None:
    first = ingest(session, mail("dup@example.nl", "Mijn auto is beschadigd."))
    second = ingest(session, mail("dup@example.nl", "Een heel andere mail, zelfde id."))
    same_bytes = ingest(session, mail("dup@example.nl", "Mijn auto is beschadigd."))
    session.commit()

    assert (first.outcome, second.outcome) == ("imported", "imported")
    assert (first.message_id_reused, second.message_id_reused) == (False, True)
    assert same_bytes.outcome == "duplicate" and same_bytes.message_id == first.message_id
    rows = session.scalars(select(Message).order_by(Message.id)).all()
    assert [row.message_id for row in rows] == ["dup@example.nl", "dup@example.nl"]
    assert [row.message_id_reused for row in rows] == [False, True]
    assert "andere mail" in rows[1].new_text
    # The reused Message-ID does not lead into the first mail's thread.
    assert rows[0].thread_id != rows[1].thread_id


def test_a_reply_to_a_reused_message_id_still_finds_a_thread(session: Session) -> None:
    ingest(session, mail("orig@example.nl", "Eerste mail."))
    ingest(session, mail("orig@example.nl", "Vervalste mail met hetzelfde id."))
    reply = EmailMessage()
    reply["From"], reply["Subject"] = "a@example.nl", "Re: Waterschade"
    reply["Message-ID"], reply["In-Reply-To"] = "<r@example.nl>", "<orig@example.nl>"
    reply.set_content("Antwoord.")
    result = ingest(session, RawMail(reply.as_bytes(), "", "reply"))
    session.commit()
    rows = session.scalars(select(Message).order_by(Message.id)).all()
    assert session.get_one(Message, result.message_id).thread_id == rows[0].thread_id


def test_an_archive_and_a_live_mail_sharing_a_message_id_are_both_kept_and_the_live_one_routed(
    live: Live,
) -> None:
    with live.sessions() as session:
        archived = ingest(session, mail("shared@example.nl", "Archiefmail over een lekkage."))
        session.commit()
    arrival = live.arrive(mail("shared@example.nl", "Nieuwe mail: mijn dak lekt."), "1.mail")
    assert arrival.result.outcome == "imported" and arrival.queue
    assert arrival.result.message_id != archived.message_id
    assert arrival.result.message_id_reused

    assert advance(live.services, arrival.result.message_id).state == "done"
    assert len(live.smtp.sent) == 1 and b"mijn dak lekt" in live.smtp.sent[0]
    with live.sessions() as session:
        old = session.get_one(Message, archived.message_id)
        new = session.get_one(Message, arrival.result.message_id)
        assert (old.origin, old.route_state, old.mailbox_id) == ("archive", None, None)
        assert (new.origin, new.route_state, new.message_id_reused) == ("live", "done", True)


def test_two_live_mails_sharing_a_message_id_are_both_routed(live: Live) -> None:
    first = live.arrive(mail("again@example.nl", "Eerste schade."), "1.mail", uid=1)
    second = live.arrive(mail("again@example.nl", "Tweede schade."), "2.mail", uid=2)
    assert first.queue and second.queue
    for arrival in (first, second):
        assert advance(live.services, arrival.result.message_id).state == "done"
    assert [b"Eerste" in d for d in live.smtp.sent] == [True, False]
    assert b"Tweede" in live.smtp.sent[1]
    with live.sessions() as session:
        first_row = session.get_one(Message, first.result.message_id)
        assert (first_row.uid, first_row.source_ref) == (1, "1.mail")  # not overwritten
        assert session.scalar(select(func.count()).select_from(Delivery)) == 2


def test_the_same_bytes_again_are_not_routed_again(live: Live) -> None:
    data = mail("once@example.nl", "Eén keer.")
    first = live.arrive(data, "1.mail", uid=7)
    assert advance(live.services, first.result.message_id).state == "done"
    again = live.arrive(data, "1.mail", uid=7)
    copy = live.arrive(data, "copy.mail", uid=8)
    assert (again.result.outcome, again.queue) == ("duplicate", False)
    assert (copy.result.outcome, copy.result.message_id, copy.queue) == (
        "duplicate",
        first.result.message_id,
        False,
    )
    assert len(live.smtp.sent) == 1


def test_a_moved_mail_is_recognised_by_its_content(live: Live) -> None:
    data = mail("moved@example.nl", "Verhuisde mail.")
    first = live.arrive(data, "1.mail", uid=5, uidvalidity=100)
    assert advance(live.services, first.result.message_id).state == "done"
    # The folder was renumbered (new UIDVALIDITY): same bytes, new place.
    moved = live.arrive(data, "1.mail", uid=1, uidvalidity=200)
    assert (moved.result.outcome, moved.result.message_id, moved.queue) == (
        "duplicate",
        first.result.message_id,
        False,
    )
    with live.sessions() as session:
        row = session.get_one(Message, first.result.message_id)
        assert (row.uidvalidity, row.uid) == (200, 1)
    assert len(live.smtp.sent) == 1


def test_the_import_summary_counts_reused_message_ids(
    db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "a.eml").write_bytes(mail("x@example.nl", "Eerste.").raw)
    (folder / "b.eml").write_bytes(mail("x@example.nl", "Tweede, ander.").raw)
    (folder / "c.eml").write_bytes(mail("x@example.nl", "Eerste.").raw)  # the same bytes as a
    summary = run_import(db_sessions, str(folder), progress=False)
    assert (summary.imported, summary.duplicates, summary.message_id_reused) == (2, 1, 1)


def test_revision_0004_keeps_rows_that_reference_messages(
    database_url: str, instance_path: Path
) -> None:
    settings = load_settings({}, instance_path=instance_path, database_url=database_url)
    engine = make_engine(settings)
    try:
        command.upgrade(alembic_config(settings, engine=engine), "0003")
        # Rows as revision 0003 knew them (the models describe the newest schema).
        old = MetaData()
        old.reflect(engine, only=["messages", "users", "teams", "annotations"])
        now = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(
                old.tables["messages"].insert().values(
                    id=1,
                    raw_compressed=zlib.compress(b"Subject: s\n\nx"),
                    raw_size=14,
                    content_hash="a" * 64,
                    message_id="kept@example.nl",
                    references=[],
                    subject="s",
                    subject_key="s",
                    sender_name="",
                    sender_email="",
                    recipients={},
                    body_text="x",
                    new_text="x",
                    quoted_text="",
                    signature="",
                    attachments=[],
                    language="nl",
                    parse_defects=[],
                    status="ok",
                    origin="archive",
                    source_folder="",
                    source_ref="",
                    imported_at=now,
                )
            )
            for user_id, name in ((1, "rita"), (2, "piet")):
                connection.execute(
                    old.tables["users"].insert().values(
                        id=user_id,
                        username=name,
                        password_hash="x",
                        role="labeler",
                        active=True,
                        created_at=now,
                    )
                )
            connection.execute(
                old.tables["teams"].insert().values(
                    id=1,
                    slug="schade",
                    name="Schade",
                    description="",
                    forward_address="",
                    imap_folder="",
                    created_at=now,
                )
            )
            connection.execute(
                old.tables["annotations"].insert().values(
                    message_id=1, team_id=1, user_id=1, source="human", created_at=now
                )
            )
        upgrade(settings, engine=engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            message = session.get_one(Message, 1)
            assert message.human_labels == 1 and not message.message_id_reused
            assert session.scalar(select(func.count()).select_from(Annotation)) == 1
            # The label counter (triggers on annotations) still counts.
            session.add(
                Annotation(message_id=1, team_id=1, user_id=2, source="human", created_at=now)
            )
            session.commit()
            session.refresh(message)
            assert message.human_labels == 2
            # And a second mail may now carry the same Message-ID.
            assert ingest(session, mail("kept@example.nl", "Ander.")).message_id_reused
            session.commit()
    finally:
        engine.dispose()


def test_a_renumbered_mail_is_found_by_its_bytes_not_by_a_reused_message_id(
    dovecot: DovecotServer,
) -> None:
    user = dovecot.add_user()
    impostor = mail("same@example.nl", "Een andere mail met hetzelfde Message-ID.").raw
    original = mail("same@example.nl", "De echte mail.").raw
    crlf = [raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for raw in (impostor, original)]
    dovecot.append_many(user, "INBOX", crlf)
    with dovecot.client(user) as client:
        client.select_folder("INBOX")
        stored = client.fetch([2], ["BODY.PEEK[]"])[2][b"BODY[]"]
    actions = ImapActions(imap.parse_imap_url(dovecot.url(user, "INBOX")))
    where = ImapLocation(
        folder="INBOX",
        uidvalidity=1,  # stale: the folder was renumbered since
        uid=2,
        message_id="same@example.nl",
        content_hash=content_hash(stored),
        size=len(stored),
    )
    try:
        assert actions.mark(where, keyword=ROUTED_KEYWORD, seen=True)
    finally:
        # ImapActions keeps its connection per thread for the next mail; this test is done.
        for client in outgoing._KEPT.__dict__.pop("clients", {}).values():
            imap.close_quietly(client)
    with dovecot.client(user) as client:
        client.select_folder("INBOX", readonly=True)
        flagged = client.search(["KEYWORD", ROUTED_KEYWORD])
    assert flagged == [2]  # the original, not the first mail with its Message-ID
