"""The settings object: defaults, environment, file, and messages for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.errors import ConfigError
from labeling.settings import load_settings, settings_table


def test_defaults_use_the_embedded_backends(tmp_path: Path) -> None:
    settings = load_settings({"MAILROOM_INSTANCE_PATH": str(tmp_path)})
    assert settings.instance_path == tmp_path.resolve()
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path.resolve()}/mailroom.sqlite3"
    assert settings.celery_broker_url.startswith("sqla+sqlite:///")
    assert settings.outgoing == "maildir"
    assert settings.model == "e5-small"
    assert settings.target_precision == 0.98
    assert settings.mailboxes == []


def test_relative_instance_path_is_made_absolute() -> None:
    settings = load_settings({"MAILROOM_INSTANCE_PATH": "some/where"})
    assert settings.instance_path.is_absolute()


def test_environment_values_are_parsed_to_their_types() -> None:
    settings = load_settings(
        {
            "MAILROOM_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/mailroom",
            "MAILROOM_SMTP_PORT": "2525",
            "MAILROOM_SMTP_STARTTLS": "true",
            "MAILROOM_TARGET_PRECISION": "0.95",
            "MAILROOM_MAILBOXES": "imap://info:pw@127.0.0.1:1143/INBOX, maildir:///srv/mail/claims",
        }
    )
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")
    assert settings.smtp_port == 2525
    assert settings.smtp_starttls is True
    assert settings.target_precision == 0.95
    assert settings.mailboxes == [
        "imap://info:pw@127.0.0.1:1143/INBOX",
        "maildir:///srv/mail/claims",
    ]


def test_other_variables_are_ignored() -> None:
    settings = load_settings({"HOME": "/root", "DATABASE_URL": "mysql://nope"})
    assert settings.database_url is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MAILROOM_TARGET_PRECISION", "1.5", "MAILROOM_TARGET_PRECISION"),
        ("MAILROOM_SMTP_PORT", "seventy", "MAILROOM_SMTP_PORT"),
        ("MAILROOM_MAILBOXES", "info@example.org", "imap://user:pass@host:port/FOLDER"),
        ("MAILROOM_DATABASE_URL", "mysql://root@localhost/x", "PostgreSQL"),
        ("MAILROOM_OUTGOING", "pigeon", "MAILROOM_OUTGOING"),
        ("MAILROOM_PUBLIC_URL", "mailroom.example", "MAILROOM_PUBLIC_URL"),
        ("MAILROOM_RETRAIN_MIN_NEW_LABELS", "0", "MAILROOM_RETRAIN_MIN_NEW_LABELS"),
    ],
)
def test_bad_values_name_the_variable_and_the_fix(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: value})
    assert expected in str(caught.value)


def test_unknown_mailroom_variable_is_an_error_listing_known_ones() -> None:
    expected = r"unknown setting MAILROOM_DATABSE_URL.*MAILROOM_DATABASE_URL"
    with pytest.raises(ConfigError, match=expected):
        load_settings({"MAILROOM_DATABSE_URL": "sqlite://"})


def test_settings_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    toml = tmp_path / "mailroom.toml"
    toml.write_text('smtp_host = "mail.example.org"\nsmtp_port = 587\n', encoding="utf-8")
    settings = load_settings({"MAILROOM_SETTINGS_FILE": str(toml), "MAILROOM_SMTP_PORT": "2525"})
    assert settings.smtp_host == "mail.example.org"
    assert settings.smtp_port == 2525


def test_missing_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings({"MAILROOM_SETTINGS_FILE": str(tmp_path / "absent.toml")})


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(ValueError):
        settings.smtp_port = 26  # type: ignore[misc]


def test_every_setting_is_documented() -> None:
    for variable, _default, description in settings_table():
        assert variable.startswith("MAILROOM_")
        assert description, f"{variable} has no description"
