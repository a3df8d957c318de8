"""What one worker process builds once from the settings: database, model, senders.

Built lazily on first use (never at import) and shared by the process's task threads.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from labeling.errors import MailServerError
from labeling.settings import Settings
from labeling.store.db import make_engine, make_session_factory
from worker.driver import Services
from worker.model_cache import ModelCache
from worker.outgoing import ImapActions, SmtpSender
from worker.watchers import MailboxConfig, mailboxes_by_key


class Runtime:
    """Lazily built, process-wide services for ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._services: Services | None = None

    @property
    def engine(self) -> Engine:
        self.sessions  # noqa: B018 - builds the engine on first use
        assert self._engine is not None
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        with self._lock:
            if self._sessions is None:
                self._engine = make_engine(self.settings)
                # Nearly every unit of the worker's work writes (a transition, a lease).
                self._sessions = make_session_factory(self._engine, writes=True)
            return self._sessions

    def services(self) -> Services:
        """The pipeline's services (database, model, SMTP, IMAP) for this process."""
        sessions = self.sessions
        with self._lock:
            if self._services is None:
                settings = self.settings
                self._services = Services(
                    settings=settings,
                    sessions=sessions,
                    predictor=ModelCache(settings.models_path, settings.cache_path),
                    imap_actions=self._imap_actions,
                    smtp=SmtpSender(
                        settings.smtp_host,
                        settings.smtp_port,
                        username=settings.smtp_username,
                        password=settings.smtp_password,
                        starttls=settings.smtp_starttls,
                    ),
                    # Mailbox rows hold no passwords: the settings' URLs supply them.
                    mailboxes=mailboxes_by_key(settings),
                )
            return self._services

    def _imap_actions(self, config: MailboxConfig) -> ImapActions:
        if config.imap is None:
            raise MailServerError(f"{config.key} is not an IMAP mailbox", transient=False)
        return ImapActions(config.imap, timeout=self.settings.imap_timeout)

    def dispose(self) -> None:
        """Close the database pool (at shutdown)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
