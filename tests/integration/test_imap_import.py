"""ImapSource against a real Dovecot: every mail, byte for byte, in UID order, resumable,
and every failure an ImapError — never a raw socket or imaplib error."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from labeling.errors import ImapError
from labeling.importers.imap_source import ImapSource
from labeling.mail.values import RawMail
from labeling.settings import Settings, load_settings
from labeling.store.tables import Message
from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.mail_factory import varied_mails
from mailroom.testbed.ports import free_port
from mailroom.testbed.tcp_proxy import CuttingProxy
from tests.support.dovecot import DovecotFactory

# Server folder -> label the source gives it, and how many mails it gets.
FOLDERS = {"INBOX": ("", 22), "Claims": ("Claims", 16), "Policy.Changes": ("Policy.Changes", 12)}


@dataclass(frozen=True)
class Archive:
    """A user whose folders hold the varied mails; ``mails`` in the order a read yields."""

    server: DovecotServer
    user: str
    mails: list[tuple[str, int, bytes]]  # (label, uid, raw)
    uidvalidity: dict[str, int]  # by label

    def url(self, folder: str = "", *, port: int | None = None) -> str:
        return self.server.url(self.user, folder, port=port)


def fill_account(server: DovecotServer, user: str) -> list[tuple[str, int, bytes]]:
    """Append the varied mails to ``user``'s folders; (label, uid, raw) in read order."""
    raws = iter(varied_mails(sum(n for _, n in FOLDERS.values()), tag=user))
    by_label: dict[str, list[tuple[str, int, bytes]]] = {}
    for folder, (label, n) in FOLDERS.items():
        batch = [next(raws) for _ in range(n)]
        uids = server.append_many(user, folder, batch)
        by_label[label] = [(label, uid, raw) for uid, raw in zip(uids, batch, strict=True)]
    # A read goes INBOX ('') first, then the other folders by name.
    return [m for label in sorted(by_label) for m in by_label[label]]


@pytest.fixture(scope="module")
def archive(dovecot: DovecotServer) -> Archive:
    user = dovecot.add_user()
    mails = fill_account(dovecot, user)
    uidvalidity = {label: dovecot.uidvalidity(user, f) for f, (label, _) in FOLDERS.items()}
    return Archive(dovecot, user, mails, uidvalidity)


def read(source: ImapSource) -> list[tuple[str, int, bytes]]:
    return [(m.folder, m.uid or 0, m.raw) for m in source]


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_every_mail_arrives_once_in_uid_order_byte_for_byte(
    archive: Archive, batch_size: int
) -> None:
    source = ImapSource(archive.url(), batch_size=batch_size)
    assert source.count() == len(archive.mails) == 50
    got = list(source)
    assert [(m.folder, m.uid, m.raw) for m in got] == archive.mails
    for mail in got:
        assert mail.uidvalidity == archive.uidvalidity[mail.folder]
        assert mail.source_ref == f"{mail.folder}:{mail.uidvalidity}:{mail.uid}"


def test_the_archive_is_left_unread(archive: Archive) -> None:
    list(ImapSource(archive.url(), batch_size=10))
    with archive.server.client(archive.user) as client:
        for folder in FOLDERS:
            client.select_folder(folder, readonly=True)
            flags = client.get_flags(client.search("ALL"))
            assert not any(b"\\Seen" in f for f in flags.values()), folder


def test_one_folder_by_url(archive: Archive) -> None:
    got = read(ImapSource(archive.url("Policy.Changes"), batch_size=5))
    assert got == [m for m in archive.mails if m[0] == "Policy.Changes"]


def test_resumes_after_the_given_uid(archive: Archive) -> None:
    inbox = [m for m in archive.mails if m[0] == ""]
    middle = inbox[len(inbox) // 2][1]
    last_claim = max(uid for label, uid, _ in archive.mails if label == "Claims")
    cursor = {
        ("", archive.uidvalidity[""]): middle,
        ("Claims", archive.uidvalidity["Claims"]): last_claim,  # finished: `N:*` quirk
    }
    source = ImapSource(archive.url(), batch_size=4, start_after=lambda f, v: cursor.get((f, v), 0))
    expected = [
        m for m in archive.mails if (m[0] == "" and m[1] > middle) or m[0] not in ("", "Claims")
    ]
    assert source.count() == len(expected)
    assert read(source) == expected


def test_wrong_password_is_a_clear_permanent_error(archive: Archive) -> None:
    url = archive.url().replace(f":{archive.server.users[archive.user]}@", ":not-it@")
    assert "not-it" in url
    with pytest.raises(ImapError) as caught:
        list(ImapSource(url, batch_size=10))
    assert caught.value.transient is False
    message = str(caught.value)
    assert f"refused the login of user {archive.user!r}" in message
    assert "AUTHENTICATIONFAILED" in message and "not-it" not in message


def test_no_server_listening_is_transient() -> None:
    with pytest.raises(ImapError, match="Connection refused") as caught:
        ImapSource(f"imap://u:p@127.0.0.1:{free_port()}/", batch_size=10).count()
    assert caught.value.transient is True


def test_a_missing_folder_is_named(archive: Archive) -> None:
    with pytest.raises(ImapError, match=r"'Nope'.*Policy\.Changes") as caught:
        list(ImapSource(archive.url("Nope"), batch_size=10))
    assert caught.value.transient is False


# -- connections cut mid-import ----------------------------------------------------------


def read_until_error(source: ImapSource, after_first: object) -> tuple[list[RawMail], ImapError]:
    """Read until an ImapError, calling ``after_first()`` once the first mail arrived."""
    got: list[RawMail] = []
    with pytest.raises(ImapError) as caught:
        for mail in source:
            got.append(mail)
            if len(got) == 1:
                after_first()  # type: ignore[operator]
    return got, caught.value


@pytest.mark.parametrize("hard", [False, True], ids=["doveadm-kick", "sigkill-imap"])
def test_server_dropping_the_connection_mid_import_is_transient(
    archive: Archive, hard: bool
) -> None:
    source = ImapSource(archive.url(), batch_size=5)
    got, error = read_until_error(source, lambda: archive.server.kick(archive.user, hard=hard))
    assert error.transient is True
    assert "lost the connection" in str(error) or "cannot talk" in str(error)
    assert len(got) == 5  # the first batch, fetched before the cut
    assert [(m.folder, m.uid, m.raw) for m in got] == archive.mails[:5]


def test_link_cut_inside_a_fetch_response_then_resume_gets_the_rest_once(archive: Archive) -> None:
    imported: dict[tuple[str, int], int] = {}  # the caller's cursor: last UID per folder

    def start_after(folder: str, uidvalidity: int) -> int:
        return imported.get((folder, uidvalidity), 0)

    got: list[RawMail] = []
    with CuttingProxy(archive.server.port) as proxy:
        source = ImapSource(archive.url(port=proxy.port), batch_size=6, start_after=start_after)

        def cut_soon() -> None:
            # The next FETCH answer (6 mails, a few kB at least) stops after 1,500 bytes:
            # inside a message literal.
            proxy.cut_after(1_500)

        partial, error = read_until_error(source, cut_soon)
        assert proxy.cuts == 1
    assert error.transient is True
    assert "lost the connection" in str(error)
    assert len(partial) == 6
    got += partial
    for mail in partial:
        imported[(mail.folder, mail.uidvalidity or 0)] = mail.uid or 0
    # Run again, directly this time: only what was missing comes.
    got += ImapSource(archive.url(), batch_size=6, start_after=start_after)
    assert [(m.folder, m.uid, m.raw) for m in got] == archive.mails


def test_proxy_passes_everything_when_not_cut(archive: Archive) -> None:
    with CuttingProxy(archive.server.port) as proxy:
        assert read(ImapSource(archive.url(port=proxy.port), batch_size=9)) == archive.mails
        assert proxy.cuts == 0


# -- other server layouts and events -----------------------------------------------------


def test_uidvalidity_change_reads_the_renumbered_folder_again(
    dovecot: DovecotServer, imap_user: str
) -> None:
    raws = varied_mails(4, tag=imap_user)
    dovecot.append_many(imap_user, "Claims", raws)
    cursor: dict[tuple[str, int], int] = {}
    first = list(ImapSource(dovecot.url(imap_user, "Claims"), batch_size=10))
    for mail in first:
        cursor[(mail.folder, mail.uidvalidity or 0)] = mail.uid or 0
    new_validity = dovecot.change_uidvalidity(imap_user, "Claims", renumber=True)
    again = list(
        ImapSource(
            dovecot.url(imap_user, "Claims"),
            batch_size=10,
            start_after=lambda f, v: cursor.get((f, v), 0),
        )
    )
    assert [m.raw for m in again] == raws
    assert {m.uidvalidity for m in again} == {new_validity} != {first[0].uidvalidity}
    assert [m.uid for m in again] != [m.uid for m in first]


@pytest.fixture(scope="module")
def courier_style(dovecot_factory: DovecotFactory) -> Iterator[DovecotServer]:
    """A server whose folders all live under INBOX (``INBOX.Claims``), like Courier."""
    with dovecot_factory(namespace_prefix="INBOX.") as server:
        yield server


def test_inbox_prefix_is_stripped_from_labels(courier_style: DovecotServer) -> None:
    server = courier_style
    raws = varied_mails(6, tag="courier")
    server.append_many("alice", "INBOX", raws[:2])
    server.append_many("alice", "INBOX.Claims", raws[2:4])
    server.append_many("alice", "INBOX.Claims.Auto", raws[4:])
    got = read(ImapSource(server.url("alice"), batch_size=3))
    assert [(label, raw) for label, _, raw in got] == [
        ("", raws[0]),
        ("", raws[1]),
        ("Claims", raws[2]),
        ("Claims", raws[3]),
        ("Claims.Auto", raws[4]),
        ("Claims.Auto", raws[5]),
    ]
    # The URL names the server's folder; the label is the same as in a whole-account read.
    one = read(ImapSource(server.url("alice", "INBOX.Claims"), batch_size=3))
    assert [label for label, _, _ in one] == ["Claims", "Claims"]


def test_password_needing_percent_encoding_logs_in(dovecot: DovecotServer) -> None:
    assert "@" in dovecot.users["bob"] and "%" in dovecot.users["bob"]
    assert ImapSource(dovecot.url("bob", "INBOX"), batch_size=10).count() is not None


# -- end to end: `mailroom import imap://…` into a store ---------------------------------

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(db_settings: Settings, instance_path: Path) -> Invoke:
    """Run a ``mailroom`` command on a fresh, migrated store, 10 mails per IMAP batch."""
    from mailroom.cli import cli, register_commands

    register_commands()
    settings = load_settings(
        {},
        instance_path=instance_path,
        database_url=db_settings.database_url,
        import_batch_size=10,
    )
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), obj=settings, catch_exceptions=False)

    return run


def stored(sessions: sessionmaker[Session]) -> list[tuple[str, int, bytes]]:
    """(folder, uid, raw) of every stored mail, in read order."""
    with sessions() as session:
        rows = [(m.source_folder, m.uid or 0, m.raw) for m in session.scalars(select(Message))]
    return sorted(rows, key=lambda row: (row[0], row[1]))


def test_cli_imports_everything_and_a_second_run_nothing(
    invoke: Invoke,
    db_sessions: sessionmaker[Session],
    dovecot: DovecotServer,
    imap_user: str,
) -> None:
    mails = fill_account(dovecot, imap_user)
    url = dovecot.url(imap_user)

    result = invoke("import", url, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "50 mails" in result.output
    imported, quarantined = summary_counts(result.output, duplicates=0)
    assert imported + quarantined == 50  # what the parser makes of the broken ones is its call
    assert "Policy.Changes" in result.output and "(root)" in result.output
    assert dovecot.users[imap_user] not in result.output
    assert stored(db_sessions) == mails

    again = invoke("import", url, "--no-progress")
    assert again.exit_code == 0, again.output
    # Resumed by the cursor: nothing fetched, so not even duplicates to count.
    assert summary_counts(again.output, duplicates=0) == (0, 0)
    assert stored(db_sessions) == mails


def test_cli_import_interrupted_mid_fetch_then_rerun_stores_each_mail_once(
    invoke: Invoke,
    db_sessions: sessionmaker[Session],
    dovecot: DovecotServer,
    imap_user: str,
) -> None:
    mails = fill_account(dovecot, imap_user)
    with CuttingProxy(dovecot.port) as proxy:
        url = dovecot.url(imap_user, port=proxy.port)
        # The third FETCH (after the RFC822.SIZE one and mails 1-10: mails 11-20) is cut
        # 1.5 kB into its answer.
        proxy.cut_at_command(b" FETCH ", nth=3, then_bytes=1_500)
        result = invoke("import", url, "--no-progress")
        assert proxy.cuts == 1
        assert result.exit_code == 1
        assert "error: lost the connection to IMAP server" in result.output
        assert "Traceback" not in result.output
        assert stored(db_sessions) == mails[:10]  # the first batch was committed

        # The same command again (the cursor is kept per URL), the link healthy now.
        rerun = invoke("import", url, "--no-progress")
        assert proxy.cuts == 1
    assert rerun.exit_code == 0, rerun.output
    assert "40 mails" in rerun.output  # resumed after the committed batch
    assert summary_counts(rerun.output, duplicates=0)[0] >= 1
    assert stored(db_sessions) == mails


def summary_counts(output: str, *, duplicates: int) -> tuple[int, int]:
    """(imported, quarantined) from the import summary, checking the duplicates count."""
    match = re.search(r"imported (\d+), duplicates (\d+), quarantined (\d+)", output)
    assert match, output
    assert int(match.group(2)) == duplicates, output
    return int(match.group(1)), int(match.group(3))
