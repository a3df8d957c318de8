"""Mailroom's one exception tree.

Every error our code raises on purpose is a ``MailroomError``; library errors (email,
imaplib/imapclient, smtplib, SQLAlchemy, torch) are translated into one of these where they
enter our code, with a message that tells the user what to do::

    MailroomError
    ├── ConfigError            a setting is missing or has a bad value
    ├── MailParseError         raw bytes that cannot be read as a mail (quarantine reason)
    ├── ImportSourceError      an archive path or URL that cannot be read
    ├── StoreError             the database refused or is unreachable
    │   └── MigrationError     the schema is behind or ahead of the code
    ├── LabelingError          a labelling action that is not allowed (archived team,
    │                          quarantined or unknown mail, unknown user, wrong role)
    ├── RuleError              an admin rule that cannot be saved (no condition, unknown
    │                          team, a bad value in the form or the TOML file)
    ├── MailServerError        a mail server failed or refused
    │   ├── ImapError
    │   └── SmtpError
    │       (``transient`` says whether a retry may succeed)
    └── ModelError             a model version is missing, corrupt or cannot be built

Classes live here so that every package can catch them without importing the others.
"""

from __future__ import annotations


class MailroomError(Exception):
    """Base of every error Mailroom raises on purpose."""


class ConfigError(MailroomError):
    """A setting is missing or invalid; the message names the variable and how to fix it."""


class MailParseError(MailroomError):
    """Raw bytes could not be read as a mail. ``reason`` is stored as the quarantine reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportSourceError(MailroomError):
    """An archive to import (file, folder, URL) cannot be read."""


class StoreError(MailroomError):
    """The mail store (database) failed. ``locked``: another writer held a lock past the
    busy timeout (SQLite "database is locked", a PostgreSQL lock or serialisation
    failure): trying again shortly will do; people get 503 with Retry-After, logs a
    warning."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


class MigrationError(StoreError):
    """The database schema does not match the code."""


class LabelingError(MailroomError):
    """A label, skip, adjudication or score that cannot be recorded; the message says why.

    Raised before anything is written: for an archived or unknown team, a quarantined or
    unknown message, an unknown or inactive user, or a person without the needed role.
    """


class RuleError(MailroomError):
    """An admin rule that cannot be saved or tried; the message names the field and why."""


class MailServerError(MailroomError):
    """A mail server failed. ``transient`` is True when retrying later may succeed."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class ImapError(MailServerError):
    """The IMAP server refused, dropped the connection, or answered nonsense."""


class SmtpError(MailServerError):
    """The SMTP server refused or dropped the connection."""


class ModelError(MailroomError):
    """A model version is missing, corrupt, or its base encoder cannot be built."""
