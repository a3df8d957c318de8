"""Importing an archive into the store, and turning its folders into weak labels.

:func:`run_import` drives a :class:`~labeling.importers.MailSource` through
:func:`labeling.store.ingest`, committing every ``batch_size`` mails, and for IMAP keeps a
per-folder cursor (the last stored UID) in the same transaction as the mails, so an
interrupted import resumes after the last committed mail.

:func:`label_from_folders` gives every mail in an archive folder the team the folder was
for, as an ``archive-folder`` annotation that people confirm or correct later.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import exists, func, insert, literal, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from labeling.errors import LabelingError
from labeling.imap import parse_imap_url
from labeling.importers import DEFAULT_MAX_MAIL_BYTES, MailSource, open_source
from labeling.store.db import refresh_statistics, store_error
from labeling.store.ingest import ingest
from labeling.store.privacy import drop_if_erased, erased_filter
from labeling.store.tables import (
    Annotation,
    AuditLog,
    ImportCursor,
    Message,
    Team,
    UtcDateTime,
    utcnow,
)

log = logging.getLogger(__name__)

# Quarantined mails listed by name in a summary; the rest are only counted.
MAX_QUARANTINE_EXAMPLES = 20


@dataclass
class FolderCounts:
    """What an import did with the mails of one source folder."""

    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0

    @property
    def total(self) -> int:
        return self.imported + self.duplicates + self.quarantined


@dataclass
class ImportSummary:
    """The outcome of :func:`run_import`. ``per_folder`` is keyed by folder ('' = root)."""

    source: str
    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    # Mails of people erased before (labeling.store.privacy): not stored again.
    erased: int = 0
    # Imported mails whose Message-ID the store already held for a different mail: kept,
    # and counted here so a person can look (a sender's bug, or a forgery).
    message_id_reused: int = 0
    per_folder: dict[str, FolderCounts] = field(default_factory=dict)
    # (where the mail came from, why it could not be read), the first few only.
    quarantine_examples: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.imported + self.duplicates + self.quarantined

    @property
    def rate(self) -> float:
        """Mails handled per second."""
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def _count(self, folder: str, outcome: str) -> None:
        counts = self.per_folder.setdefault(folder, FolderCounts())
        if outcome == "erased":
            self.erased += 1
        elif outcome == "imported":
            self.imported += 1
            counts.imported += 1
        elif outcome == "duplicate":
            self.duplicates += 1
            counts.duplicates += 1
        else:
            self.quarantined += 1
            counts.quarantined += 1


def imap_source_key(url: str) -> str:
    """The cursor key of an IMAP URL: scheme, user, host and port — no password, no folder.

    Parsed by :func:`labeling.imap.parse_imap_url`, so a URL it cannot read is a clear
    :class:`ImportSourceError` that shows no part of the password.
    """
    parsed = parse_imap_url(url)
    return f"{parsed.scheme}://{quote(parsed.user, safe='')}@{parsed.host.lower()}:{parsed.port}"


class ImportCursors:
    """The last imported UID per (folder, UIDVALIDITY) of one IMAP server and user.

    :meth:`start_after` is what an IMAP source asks before fetching a folder. The runner
    records progress with :meth:`advance` and writes it with :meth:`save` in the same
    transaction as the mails, so the cursor never runs ahead of what is stored.
    """

    def __init__(self, sessions: sessionmaker[Session], source_key: str) -> None:
        self.sessions = sessions
        self.source_key = source_key
        self._seen: dict[tuple[str, int], int] = {}
        self._unsaved: set[tuple[str, int]] = set()

    def start_after(self, folder: str, uidvalidity: int) -> int:
        """The last UID already stored from ``folder`` under ``uidvalidity`` (0: none)."""
        try:
            with self.sessions() as session:
                stored = session.scalar(
                    select(ImportCursor.last_uid).where(
                        ImportCursor.source_key == self.source_key,
                        ImportCursor.folder == folder,
                        ImportCursor.uidvalidity == uidvalidity,
                    )
                )
        except SQLAlchemyError as exc:
            raise store_error(exc, "reading the import cursor") from exc
        return max(stored or 0, self._seen.get((folder, uidvalidity), 0))

    def advance(self, folder: str, uidvalidity: int, uid: int) -> None:
        """Note that ``uid`` is stored (in the current, not yet committed, batch)."""
        key = (folder, uidvalidity)
        if uid > self._seen.get(key, 0):
            self._seen[key] = uid
            self._unsaved.add(key)

    def save(self, session: Session) -> None:
        """Write the advanced cursors into ``session``'s transaction."""
        for folder, uidvalidity in sorted(self._unsaved):
            uid = self._seen[(folder, uidvalidity)]
            row = session.scalar(
                select(ImportCursor).where(
                    ImportCursor.source_key == self.source_key,
                    ImportCursor.folder == folder,
                    ImportCursor.uidvalidity == uidvalidity,
                )
            )
            if row is None:
                session.add(
                    ImportCursor(
                        source_key=self.source_key,
                        folder=folder,
                        uidvalidity=uidvalidity,
                        last_uid=uid,
                    )
                )
            elif uid > row.last_uid:
                row.last_uid = uid
        self._unsaved.clear()


def run_import(
    sessions: sessionmaker[Session],
    source: MailSource | str,
    *,
    batch_size: int = 200,
    progress: bool | None = None,
    cursor_key: str | None = None,
    max_mail_bytes: int = DEFAULT_MAX_MAIL_BYTES,
) -> ImportSummary:
    """Import every mail of ``source`` (a source, or a path/URL for :func:`open_source`).

    Commits every ``batch_size`` mails; a failure or an interrupt loses at most the batch
    in progress, and running the import again skips what was stored (duplicates). For IMAP
    the per-folder UID cursor is kept under ``cursor_key`` (default: derived from the URL)
    and the source is asked to start after it. ``progress``: show a progress bar on
    stderr; None shows one when stderr is a terminal.

    Raises :class:`ImportSourceError` when the source cannot be read and
    :class:`StoreError` when the database fails. Unreadable mails are not errors: they are
    stored as quarantined and counted.
    """
    if isinstance(source, str):
        if cursor_key is None and "://" in source:
            cursor_key = imap_source_key(source)
        cursors = ImportCursors(sessions, cursor_key or source)
        source = open_source(
            source,
            batch_size=batch_size,
            start_after=cursors.start_after,
            max_mail_bytes=max_mail_bytes,
        )
    else:
        cursors = ImportCursors(sessions, cursor_key or source.description)

    if progress is None:
        progress = sys.stderr.isatty()
    summary = ImportSummary(source=source.description)
    started = time.monotonic()
    total = source.count() if progress else None
    bar = tqdm(
        total=total,
        desc="importing",
        unit="mail",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    session = sessions()
    pending = 0
    try:
        is_erased = erased_filter(session)
        for raw_mail in source:
            result = ingest(session, raw_mail, origin="archive")
            outcome: str = result.outcome
            if outcome == "imported" and drop_if_erased(session, result.message_id, is_erased):
                outcome = "erased"
            summary._count(raw_mail.folder, outcome)
            summary.message_id_reused += result.message_id_reused
            if result.outcome == "quarantined":
                log.info("quarantined %s: %s", raw_mail.source_ref, result.reason)
                if len(summary.quarantine_examples) < MAX_QUARANTINE_EXAMPLES:
                    summary.quarantine_examples.append((raw_mail.source_ref, result.reason))
            if raw_mail.uid is not None and raw_mail.uidvalidity is not None:
                cursors.advance(raw_mail.folder, raw_mail.uidvalidity, raw_mail.uid)
            pending += 1
            if pending >= batch_size:
                _commit(session, cursors)
                pending = 0
                bar.set_postfix(
                    new=summary.imported, dup=summary.duplicates, bad=summary.quarantined
                )
            bar.update(1)
        _commit(session, cursors)
        if summary.imported:
            refresh_statistics(session)
            session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise store_error(exc, "importing") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        bar.close()
    summary.seconds = time.monotonic() - started
    return summary


def _commit(session: Session, cursors: ImportCursors) -> None:
    cursors.save(session)
    session.commit()
    # The batch's rows are written; letting the session forget them keeps memory flat on
    # archives of any size.
    session.expunge_all()


# Weak labels from folders -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FolderLabels:
    """What :func:`label_from_folders` did for one folder."""

    folder: str
    team: str
    messages: int  # parsed ('ok') mails in the folder
    labelled: int  # archive-folder labels added now
    already_labelled: int  # mails that had an archive-folder label before


@dataclass(frozen=True, slots=True)
class WeakLabelSummary:
    """The outcome of :func:`label_from_folders`, one entry per mapped folder."""

    folders: tuple[FolderLabels, ...]

    @property
    def labelled(self) -> int:
        return sum(entry.labelled for entry in self.folders)

    @property
    def already_labelled(self) -> int:
        return sum(entry.already_labelled for entry in self.folders)


ARCHIVE_FOLDER = "archive-folder"


def label_from_folders(session: Session, mapping: Mapping[str, str]) -> WeakLabelSummary:
    """Label every parsed mail in each mapped folder with that folder's team.

    ``mapping`` is folder → team slug. Each mail gets one ``archive-folder`` annotation
    (no user); mails that already have one (even one a person has since superseded) are
    left alone, so running this again adds nothing.
    Quarantined mails are skipped. Everything is checked before anything is written:
    an unknown or archived team slug, or a folder with no mail in the store, raises
    :class:`LabelingError` naming the teams or folders that do exist.

    Adds the rows to ``session`` (flushed, not committed), with an audit-log entry per
    folder.
    """
    if not mapping:
        raise LabelingError("no folders to label; give at least one FOLDER=TEAM")
    teams = _teams_for(session, set(mapping.values()))
    _check_folders(session, set(mapping))

    entries = []
    for folder, slug in mapping.items():
        team = teams[slug]
        in_folder = (Message.source_folder == folder, Message.status == "ok")
        # Superseded labels count too: a person who undid a folder label must not see it
        # come back the next time this runs.
        has_label = exists().where(
            Annotation.message_id == Message.id, Annotation.source == ARCHIVE_FOLDER
        )
        messages = session.scalar(select(func.count(Message.id)).where(*in_folder)) or 0
        already = (
            session.scalar(select(func.count(Message.id)).where(*in_folder, has_label)) or 0
        )
        now = utcnow()
        # One INSERT … SELECT per folder: the database does the work, not a Python loop.
        new_labels = select(
            Message.id,
            literal(team.id),
            literal(ARCHIVE_FOLDER),
            literal(now, UtcDateTime()),
        ).where(*in_folder, ~has_label)
        session.execute(
            insert(Annotation).from_select(
                ["message_id", "team_id", "source", "created_at"], new_labels
            )
        )
        labelled = messages - already
        session.add(
            AuditLog(
                actor="system",
                action="label-from-folders",
                details={"folder": folder, "team": slug, "labelled": labelled},
            )
        )
        entries.append(FolderLabels(folder, slug, messages, labelled, already))
    session.flush()
    refresh_statistics(session)
    return WeakLabelSummary(tuple(entries))


def team_folder_mapping(session: Session) -> dict[str, str]:
    """Folder → team slug for every active team whose IMAP folder has mail in the store."""
    stored = set(session.scalars(select(Message.source_folder).distinct()))
    return {
        team.imap_folder: team.slug
        for team in session.scalars(
            select(Team).where(Team.archived_at.is_(None)).order_by(Team.id)
        )
        if team.imap_folder and team.imap_folder in stored
    }


def _teams_for(session: Session, slugs: set[str]) -> dict[str, Team]:
    teams = {team.slug: team for team in session.scalars(select(Team))}
    unknown = sorted(slugs - teams.keys())
    if unknown:
        known = ", ".join(sorted(teams)) or "none — run `mailroom teams sync` first"
        raise LabelingError(f"unknown team {', '.join(unknown)}; known teams: {known}")
    archived = sorted(slug for slug in slugs if teams[slug].archived_at is not None)
    if archived:
        raise LabelingError(f"team {', '.join(archived)} is archived; it takes no new labels")
    return {slug: teams[slug] for slug in slugs}


def _check_folders(session: Session, folders: set[str]) -> None:
    stored = set(session.scalars(select(Message.source_folder).distinct()))
    missing = sorted(folders - stored)
    if missing:
        listed = ", ".join(_show_folder(name) for name in sorted(stored)) or "none (import first)"
        raise LabelingError(
            f"no mail in folder {', '.join(map(_show_folder, missing))}; "
            f"folders in the store: {listed}"
        )


def _show_folder(name: str) -> str:
    return repr(name) if name else "'' (the root/inbox)"
