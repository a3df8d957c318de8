"""Passwords masked wherever settings or URLs are shown, and read from files."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.errors import ConfigError
from labeling.imap import lacks_password, parse_imap_url, with_password
from labeling.masking import mask_url
from labeling.settings import load_settings, masked


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("imap://u:p/a#s@s@host:143/INBOX", "imap://u:***@host:143/INBOX"),
        ("redis://:secret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql+psycopg://me:pw@db/x", "postgresql+psycopg://me:***@db/x"),
        ("imap://user@host/INBOX", "imap://user@host/INBOX"),
        ("sqlite:////var/lib/mailroom.sqlite3", "sqlite:////var/lib/mailroom.sqlite3"),
        ("maildir:///srv/inbox", "maildir:///srv/inbox"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_masked_settings() -> None:
    assert masked("smtp_password", "geheim") == "'***'"
    assert masked("smtp_password", None) == "None"
    assert masked("mailboxes", ["imap://a:b@h/I"]) == "['imap://a:***@h/I']"
    assert masked("poll_interval", 5.0) == "5.0"


def test_secret_settings_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "db"
    secret.write_text("postgresql+psycopg://me:pa%2Fss@127.0.0.1/x\n")
    settings = load_settings({"MAILROOM_DATABASE_URL_FILE": str(secret)}, instance_path=tmp_path)
    assert settings.database_url == "postgresql+psycopg://me:pa%2Fss@127.0.0.1/x"
    both = {"MAILROOM_DATABASE_URL_FILE": str(secret), "MAILROOM_DATABASE_URL": "sqlite://"}
    with pytest.raises(ConfigError, match="not both"):
        load_settings(both, instance_path=tmp_path)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        load_settings({"MAILROOM_SMTP_PASSWORD_FILE": str(tmp_path / "empty")})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"MAILROOM_SMTP_PASSWORD_FILE": str(tmp_path / "missing")})
    with pytest.raises(ConfigError, match="unknown setting MAILROOM_POLL_INTERVAL_FILE"):
        load_settings({"MAILROOM_POLL_INTERVAL_FILE": str(secret)})


def test_a_bad_mailbox_url_is_reported_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"MAILROOM_MAILBOXES": "pop3://u:topsecret@h/"})
    assert "topsecret" not in str(caught.value) and "pop3://u:***@h/" in str(caught.value)


def test_import_password_goes_into_the_url_in_memory() -> None:
    assert lacks_password("imap://info%40example.nl@host:1143/INBOX")
    assert not lacks_password("imap://u:p@host/INBOX")
    assert not lacks_password("imap://host/INBOX")
    assert not lacks_password("/srv/archive.mbox")
    url = with_password("imap://info%40example.nl@host:1143/INBOX", "a/b#c@d:e")
    parsed = parse_imap_url(url)
    assert (parsed.user, parsed.password, parsed.folder) == (
        "info@example.nl",
        "a/b#c@d:e",
        "INBOX",
    )
