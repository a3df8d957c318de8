"""Archive sources built in tmp_path: detection, folder names, laziness, clear errors."""

from __future__ import annotations

import mailbox
import sys
import types
from pathlib import Path

import pytest

from labeling.errors import ImportSourceError
from labeling.importers import MailSource, open_source
from labeling.importers.maildir import MaildirSource, find_maildirs
from labeling.importers.mbox import MboxSource
from labeling.importers.run import imap_source_key
from tests.support.mail_samples import make_mail, write_maildir_tree, write_mbox


def folders_and_ids(source: MailSource) -> list[tuple[str, bytes]]:
    """(folder, Message-ID header value) per mail, in source order."""
    result = []
    for mail in source:
        header = next(
            line for line in mail.raw.splitlines() if line.lower().startswith(b"message-id:")
        )
        result.append((mail.folder, header.split(b":", 1)[1].strip()))
    return result


def test_mbox_file(tmp_path: Path) -> None:
    path = tmp_path / "Schade.mbox"
    # A body line starting with "From " must not split the mail in two.
    mails = [make_mail("m1@x", body="From now on I pay monthly.\n"), make_mail("m2@x")]
    write_mbox(path, mails)

    source = open_source(str(path), batch_size=10)
    assert isinstance(source, MboxSource)
    assert source.count() == 2
    raws = list(source)
    assert [m.folder for m in raws] == ["Schade", "Schade"]
    assert raws[0].source_ref.endswith("Schade.mbox#1")
    assert b"m1@x" in raws[0].raw and b"m2@x" in raws[1].raw
    assert not raws[0].raw.startswith(b"From ")
    assert b"From now on" in raws[0].raw


def test_eml_folder_is_searched_recursively(tmp_path: Path) -> None:
    root = tmp_path / "export"
    (root / "Schade" / "2023").mkdir(parents=True)
    (root / "top.eml").write_bytes(make_mail("top@x"))
    (root / "Schade" / "a.EML").write_bytes(make_mail("a@x"))
    (root / "Schade" / "2023" / "b.eml").write_bytes(make_mail("b@x"))
    (root / "Schade" / "._a.eml").write_bytes(b"resource fork")
    (root / "notes.txt").write_text("not a mail")

    source = open_source(str(root), batch_size=10)
    assert source.count() == 3
    assert sorted(folders_and_ids(source)) == [
        ("", b"<top@x>"),
        ("Schade", b"<a@x>"),
        ("Schade/2023", b"<b@x>"),
    ]


def test_single_eml_file(tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(make_mail("one@x"))
    assert folders_and_ids(open_source(str(path), batch_size=1)) == [("", b"<one@x>")]


def test_maildir_plus_plus_tree(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    write_maildir_tree(
        root,
        {
            "": [make_mail("inbox@x")],
            "Schade": [make_mail("s@x")],
            "Schade.Auto": [make_mail("a@x")],
        },
    )
    source = open_source(str(root), batch_size=10)
    assert isinstance(source, MaildirSource)
    assert source.count() == 3
    assert folders_and_ids(source) == [
        ("", b"<inbox@x>"),
        ("Schade", b"<s@x>"),
        ("Schade.Auto", b"<a@x>"),
    ]


def test_nested_plain_maildirs_and_inbox(tmp_path: Path) -> None:
    root = tmp_path / "mail"
    root.mkdir()
    for name, mid in [("INBOX", "i@x"), ("Premie", "p@x"), ("Premie/2024", "p24@x")]:
        box = mailbox.Maildir(root / name, create=True)
        box.add(make_mail(mid))
        box.close()
    # A mail in cur/ (already read) counts as much as one in new/.
    box = mailbox.Maildir(root / "Premie", create=False)
    message = mailbox.MaildirMessage(make_mail("read@x"))
    message.set_subdir("cur")
    box.add(message)
    box.close()

    assert [name for name, _ in find_maildirs(root)] == ["", "Premie", "Premie/2024"]
    assert sorted(folders_and_ids(open_source(str(root), batch_size=10))) == [
        ("", b"<i@x>"),
        ("Premie", b"<p@x>"),
        ("Premie", b"<read@x>"),
        ("Premie/2024", b"<p24@x>"),
    ]


def test_maildir_url_is_a_path(tmp_path: Path) -> None:
    write_maildir_tree(tmp_path / "box", {"": [make_mail("u@x")]})
    source = open_source(f"maildir://{tmp_path / 'box'}", batch_size=1)
    assert isinstance(source, MaildirSource)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such file or folder"),
        (lambda p: _write(p / "empty.mbox", b""), "the file is empty"),
        (lambda p: _write(p / "notes.txt", b"hello\n"), "not an mbox file"),
        (lambda p: _mkdir(p / "nothing"), "no Maildir .* and no .eml files"),
    ],
)
def test_bad_paths_say_what_is_wrong(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImportSourceError, match=message):
        open_source(str(make(tmp_path)), batch_size=1)


def test_unsupported_url_scheme() -> None:
    with pytest.raises(ImportSourceError, match="unsupported URL scheme 'pop3'"):
        open_source("pop3://user@host/INBOX", batch_size=1)


def test_imap_urls_go_to_the_imap_source(monkeypatch: pytest.MonkeyPatch) -> None:
    made = {}

    class FakeImapSource:
        def __init__(self, url: str, *, batch_size: int, start_after=None, max_mail_bytes: int = 0) -> None:  # type: ignore[no-untyped-def]  # noqa: E501
            made.update(url=url, batch_size=batch_size, start_after=start_after)

    fake = types.ModuleType("labeling.importers.imap_source")
    fake.ImapSource = FakeImapSource  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "labeling.importers.imap_source", fake)

    def start_after(folder: str, uidvalidity: int) -> int:
        return 0

    for url in ("imap://u:p@127.0.0.1:1143/INBOX", "IMAPS://u@mail.example.nl/Archief"):
        source = open_source(url, batch_size=50, start_after=start_after)
        assert isinstance(source, FakeImapSource)
        assert made == {"url": url, "batch_size": 50, "start_after": start_after}


def test_imap_cursor_key_has_no_password_or_folder() -> None:
    assert imap_source_key("imap://info:geheim@127.0.0.1:1143/INBOX") == (
        "imap://info@127.0.0.1:1143"
    )
    assert imap_source_key("imaps://info:x@Mail.Example.NL/Archief") == (
        "imaps://info@mail.example.nl:993"
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    (path / "readme.txt").write_text("no mail here")
    return path
