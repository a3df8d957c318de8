"""ImapSource without a server: URL parsing, folder names, resumption, batching and the
translation of library errors, through the ``connect`` seam with a fake client."""

from __future__ import annotations

import imaplib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from labeling.errors import ImapError, ImportSourceError
from labeling.imap import parse_imap_url
from labeling.importers.imap_source import (
    ImapSource,
    Mailbox,
    folder_label,
    label_mailboxes,
)
from labeling.mail.values import RawMail

URL = "imap://alice:s3cret@mail.example:1143/"


@dataclass
class FakeFolder:
    uidvalidity: int
    mails: dict[int, bytes]
    flags: tuple[bytes, ...] = (b"\\HasNoChildren",)
    delimiter: bytes = b"."


@dataclass
class FakeClient:
    """The part of IMAPClient that ImapSource uses, with a server's answers and quirks.

    ``fail`` maps a method name to an exception raised when it is called (for ``fetch``,
    on the call numbered ``fail_fetch_at``, counted from 1).
    """

    folders: dict[str, FakeFolder]
    password: str = "s3cret"
    fail: dict[str, BaseException] = field(default_factory=dict)
    fail_fetch_at: int = 1
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    selected: str | None = None
    closed: bool = False

    def _maybe_fail(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    def login(self, user: str, password: str) -> bytes:
        self.calls.append(("login", user))
        self._maybe_fail("login")
        if password != self.password:
            # What imapclient raises for Dovecot's answer: the bytes' repr as the message.
            raise LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'")
        return b"Logged in"

    def list_folders(self) -> list[tuple[tuple[bytes, ...], bytes, str]]:
        self.calls.append(("list",))
        self._maybe_fail("list_folders")
        return [(f.flags, f.delimiter, name) for name, f in self.folders.items()]

    def select_folder(self, name: str, readonly: bool = False) -> dict[bytes, Any]:
        self.calls.append(("select", name, readonly))
        self._maybe_fail("select_folder")
        folder = self.folders[name]
        self.selected = name
        return {b"UIDVALIDITY": folder.uidvalidity, b"EXISTS": len(folder.mails)}

    def search(self, criteria: list[str]) -> list[int]:
        self.calls.append(("search", *criteria))
        assert criteria[0] == "UID"
        low = int(criteria[1].split(":")[0])
        uids = list(self.folders[self._current()].mails)
        found = [uid for uid in uids if uid >= low]
        # RFC 3501: `n:*` includes the highest UID even when it is below n.
        if not found and uids:
            found = [max(uids)]
        return list(reversed(found))  # servers owe no order: the source must sort

    def fetch(self, uids: list[int], data: list[str]) -> dict[int, dict[bytes, Any]]:
        if data == ["RFC822.SIZE"]:  # asked before fetching, so big mail is not fetched whole
            self.calls.append(("size", list(uids)))
            mails = self.folders[self._current()].mails
            return {uid: {b"RFC822.SIZE": len(mails[uid])} for uid in uids if uid in mails}
        self.calls.append(("fetch", list(uids), list(data)))
        fetches = sum(1 for c in self.calls if c[0] == "fetch")
        if fetches == self.fail_fetch_at:
            self._maybe_fail("fetch")
        mails = self.folders[self._current()].mails
        return {uid: {b"BODY[]": mails[uid], b"SEQ": 1} for uid in uids if uid in mails}

    def logout(self) -> bytes:
        self.calls.append(("logout",))
        self._maybe_fail("logout")
        self.closed = True
        return b"BYE"

    def shutdown(self) -> None:
        self.calls.append(("shutdown",))
        self.closed = True

    def _current(self) -> str:
        assert self.selected is not None, "command before SELECT"
        return self.selected

    def fetched_batches(self) -> list[list[int]]:
        return [c[1] for c in self.calls if c[0] == "fetch"]


def mails(uids: range | list[int], tag: str) -> dict[int, bytes]:
    return {uid: f"Subject: {tag} {uid}\r\n\r\nbody {uid}\r\n".encode() for uid in uids}


def account() -> dict[str, FakeFolder]:
    return {
        "Claims": FakeFolder(200, mails([3, 4, 9], "claims")),
        "INBOX": FakeFolder(100, mails(range(1, 8), "inbox")),
        "Archive": FakeFolder(300, {}, flags=(b"\\Noselect", b"\\HasChildren")),
        "Archive.2023": FakeFolder(400, mails([5], "old")),
        "Empty": FakeFolder(500, {}),
    }


def source(
    client: FakeClient,
    url: str = URL,
    *,
    batch_size: int = 3,
    start_after: Callable[[str, int], int] | None = None,
) -> ImapSource:
    return ImapSource(
        url,
        batch_size=batch_size,
        start_after=start_after,
        connect=lambda: cast(IMAPClient, client),
    )


# -- URLs ------------------------------------------------------------------------------


def test_url_parts_are_percent_decoded() -> None:
    url = parse_imap_url(
        "imap://info%40insurer.nl:p%40ss%3Aw%2Fd%23%3F%25@mail.local:1143/INBOX.Schade%20%26%20Claims"
    )
    assert (url.user, url.password) == ("info@insurer.nl", "p@ss:w/d#?%")
    assert (url.host, url.port, url.ssl) == ("mail.local", 1143, False)
    assert url.folder == "INBOX.Schade & Claims"


@pytest.mark.parametrize(
    ("url", "port", "ssl"),
    [("imap://u:p@host/INBOX", 143, False), ("imaps://u:p@host/INBOX", 993, True)],
)
def test_default_ports(url: str, port: int, ssl: bool) -> None:
    parsed = parse_imap_url(url)
    assert (parsed.port, parsed.ssl) == (port, ssl)


@pytest.mark.parametrize("url", ["imap://u:p@host", "imap://u:p@host/", "imap://u:p@host/*"])
def test_no_folder_means_every_folder(url: str) -> None:
    assert parse_imap_url(url).folder is None


def test_folder_path_keeps_slashes_and_ipv6_hosts_work() -> None:
    url = parse_imap_url("imaps://u:p@[::1]:1993/Archive/2023")
    assert (url.host, url.port, url.folder) == ("::1", 1993, "Archive/2023")
    assert url.redacted() == "imaps://u@[::1]:1993/Archive%2F2023"


def test_empty_password_is_allowed_when_written() -> None:
    assert parse_imap_url("imap://u:@host/").password == ""


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://u:p@host/INBOX", "imap:// or imaps://"),
        ("/var/mail/archive", "imap:// or imaps://"),
        ("imap:///INBOX", "no host"),
        ("imap://host/INBOX", "USER:PASSWORD"),
        ("imap://u@host/INBOX", "USER:PASSWORD"),
        ("imap://u:hunter2@host:99999/INBOX", "port must be a number"),
        ("imap://u:hunter2@host:abc/INBOX", "port must be a number"),
        ("imap://u:hunter2@host:0/INBOX", "port 0"),
        ("imap://u:hun#ter2@host/INBOX", "%23"),  # the '#' ends the authority early
        ("imap://u:hun/ter2@host/INBOX", "%2F"),
        ("imap://u:hunter2@host/INBOX#x", "%23"),
        ("imap://u:hunter2@host/INBOX?x=1", "%3F"),
    ],
)
def test_bad_urls_say_what_is_wrong_without_the_password(url: str, says: str) -> None:
    with pytest.raises(ImportSourceError, match=says) as caught:
        ImapSource(url, batch_size=10, connect=lambda: pytest.fail("must not connect"))
    assert "hunter2" not in str(caught.value)


def test_description_and_repr_hide_the_password() -> None:
    src = source(FakeClient(account()), "imap://info%40x.nl:hunter2@mail:1143/INBOX.Claims")
    assert src.description == "imap://info%40x.nl@mail:1143/INBOX.Claims"
    assert "hunter2" not in repr(src)
    assert source(FakeClient(account())).description == "imap://alice@mail.example:1143/"


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        ImapSource(URL, batch_size=0)


# -- folder names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "delimiter", "label"),
    [
        ("INBOX", ".", ""),
        ("Inbox", "/", ""),
        ("INBOX.Claims", ".", "Claims"),
        ("INBOX/Claims/Auto", "/", "Claims/Auto"),
        ("inbox.Claims", ".", "Claims"),
        ("Claims.Auto", ".", "Claims.Auto"),
        ("INBOXES", ".", "INBOXES"),
        ("INBOX.Claims", "/", "INBOX.Claims"),  # '.' is not this server's delimiter
        ("INBOX.Claims", None, "INBOX.Claims"),  # a flat server
    ],
)
def test_folder_label(name: str, delimiter: str | None, label: str) -> None:
    assert folder_label(name, delimiter) == label


def test_labels_never_collide_and_inbox_comes_first() -> None:
    listing: list[tuple[str, str | None]] = [
        ("Zeta", "."),
        ("INBOX.Claims", "."),
        ("Claims", "."),
        ("INBOX", "."),
    ]
    assert label_mailboxes(listing) == [
        Mailbox("INBOX", ""),
        Mailbox("Claims", "Claims"),
        Mailbox("INBOX.Claims", "INBOX.Claims"),
        Mailbox("Zeta", "Zeta"),
    ]


# -- reading ---------------------------------------------------------------------------


def test_reads_every_selectable_folder_in_uid_order_read_only() -> None:
    client = FakeClient(account())
    got = list(source(client))
    assert [(m.folder, m.uid) for m in got] == [
        *(("", uid) for uid in range(1, 8)),
        ("Archive.2023", 5),
        ("Claims", 3),
        ("Claims", 4),
        ("Claims", 9),
    ]
    first = got[0]
    assert first.raw == account()["INBOX"].mails[1]
    assert (first.source_ref, first.uidvalidity) == (":100:1", 100)
    assert got[-1].source_ref == "Claims:200:9"
    selects = [c for c in client.calls if c[0] == "select"]
    assert selects and all(readonly for _, _, readonly in selects)
    assert "Archive" not in {name for _, name, _ in selects}  # \Noselect
    fetch_items = {tuple(c[2]) for c in client.calls if c[0] == "fetch"}
    assert fetch_items == {("BODY.PEEK[]",)}  # never sets \Seen
    assert client.closed


def test_fetches_in_batches_of_batch_size() -> None:
    client = FakeClient({"INBOX": FakeFolder(1, mails(range(1, 11), "m"))})
    assert len(list(source(client, batch_size=4))) == 10
    assert client.fetched_batches() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]


def test_one_folder_from_the_url() -> None:
    client = FakeClient(account())
    got = list(source(client, "imap://alice:s3cret@mail.example:1143/Claims"))
    assert [(m.folder, m.uid) for m in got] == [("Claims", 3), ("Claims", 4), ("Claims", 9)]


def test_inbox_in_the_url_is_case_insensitive() -> None:
    got = list(source(FakeClient(account()), "imap://alice:s3cret@h/inbox"))
    assert {m.folder for m in got} == {""} and len(got) == 7


def test_unknown_folder_names_the_folders_there_are() -> None:
    with pytest.raises(ImapError, match=r"'Claimz'.*Claims") as caught:
        list(source(FakeClient(account()), "imap://alice:s3cret@h/Claimz"))
    assert caught.value.transient is False


def test_resumes_after_the_uid_start_after_returns() -> None:
    asked: list[tuple[str, int]] = []

    def start_after(folder: str, uidvalidity: int) -> int:
        asked.append((folder, uidvalidity))
        return {("", 100): 4, ("Claims", 200): 3}.get((folder, uidvalidity), 0)

    client = FakeClient(account())
    src = source(client, start_after=start_after)
    assert src.count() == 3 + 1 + 2
    got = [(m.folder, m.uid) for m in src]
    assert got == [("", 5), ("", 6), ("", 7), ("Archive.2023", 5), ("Claims", 4), ("Claims", 9)]
    assert ("", 100) in asked and ("Claims", 200) in asked
    assert ("search", "UID", "5:*") in client.calls


def test_n_star_quirk_finished_folder_yields_nothing() -> None:
    # Everything imported: `UID 10:*` still answers UID 9, which must not come back.
    client = FakeClient({"Claims": account()["Claims"]})
    src = source(client, start_after=lambda folder, uidvalidity: 9)
    assert src.count() == 0
    assert list(src) == []
    assert client.fetched_batches() == []


def test_a_new_uidvalidity_is_asked_for_separately() -> None:
    # The caller keys its cursor by UIDVALIDITY; a renumbered folder is read from the start.
    seen = {("", 99): 7}  # cursor from before the server renumbered INBOX (now 100)
    src = source(FakeClient(account()), start_after=lambda f, v: seen.get((f, v), 0))
    assert [m.uid for m in src if m.folder == ""] == list(range(1, 8))


def test_mail_expunged_between_search_and_fetch_is_skipped() -> None:
    client = FakeClient({"INBOX": FakeFolder(1, mails([1, 2, 3], "m"))})
    original_fetch = client.fetch

    def fetch_after_expunge(uids: list[int], data: list[str]) -> dict[int, dict[bytes, Any]]:
        client.folders["INBOX"].mails.pop(2, None)
        return original_fetch(uids, data)

    client.fetch = fetch_after_expunge  # type: ignore[method-assign]
    assert [m.uid for m in source(client)] == [1, 3]


def test_stopping_early_logs_out() -> None:
    client = FakeClient(account())
    iterator = iter(source(client, batch_size=2))
    next(iterator)
    iterator.close()  # type: ignore[attr-defined]
    assert client.closed


# -- errors ----------------------------------------------------------------------------


def test_wrong_password_is_a_clear_permanent_error() -> None:
    client = FakeClient(account(), password="other")
    with pytest.raises(ImapError) as caught:
        list(source(client))
    message = str(caught.value)
    assert "refused the login of user 'alice'" in message
    assert "[AUTHENTICATIONFAILED] Authentication failed" in message
    assert "b'" not in message and "s3cret" not in message
    assert caught.value.transient is False
    assert client.closed


def test_server_unavailable_at_login_is_transient() -> None:
    client = FakeClient(account())
    client.fail["login"] = LoginError("b'[UNAVAILABLE] Temporary authentication failure.'")
    with pytest.raises(ImapError) as caught:
        source(client).count()
    assert caught.value.transient is True


def test_connection_dropped_during_login_is_transient_not_a_refusal() -> None:
    # imapclient re-raises any failure inside LOGIN as LoginError, a dropped link included;
    # the error it was raised from (its __context__) tells the two apart.
    dropped = LoginError("command: LOGIN => socket error: EOF")
    dropped.__context__ = imaplib.IMAP4.abort("command: LOGIN => socket error: EOF")
    client = FakeClient(account(), fail={"login": dropped})
    with pytest.raises(ImapError, match="lost the connection") as caught:
        list(source(client))
    assert caught.value.transient is True


@pytest.mark.parametrize(
    "error",
    [
        imaplib.IMAP4.abort("socket error: EOF"),
        imaplib.IMAP4.abort("command: FETCH => Server shutting down."),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
        BrokenPipeError(32, "Broken pipe"),
    ],
)
def test_connection_lost_mid_fetch_is_transient(error: BaseException) -> None:
    client = FakeClient(account(), fail={"fetch": error}, fail_fetch_at=2)
    src = source(client, batch_size=3)
    got: list[RawMail] = []
    with pytest.raises(ImapError) as caught:
        got.extend(src)
    assert len(got) == 3  # the first batch arrived before the cut
    assert caught.value.transient is True
    assert "mail.example:1143" in str(caught.value)
    assert isinstance(caught.value.__cause__, type(error))
    assert client.closed  # logout failed or not, the socket is closed


def test_logout_failing_after_a_drop_does_not_hide_the_error() -> None:
    client = FakeClient(
        account(),
        fail={
            "fetch": imaplib.IMAP4.abort("socket error: EOF"),
            "logout": imaplib.IMAP4.abort("socket error: EOF"),
        },
    )
    with pytest.raises(ImapError, match="lost the connection"):
        list(source(client))
    assert ("shutdown",) in client.calls


def test_server_refusing_a_command_is_permanent() -> None:
    error = imaplib.IMAP4.error("select failed: Mailbox doesn't exist: Claims")
    client = FakeClient(account(), fail={"select_folder": error})
    with pytest.raises(ImapError, match="Mailbox doesn't exist") as caught:
        list(source(client))
    assert caught.value.transient is False


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        socket.gaierror(-2, "Name or service not known"),
    ],
)
def test_cannot_connect_is_transient(error: OSError) -> None:
    def connect() -> IMAPClient:
        raise error

    src = ImapSource(URL, batch_size=5, connect=connect)
    with pytest.raises(ImapError, match=r"cannot talk to IMAP server mail\.example:1143") as caught:
        src.count()
    assert caught.value.transient is True


def test_errors_from_start_after_are_not_disguised_as_imap_errors() -> None:
    def broken(folder: str, uidvalidity: int) -> int:
        raise LookupError("store is gone")

    with pytest.raises(LookupError):
        list(source(FakeClient(account()), start_after=broken))
