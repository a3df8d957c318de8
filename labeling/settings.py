"""The one settings object.

Built once, by :func:`load_settings`, from ``MAILROOM_*`` environment variables and an
optional TOML file (``MAILROOM_SETTINGS_FILE``); environment variables win over the file.
Nothing else in Mailroom reads ``os.environ``: code receives a :class:`Settings`.
Every field is documented in the README's settings table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from labeling.errors import ConfigError
from labeling.mail.pseudonymise import DEFAULT_KEEP, DEFAULT_ORG_PATTERNS
from labeling.masking import mask_url

if TYPE_CHECKING:
    from labeling.mail.pseudonymise import Pseudonymiser

ENV_PREFIX = "MAILROOM_"


class Settings(BaseSettings):
    """Typed, validated, frozen settings. Construct with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        env_ignore_empty=True,
    )

    instance_path: Path = Field(
        default=Path("instance"),
        description="Folder for the SQLite database, models, caches and local mail folders.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file mailroom.sqlite3 in the instance folder. "
        "PostgreSQL: postgresql+psycopg://user@127.0.0.1:5432/mailroom",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker URL. Default: a SQLite-backed broker in the instance folder "
        "(no server). Production: redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1//",
    )
    secret_key: str | None = Field(
        default=None,
        description="Flask session key. Default: a random key kept in the instance folder.",
    )
    mailboxes: list[str] = Field(
        default_factory=list,
        description="Live mailboxes to watch, comma separated: imap://user:pass@host:port/INBOX "
        "or maildir:///path/to/inbox. Default: the instance folder's maildir inbox.",
    )
    outgoing: Literal["maildir", "smtp", "imap-move"] = Field(
        default="maildir",
        description="How routed mail leaves: per-team Maildir folders (embedded default), "
        "SMTP forward, or an IMAP move into the team's folder.",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server for forwards.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if needed.")
    smtp_password: str | None = Field(default=None, description="SMTP password, if needed.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS on the SMTP link.")
    smtp_from: str = Field(
        default="mailroom@localhost", description="Envelope sender of forwarded mail."
    )
    inbox_addresses: list[str] = Field(
        default_factory=list,
        description="The watched mailboxes' own addresses (info@…), comma separated. Mail "
        "from them, or from MAILROOM_SMTP_FROM, is a loop and is never forwarded; a team "
        "address may be none of them. IMAP user names that are addresses count already.",
    )
    sender_rate_limit: int = Field(
        default=20,
        ge=0,
        description="Mails one sender may send within an hour before the next goes to a "
        "person instead of the model (a probable loop with a machine that says nothing). "
        "0: no limit.",
    )
    public_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s]+)?$",
        description="The web app's address as teams reach it (https://mailroom.example). "
        "When set, each forward carries a link to send a misrouted mail back to review.",
    )
    forward_mode: Literal["attach", "resend"] = Field(
        default="attach",
        description="SMTP forwards: 'attach' sends a new mail with the original attached "
        "as message/rfc822; 'resend' sends the original itself with Resent-* headers.",
    )
    processed_folder: str = Field(
        default="",
        description="IMAP folder that routed mail is moved into once forwarded. Empty: the "
        "mail stays where it is, flagged $MailroomRouted and \\Seen.",
    )
    review_folder: str = Field(
        default="",
        description="IMAP folder that mail waiting for a person is moved into. Empty: it "
        "stays where it is, flagged $MailroomReview.",
    )
    poll_interval: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Seconds between checks of a mailbox whose server offers no IDLE, and "
        "of the local Maildir inbox.",
    )
    idle_timeout: float = Field(
        default=60.0,
        gt=0,
        le=1740,
        description="Seconds one IMAP IDLE may last before the watcher re-checks the "
        "folder and renews its lease (RFC 2177: under 29 minutes).",
    )
    imap_timeout: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="Seconds one IMAP connect or read may take before the connection counts "
        "as lost and is tried again (mailbox watchers and the worker's IMAP flag and move).",
    )
    worker_concurrency: int = Field(
        default=4, ge=1, le=64, description="Tasks one worker process runs at once."
    )
    task_max_retries: int = Field(
        default=8,
        ge=0,
        le=100,
        description="Retries of a mail after a transient IMAP, SMTP or database error, "
        "with exponential backoff; after the last one the mail is quarantined for a person.",
    )
    retry_backoff_max: float = Field(
        default=300.0, gt=0, description="Longest wait between two retries, in seconds."
    )
    claim_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a worker may take to send one forward before another worker "
        "presumes it dead and sends again (with the same Message-ID). Keep it above the "
        "SMTP timeout.",
    )
    api_rate_limit: int = Field(
        default=120,
        ge=1,
        le=100_000,
        description="Requests per minute one API token may make on /api/v1 (per web "
        "process); more get 429 with Retry-After.",
    )
    api_max_text_chars: int = Field(
        default=100_000,
        ge=1_000,
        le=10_000_000,
        description="Longest ticket or classify text /api/v1 accepts, in characters; "
        "longer gets 413.",
    )
    sweep_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between sweeps that re-queue live mail stuck in a state "
        "(a lost task, a killed worker, a broker restart).",
    )
    broker_visibility_timeout: float = Field(
        default=900.0,
        gt=0,
        description="Redis broker: seconds before a task taken by a worker that died is "
        "handed to another worker.",
    )
    lease_ttl: float = Field(
        default=30.0,
        gt=1,
        description="Seconds a mailbox watcher's lease lasts without renewal; another "
        "worker takes the mailbox over after that.",
    )
    worker_watch: bool = Field(
        default=True,
        description="Whether a worker process also watches the mailboxes (one watcher per "
        "mailbox across all workers, by lease). False: it only runs tasks.",
    )
    fault_pause_after_send: float = Field(
        default=0.0,
        ge=0,
        description="Fault tests only: seconds a worker sleeps after the SMTP server "
        "accepted a forward and before recording it. Leave 0.",
    )
    retrain_min_new_labels: int = Field(
        default=50,
        ge=1,
        description="Person labels (labelling, review corrections, adjudications) needed "
        "since the last training before the worker's schedule retrains.",
    )
    retrain_interval: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between the worker's checks whether enough new labels "
        "arrived to retrain.",
    )
    retrain_timeout: float = Field(
        default=7200.0,
        gt=0,
        description="Seconds a scheduled retrain may run before it is stopped.",
    )
    retrain_time_budget: float = Field(
        default=1200.0,
        ge=0,
        description="Seconds of fine-tuning in `mailroom retrain` (and so in the worker's "
        "scheduled retrain) unless --time-budget says otherwise: the steps are planned to "
        "fit. 0: no budget, train every epoch (on 2 CPU cores about 35 minutes for the "
        "demo's labels). Keep it well under MAILROOM_RETRAIN_TIMEOUT.",
    )
    model: str = Field(
        default="e5-small",
        description="Base encoder: e5-small (multilingual, default), minilm (fast, English), "
        "or a path to a transformers model folder.",
    )
    target_precision: float = Field(
        default=0.98,
        gt=0.5,
        lt=1.0,
        description="Precision that auto-routed mail must reach, certified on the verified "
        "sample with probability 0.9; lower-confidence mail goes to review. The default for "
        "new model versions: an admin re-thresholds the active one from its page or with "
        "`mailroom models thresholds --target`.",
    )
    max_unknown_share: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description="The largest share of live mail that belongs to no team the precision "
        "must hold for, when mail closed as 'no team' gives examples of it (0: unknown mail "
        "counts in the share calibration saw). The dashboard shows the share people see.",
    )
    min_labels_for_transformer: int = Field(
        default=200,
        ge=0,
        description="Below this many labelled mails the TF-IDF model serves alone; the "
        "transformer is fine-tuned from this many on.",
    )
    import_batch_size: int = Field(
        default=200, ge=1, le=10_000, description="Messages fetched per IMAP round trip."
    )
    max_mail_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=64 * 1024,
        le=25 * 1024 * 1024,
        description="Largest mail, in bytes, read whole from a mailbox or an archive (the "
        "size is asked before fetching); a larger one is stored quarantined with the reason "
        "and only its headers, for a person to handle in the mailbox. It also bounds the "
        "bytes one IMAP fetch holds. At most 26214400, the parser's own limit.",
    )
    double_label_share: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Share of archive mails (0..1) that two different people label, so "
        "agreement between labellers can be measured. Raising it keeps the mails already "
        "chosen and adds more.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level."
    )
    pseudonymise_reviewers: bool = Field(
        default=False,
        description="Reviewers see mail pseudonymised too, as labellers always do (names, "
        "addresses, numbers as [NAAM-1], [IBAN-1] …). Admins see the original.",
    )
    pseudonymise_patterns: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ORG_PATTERNS),
        description="The organisation's own numbers to pseudonymise, as JSON: placeholder "
        'label → regular expression ({"POLIS": "PZ-\\d{8}"}); a group named value narrows '
        "the match. Only bounded repeats, none nested (linear time). Default: the demo "
        "insurer's policy, claim, quote, invoice and customer numbers.",
    )
    pseudonymise_keep: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEEP),
        description="Values never pseudonymised, comma separated: the organisation's own "
        "name, phone numbers, addresses. Default: the demo insurer's.",
    )
    session_idle_minutes: float = Field(
        default=60.0,
        gt=0,
        le=24 * 60,
        description="Minutes without a request after which a login session ends.",
    )
    session_max_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="Hours after login at which a session ends however active it is.",
    )
    trusted_proxies: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Reverse proxies in front of the web app whose X-Forwarded-For, "
        "-Proto and -Host are believed (werkzeug ProxyFix), so login throttling sees each "
        "client's own address. 0: no proxy; the connection's address counts.",
    )
    login_attempts_per_account: int = Field(
        default=5,
        ge=1,
        description="Failed logins of one account from one client address within "
        "MAILROOM_LOGIN_WINDOW_SECONDS before that address must wait (other addresses, and "
        "the right password from them, are not affected).",
    )
    login_attempts_per_client: int = Field(
        default=30,
        ge=1,
        description="Failed logins from one client address, any accounts, within the window "
        "before that address must wait (password spraying).",
    )
    login_window_seconds: float = Field(
        default=300.0, gt=0, description="The window failed logins are counted in."
    )
    import_password: str | None = Field(
        default=None,
        description="Password for `mailroom import imap://user@host/...` when the URL has "
        "none (else it is asked for); never put a password on a command line.",
    )
    retention_days: int = Field(
        default=90,
        ge=0,
        description="Days the raw bytes of a routed live mail are kept after it arrived; "
        "then they, its HTML and its addresses are dropped and its text is kept "
        "pseudonymised (the worker's beat checks hourly). 0: kept for ever. Mail still in "
        "review or quarantined is kept.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings() reads the environment itself and passes MAILROOM_* values as init
        # values, so a caller (a test) can hand in its own environment mapping.
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        toml_file = _SETTINGS_FILE_CONTEXT.get("file")
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @field_validator("mailboxes", "inbox_addresses", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("mailboxes")
    @classmethod
    def _check_mailbox_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("imap://", "imaps://", "maildir://")):
                raise ValueError(
                    f"{mask_url(url)!r} is not a mailbox URL; use "
                    "imap://user:pass@host:port/FOLDER, "
                    "imaps://… or maildir:///absolute/path"
                )
        return value

    @field_validator("inbox_addresses")
    @classmethod
    def _check_inbox_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an address; write info@example.org")
        return [address.lower() for address in value]

    @field_validator("pseudonymise_patterns", mode="before")
    @classmethod
    def _parse_patterns(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc}); write {{\"LABEL\": \"pattern\"}}") from None
        return value

    @field_validator("pseudonymise_patterns")
    @classmethod
    def _check_patterns(cls, value: dict[str, str]) -> dict[str, str]:
        from labeling.mail.pseudonymise import check_label, check_linear

        for label, pattern in value.items():
            check_label(label)
            check_linear(pattern)
        return value

    @field_validator("pseudonymise_keep", mode="before")
    @classmethod
    def _split_keep(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "only SQLite (sqlite:///path) and PostgreSQL (postgresql+psycopg://…) are supported"
            )
        return value

    @model_validator(mode="after")
    def _check_retrain_budget(self) -> Settings:
        # Fine-tuning is only part of a retrain (loading, scoring the holdout, re-scoring):
        # a budget that fills the timeout would have every scheduled retrain stopped.
        if self.retrain_time_budget and self.retrain_time_budget > self.retrain_timeout / 2:
            raise ValueError(
                f"retrain_time_budget ({self.retrain_time_budget:.0f} s) must be at most half "
                f"of retrain_timeout ({self.retrain_timeout:.0f} s): lower the budget or raise "
                "MAILROOM_RETRAIN_TIMEOUT"
            )
        return self

    @model_validator(mode="after")
    def _resolve_instance(self) -> Settings:
        # The instance folder is made absolute once, so every derived path agrees.
        object.__setattr__(self, "instance_path", self.instance_path.expanduser().resolve())
        return self

    # Derived values ---------------------------------------------------------------

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_path / 'mailroom.sqlite3'}"

    @property
    def celery_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{self.instance_path / 'broker.sqlite3'}"

    @property
    def models_path(self) -> Path:
        return self.instance_path / "models"

    @property
    def cache_path(self) -> Path:
        return self.instance_path / "cache"

    @property
    def maildir_inbox(self) -> Path:
        return self.instance_path / "mail" / "inbox"

    @property
    def maildir_outbox(self) -> Path:
        return self.instance_path / "mail" / "teams"

    def own_addresses(self) -> frozenset[str]:
        """Mailroom's own addresses, lower case: the SMTP sender, the watched inboxes' own
        addresses and IMAP user names that are addresses. Mail from one is a loop; a team
        address may not be one."""
        from urllib.parse import unquote, urlsplit

        users = [
            unquote(urlsplit(url).username or "")
            for url in self.mailboxes
            if url.startswith(("imap://", "imaps://"))
        ]
        found = {self.smtp_from, *self.inbox_addresses, *users}
        return frozenset(a.strip().lower() for a in found if "@" in a and " " not in a.strip())

    def pseudonymiser(self) -> Pseudonymiser:
        """The pseudonymiser for these settings (built once per process)."""
        from labeling.mail.pseudonymise import pseudonymiser_for

        return pseudonymiser_for(self.pseudonymise_patterns, self.pseudonymise_keep)


# pydantic-settings builds sources from a classmethod; the file path reaches it through this
# module-level slot, set only for the duration of one load_settings() call.
_SETTINGS_FILE_CONTEXT: dict[str, Path | None] = {"file": None}


def load_settings(
    environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build the settings from ``environ`` (default: the process environment) and overrides.

    Raises :class:`ConfigError` with one line per bad value, naming the variable.
    """
    env = dict(os.environ if environ is None else environ)
    file_name = env.get(ENV_PREFIX + "SETTINGS_FILE")
    settings_file = Path(file_name) if file_name else None
    if settings_file is not None and not settings_file.is_file():
        raise ConfigError(f"MAILROOM_SETTINGS_FILE={file_name}: no such file")
    own_env = {
        key: value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX + "SETTINGS_FILE"
    }
    _SETTINGS_FILE_CONTEXT["file"] = settings_file
    try:
        return _build(own_env, overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "settings"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
    finally:
        _SETTINGS_FILE_CONTEXT["file"] = None


# Settings that hold a password (alone or inside a URL): each may also be read from a file,
# MAILROOM_<NAME>_FILE (Docker/systemd secrets), so no password needs a command line or
# an environment listing; and ``mailroom settings`` masks them (:func:`masked`).
SECRET_FIELDS = frozenset(
    {
        "database_url",
        "broker_url",
        "secret_key",
        "smtp_password",
        "mailboxes",
        "import_password",
    }
)
FILE_SUFFIX = "_file"


def _build(own_env: dict[str, str], overrides: dict[str, Any]) -> Settings:
    # Env names are lower-cased to field names and given as init values (see
    # settings_customise_sources), so only the mapping we were handed counts.
    values: dict[str, Any] = {}
    fields = Settings.model_fields
    for key, value in own_env.items():
        name = key[len(ENV_PREFIX) :].lower()
        base = name.removesuffix(FILE_SUFFIX)
        if name.endswith(FILE_SUFFIX) and base in SECRET_FIELDS:
            if ENV_PREFIX + base.upper() in own_env:
                raise ConfigError(f"set {ENV_PREFIX}{base.upper()} or {key}, not both")
            values[base] = _read_secret_file(key, value)
            continue
        if name not in fields:
            known = ", ".join(ENV_PREFIX + f.upper() for f in sorted(fields))
            raise ConfigError(f"unknown setting {key}; known settings: {known}")
        values[name] = value
    values.update(overrides)
    return Settings(**values)


def _read_secret_file(variable: str, path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{variable}={path}: cannot read it ({exc.strerror})") from None
    value = text.strip()
    if not value:
        raise ConfigError(f"{variable}={path}: the file is empty")
    return value


def masked(name: str, value: Any) -> str:
    """The setting ``name``'s value as it may be shown or logged: passwords as ``***``."""
    if value is None or value == "" or value == []:
        return repr(value)
    if name in ("secret_key", "smtp_password", "import_password"):
        return "'***'"
    if name == "mailboxes":
        return repr([mask_url(str(url)) for url in value])
    if name in SECRET_FIELDS:
        return repr(mask_url(str(value)))
    return repr(value)


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) rows for the README and ``mailroom settings``."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        rows.append((ENV_PREFIX + name.upper(), repr(default), field.description or ""))
    return rows
