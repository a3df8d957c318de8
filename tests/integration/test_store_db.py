"""The mail store on a real database (SQLite and PostgreSQL): migrations, ingest, threads,
the import runner, weak labels from folders, teams, and the CLI commands."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

import labeling.mail.mime
from labeling.errors import ImportSourceError, LabelingError, MigrationError
from labeling.importers.run import ImportCursors, label_from_folders, run_import
from labeling.mail.values import RawMail
from labeling.settings import Settings, load_settings
from labeling.store.db import (
    alembic_config,
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)
from labeling.store.ingest import ingest
from labeling.store.tables import (
    Annotation,
    AuditLog,
    Base,
    ImportCursor,
    Mailbox,
    Message,
    Team,
    Thread,
)
from labeling.store.teams import TeamDefinition, sync_teams
from tests.support.mail_samples import BROKEN, make_mail, write_maildir_tree


def raw(data: bytes, folder: str = "", ref: str = "test") -> RawMail:
    return RawMail(raw=data, folder=folder, source_ref=ref)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# Migrations -------------------------------------------------------------------------------


def test_migrations_build_the_schema_the_models_describe(db_engine: Engine) -> None:
    assert current_revision(db_engine) == head_revision()
    assert check_schema(db_engine) == head_revision()
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_a_fresh_database_asks_for_db_upgrade(database_url: str, instance_path: Path) -> None:
    settings = load_settings({}, instance_path=instance_path, database_url=database_url)
    engine = make_engine(settings)
    try:
        with pytest.raises(MigrationError, match="run `mailroom db upgrade`"):
            check_schema(engine)
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_a_fresh_database(database_url: str, instance_path: Path) -> None:
    settings = load_settings({}, instance_path=instance_path, database_url=database_url)
    engine = make_engine(settings)
    try:
        assert upgrade(settings, engine=engine) == head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        command.downgrade(alembic_config(settings, engine=engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(settings, engine=engine)
        assert check_schema(engine) == head_revision()
    finally:
        engine.dispose()


# Ingest -----------------------------------------------------------------------------------


def test_ingest_stores_raw_and_normalised_fields(session: Session) -> None:
    data = make_mail("a1@example.nl", subject="Schade aan mijn auto")
    result = ingest(session, raw(data, folder="Schade", ref="x/1"))
    session.commit()

    assert result.outcome == "imported"
    row = session.get_one(Message, result.message_id)
    assert row.raw == data
    assert row.raw_size == len(data)
    assert row.status == "ok"
    assert row.message_id == "a1@example.nl"
    assert row.subject == "Schade aan mijn auto"
    assert row.sender_email == "jan@example.nl"
    assert row.recipients["to"][0]["email"] == "info@polderzeker.example"
    assert row.source_folder == "Schade"
    assert row.date is not None and row.date.tzinfo is not None
    assert row.thread is not None and row.thread.root_key == "a1@example.nl"
    assert row.language == "nl"


def test_reply_stores_new_text_apart_from_quote(session: Session) -> None:
    body = (
        "Dank u, de foto's zijn bijgevoegd.\n\n"
        "Op 1 maart 2024 om 09:30 schreef Polderzeker <info@polderzeker.example>:\n"
        "> Kunt u foto's van de schade sturen?\n"
    )
    result = ingest(session, raw(make_mail("re1@example.nl", subject="Re: Schade", body=body)))
    row = session.get_one(Message, result.message_id)
    assert "foto's zijn bijgevoegd" in row.new_text
    assert "Kunt u foto's" not in row.new_text
    assert "Kunt u foto's" in row.quoted_text
    assert row.subject_key == "schade"


def test_same_bytes_are_a_duplicate_and_a_reused_message_id_is_not(session: Session) -> None:
    first = ingest(session, raw(make_mail("dup@example.nl")))
    again = ingest(session, raw(make_mail("dup@example.nl")))
    other = ingest(session, raw(make_mail("dup@example.nl", body="Same id, other bytes.")))
    session.commit()

    assert first.outcome == "imported"
    assert again.outcome == "duplicate" and again.message_id == first.message_id
    # A Message-ID is a hint anyone can write: other bytes are another mail, flagged.
    assert other.outcome == "imported" and other.message_id_reused
    assert count(session, Message) == 2


def test_mails_without_message_id_dedupe_by_content(session: Session) -> None:
    one = ingest(session, raw(make_mail(None, body="first")))
    two = ingest(session, raw(make_mail(None, body="second")))
    again = ingest(session, raw(make_mail(None, body="first")))
    assert (one.outcome, two.outcome, again.outcome) == ("imported", "imported", "duplicate")
    assert one.message_id != two.message_id


def test_broken_bytes_are_quarantined_once(session: Session) -> None:
    result = ingest(session, raw(BROKEN, folder="Schade"))
    again = ingest(session, raw(BROKEN, folder="Schade"))
    session.commit()

    assert result.outcome == "quarantined"
    assert result.reason
    assert again.outcome == "duplicate" and again.message_id == result.message_id
    row = session.get_one(Message, result.message_id)
    assert (row.status, row.quarantine_reason, row.raw) == ("quarantined", result.reason, BROKEN)
    assert row.thread_id is None
    assert count(session, Message) == 1


def test_parser_crash_quarantines_instead_of_failing(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(data: bytes) -> None:
        raise RecursionError("too deep")

    monkeypatch.setattr(labeling.mail.mime, "normalise", crash)
    result = ingest(session, raw(make_mail("crash@example.nl")))
    assert result.outcome == "quarantined"
    assert "RecursionError" in result.reason


def test_live_mail_is_keyed_by_mailbox_uidvalidity_uid(session: Session) -> None:
    box = Mailbox(name="info", kind="imap", url="imap://info@127.0.0.1:143", folder="INBOX")
    session.add(box)
    session.flush()
    first = RawMail(make_mail("live1@x"), "INBOX", "uid 7", uid=7, uidvalidity=42)
    other_bytes = RawMail(make_mail("live2@x"), "INBOX", "uid 7", uid=7, uidvalidity=42)
    renumbered = RawMail(make_mail("live3@x"), "INBOX", "uid 7", uid=7, uidvalidity=43)

    assert ingest(session, first, origin="live", mailbox_id=box.id).outcome == "imported"
    assert ingest(session, other_bytes, origin="live", mailbox_id=box.id).outcome == "duplicate"
    assert ingest(session, renumbered, origin="live", mailbox_id=box.id).outcome == "imported"
    row = session.scalars(select(Message).where(Message.uid == 7, Message.uidvalidity == 42)).one()
    assert (row.origin, row.mailbox_id) == ("live", box.id)


def test_replies_join_their_thread_in_any_order(session: Session) -> None:
    # The second reply arrives first: it names the root in References.
    late = ingest(
        session,
        raw(make_mail("r2@x", in_reply_to="r1@x", references=("root@x", "r1@x"))),
    )
    root = ingest(session, raw(make_mail("root@x")))
    reply = ingest(session, raw(make_mail("r1@x", in_reply_to="root@x")))
    # A client that only sets In-Reply-To to a reply still lands in the thread.
    short = ingest(session, raw(make_mail("r3@x", in_reply_to="r2@x")))
    other = ingest(session, raw(make_mail("other@x")))
    session.commit()

    thread_of = {
        name: session.get_one(Message, result.message_id).thread_id
        for name, result in [
            ("late", late),
            ("root", root),
            ("reply", reply),
            ("short", short),
            ("other", other),
        ]
    }
    assert thread_of["late"] == thread_of["root"] == thread_of["reply"] == thread_of["short"]
    assert thread_of["other"] != thread_of["root"]
    thread = session.get_one(Thread, thread_of["root"])
    assert thread.root_key == "root@x"
    assert count(session, Thread) == 2


def test_nul_and_odd_text_survive_both_databases(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = labeling.mail.mime.normalise

    def with_nul(data: bytes):  # type: ignore[no-untyped-def]
        import dataclasses

        return dataclasses.replace(real(data), body_text="a\x00b \udcff c", subject="x\x00")

    monkeypatch.setattr(labeling.mail.mime, "normalise", with_nul)
    result = ingest(session, raw(make_mail("nul@x")))
    session.commit()
    row = session.get_one(Message, result.message_id)
    assert "\x00" not in row.body_text and row.body_text.startswith("a")


# Import runner ----------------------------------------------------------------------------


def test_import_maildir_tree_counts_per_folder_and_goes_on_after_bad_mail(
    tmp_path: Path, db_sessions: sessionmaker[Session]
) -> None:
    tree = tmp_path / "archive"
    write_maildir_tree(
        tree,
        {
            "": [make_mail("in1@x"), make_mail("in2@x")],
            "Schade": [make_mail("s1@x"), BROKEN, make_mail("s2@x"), make_mail("in1@x")],
            "Premie": [make_mail("p1@x")],
        },
    )
    summary = run_import(db_sessions, str(tree), batch_size=2, progress=False)

    assert (summary.imported, summary.duplicates, summary.quarantined) == (5, 1, 1)
    folders = {
        name: (c.imported, c.duplicates, c.quarantined) for name, c in summary.per_folder.items()
    }
    assert folders == {"": (2, 0, 0), "Schade": (2, 1, 1), "Premie": (1, 0, 0)}
    assert summary.quarantine_examples and summary.quarantine_examples[0][0].endswith(
        tuple(p.name for p in (tree / ".Schade").rglob("*") if p.is_file())
    )

    again = run_import(db_sessions, str(tree), batch_size=2, progress=False)
    assert (again.imported, again.duplicates, again.quarantined) == (0, 7, 0)
    with db_sessions() as session:
        assert count(session, Message) == 6


@dataclass
class FakeImap:
    """An IMAP-like source: two folders of UIDs, asks start_after, can fail midway."""

    start_after: object
    fail_after: int | None = None
    description: str = "imap://user@127.0.0.1:1143"

    FOLDERS = {"INBOX": (1000, [1, 2, 3, 5, 8]), "Schade": (2000, [4, 9])}  # noqa: RUF012

    def count(self) -> int | None:
        return None

    def __iter__(self) -> Iterator[RawMail]:
        sent = 0
        for folder, (validity, uids) in self.FOLDERS.items():
            last = self.start_after(folder, validity)  # type: ignore[operator]
            for uid in uids:
                if uid <= last:
                    continue
                if self.fail_after is not None and sent == self.fail_after:
                    raise ConnectionResetError("server went away")
                sent += 1
                yield RawMail(
                    make_mail(f"{folder}-{uid}@x"),
                    folder,
                    f"{folder}/{uid}",
                    uid=uid,
                    uidvalidity=validity,
                )


def test_imap_import_resumes_from_the_last_committed_uid(
    db_sessions: sessionmaker[Session],
) -> None:
    key = "imap://user@127.0.0.1:1143"
    cursors = ImportCursors(db_sessions, key)
    source = FakeImap(cursors.start_after, fail_after=4)
    with pytest.raises(ConnectionResetError):
        run_import(db_sessions, source, batch_size=3, progress=False, cursor_key=key)
    # One batch of three was committed, with its cursor; the fourth mail was rolled back.
    with db_sessions() as session:
        assert count(session, Message) == 3
        stored = session.scalars(select(ImportCursor)).all()
        assert [(c.folder, c.uidvalidity, c.last_uid) for c in stored] == [("INBOX", 1000, 3)]

    fresh = ImportCursors(db_sessions, key)
    assert fresh.start_after("INBOX", 1000) == 3
    assert fresh.start_after("INBOX", 999) == 0  # a new UIDVALIDITY starts over
    summary = run_import(
        db_sessions, FakeImap(fresh.start_after), batch_size=3, progress=False, cursor_key=key
    )
    # Only the mails after the cursor were fetched again.
    assert (summary.imported, summary.duplicates) == (4, 0)
    with db_sessions() as session:
        cursors_now = {(c.folder, c.last_uid) for c in session.scalars(select(ImportCursor)).all()}
        assert cursors_now == {("INBOX", 8), ("Schade", 9)}
        assert count(session, Message) == 7


def test_import_of_a_missing_path_is_a_clear_error(
    tmp_path: Path, db_sessions: sessionmaker[Session]
) -> None:
    with pytest.raises(ImportSourceError, match="no such file or folder"):
        run_import(db_sessions, str(tmp_path / "nope"), progress=False)


# Weak labels ------------------------------------------------------------------------------


def _teams(session: Session) -> None:
    sync_teams(
        session,
        [
            TeamDefinition("schade", "Schade", imap_folder="Schade", hotkey="1"),
            TeamDefinition("premie", "Premie", imap_folder="Premie", hotkey="2"),
        ],
    )


def test_label_from_folders_is_idempotent_and_skips_quarantine(session: Session) -> None:
    _teams(session)
    for data, folder in [
        (make_mail("a@x"), "Schade"),
        (make_mail("b@x"), "Schade"),
        (BROKEN, "Schade"),
        (make_mail("c@x"), "Premie"),
        (make_mail("d@x"), ""),
    ]:
        ingest(session, raw(data, folder=folder))
    session.commit()

    first = label_from_folders(session, {"Schade": "schade", "Premie": "premie"})
    session.commit()
    assert (first.labelled, first.already_labelled) == (3, 0)
    assert [(e.folder, e.messages, e.labelled) for e in first.folders] == [
        ("Schade", 2, 2),
        ("Premie", 1, 1),
    ]
    labels = session.scalars(select(Annotation)).all()
    assert {(a.source, a.user_id, a.superseded_at) for a in labels} == {
        ("archive-folder", None, None)
    }
    assert all(a.created_at.tzinfo is not None for a in labels)

    again = label_from_folders(session, {"Schade": "schade", "Premie": "premie"})
    assert (again.labelled, again.already_labelled) == (0, 3)
    assert count(session, Annotation) == 3
    assert count(session, AuditLog) == 4


def test_label_from_folders_names_what_exists(session: Session) -> None:
    _teams(session)
    ingest(session, raw(make_mail("a@x"), folder="Schade"))
    session.flush()
    with pytest.raises(LabelingError, match=r"unknown team klachten; known teams: premie, schade"):
        label_from_folders(session, {"Schade": "klachten"})
    with pytest.raises(LabelingError, match=r"no mail in folder 'Claims'.*'Schade'"):
        label_from_folders(session, {"Claims": "schade"})
    assert count(session, Annotation) == 0


# Teams ------------------------------------------------------------------------------------


def test_sync_teams_upserts_by_slug_and_swaps_hotkeys(session: Session) -> None:
    _teams(session)
    summary = sync_teams(
        session,
        [
            TeamDefinition("schade", "Schade & letsel", imap_folder="Schade", hotkey="2"),
            TeamDefinition("premie", "Premie", imap_folder="Premie", hotkey="1"),
            TeamDefinition("klachten", "Klachten", hotkey="3"),
        ],
    )
    session.commit()
    assert summary.created == ("klachten",)
    assert set(summary.updated) == {"schade", "premie"}
    teams = {t.slug: t for t in session.scalars(select(Team))}
    assert (teams["schade"].name, teams["schade"].hotkey, teams["premie"].hotkey) == (
        "Schade & letsel",
        "2",
        "1",
    )
    unchanged = sync_teams(session, [TeamDefinition("klachten", "Klachten", hotkey="3")])
    assert unchanged.unchanged == ("klachten",)
    assert unchanged.not_in_specs == ("premie", "schade")


# CLI --------------------------------------------------------------------------------------


@pytest.fixture
def invoke(db_settings: Settings):  # type: ignore[no-untyped-def]
    from mailroom.cli import cli, register_commands

    register_commands()
    runner = CliRunner()

    def run(*args: str, settings: Settings = db_settings):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), obj=settings, catch_exceptions=False)

    return run


def test_cli_import_label_and_teams(invoke, tmp_path: Path, db_sessions) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "archive"
    write_maildir_tree(
        tree,
        {
            "": [make_mail("i@x")],
            "Schade": [make_mail("s@x"), BROKEN],
            "Premie": [make_mail("p@x")],
        },
    )
    teams_file = tmp_path / "teams.toml"
    teams_file.write_text(
        "\n".join(
            f'[[team]]\nslug = "{slug}"\nname = "{slug.title()}"\ndescription = "d"\n'
            f'forward_to = "{slug}@example.nl"\nfolder = "{folder}"\nhotkey = {key}\n'
            for slug, folder, key in [("schade", "Schade", 1), ("premie", "Premie", 2)]
        )
    )

    result = invoke("db", "current")
    assert "up to date" in result.output

    result = invoke("import", str(tree), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "imported 3, duplicates 0, quarantined 1" in result.output
    assert "Schade" in result.output and "(root)" in result.output
    assert "quarantined (could not be parsed)" in result.output

    result = invoke("teams", "sync", "--file", str(teams_file))
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output

    result = invoke("label-from-folders", "--map", "Schade=schade", "--map", "Premie=premie")
    assert result.exit_code == 0, result.output
    assert "Schade -> schade: 1 labelled" in result.output
    result = invoke("label-from-folders", "--team-folders")
    assert "total: 0 labelled, 2 already labelled" in result.output

    result = invoke("teams", "list")
    assert "schade" in result.output and "labels 0 by a person, 1 from folders" in result.output


def test_cli_errors_are_one_line(invoke, tmp_path: Path, instance_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = invoke("label-from-folders", "--map", "Nope=schade")
    assert result.exit_code == 1
    assert "error: unknown team schade" in result.output

    result = invoke("label-from-folders", "--map", "Schade")
    assert result.exit_code == 2
    assert "expected FOLDER=TEAM" in result.output

    result = invoke("import", str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert "no such file or folder" in result.output

    fresh = load_settings(
        {}, instance_path=instance_path, database_url=f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    )
    result = invoke("import", str(tmp_path), settings=fresh)
    assert result.exit_code == 1
    assert "run `mailroom db upgrade`" in result.output
    result = invoke("db", "upgrade", settings=fresh)
    assert result.exit_code == 0 and "migrated from empty to revision" in result.output
    assert "already at revision" in invoke("db", "upgrade", settings=fresh).output


def test_session_scope_translates_database_errors(db_sessions: sessionmaker[Session]) -> None:
    from labeling.errors import StoreError

    with pytest.raises(StoreError, match="database error"), session_scope(db_sessions) as s:
        s.add(Team(slug="x", name="X"))
        s.add(Team(slug="x", name="again"))


def test_bulk_writes_refresh_postgresql_statistics(db_settings: Settings) -> None:
    """After a bulk write PostgreSQL's planner knows the new rows (no stale-plan stalls)."""
    from sqlalchemy import text

    from labeling.store.db import make_engine, make_session_factory, refresh_statistics

    engine = make_engine(db_settings)
    try:
        with make_session_factory(engine)() as session:
            for n in range(3):
                ingest(session, RawMail(make_mail(f"stats-{n}@example.nl"), "", str(n)))
            session.flush()
            refresh_statistics(session)  # ANALYZE on PostgreSQL, nothing on SQLite
            if engine.dialect.name == "postgresql":
                tuples = session.execute(
                    text("SELECT reltuples FROM pg_class WHERE relname = 'messages'")
                ).scalar_one()
                assert tuples == 3
            session.rollback()
    finally:
        engine.dispose()
