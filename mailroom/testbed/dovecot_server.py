"""A private Dovecot IMAP server on a loopback port, for tests and benchmarks.

Plain code, no pytest, so that the test fixtures (``tests/support/dovecot.py``) and the
benchmark scripts start the server the same way::

    with running_dovecot() as server:
        server.append("alice", "INBOX", raw)
        ImapSource(server.url("alice", "INBOX"), batch_size=100)

Each server lives in its own temporary folder (config, ``base_dir``, ``state_dir``, log,
Maildirs) and listens on 127.0.0.1 only, on a free port. Facts it relies on (Debian's
``dovecot-imapd`` 2.3): it must be started as root, because ``imap-login`` will not run as
root and drops to ``dovenull``, and the mail processes will not run as uid 0 — every user
here is the system ``mail`` user, through a ``static`` userdb, with passwords from a
``passwd-file``. The folder is made world-traversable (not pytest's 0700 tmp folders) so
that the ``mail`` user can reach its Maildirs.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from imapclient import IMAPClient

from mailroom.testbed.ports import HOST, free_port

INSTALL_HINT = "install dovecot-imapd (apt-get install dovecot-imapd) to run IMAP tests"
ROOT_PREFIX = "mailroom-dovecot-"  # temporary folders of servers, in the temp directory
MAIL_USER = "mail"  # the non-root system user every mailbox belongs to

# A couple of users; bob's password needs percent-encoding in a URL (and quoting in LOGIN).
DEFAULT_USERS: Mapping[str, str] = {"alice": "alice-secret", "bob": "p@ss w/rd?#%"}

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


class DovecotUnavailable(RuntimeError):
    """Dovecot cannot run here (not installed, or not root); the message says what to do."""


class DovecotStartError(RuntimeError):
    """Dovecot was started but did not come up; the message holds its log."""


def dovecot_binary() -> str | None:
    """Path of the ``dovecot`` binary; /usr/sbin is often not on a non-root PATH."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    return found


def check_dovecot() -> str:
    """The ``dovecot`` binary, or :class:`DovecotUnavailable` with what to do."""
    binary = dovecot_binary()
    if binary is None:
        raise DovecotUnavailable(f"dovecot is not installed: {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise DovecotUnavailable(
            "a private Dovecot must be started as root (it drops to the 'mail' and "
            "'dovenull' users): run the IMAP tests as root"
        )
    try:
        pwd.getpwnam(MAIL_USER)
    except KeyError as exc:
        raise DovecotUnavailable(f"the system user {MAIL_USER!r} is missing") from exc
    return binary


@dataclass
class DovecotServer:
    """A running private Dovecot and the helpers tests need.

    ``users`` maps user name to password. All users share one Dovecot and one ``mail`` uid
    but have separate Maildirs; :meth:`add_user` makes a fresh, empty account without a
    restart (Dovecot re-reads the passwd-file when it changes).
    """

    root: Path
    port: int
    users: dict[str, str]
    binary: str
    host: str = HOST
    separator: str = "."
    namespace_prefix: str = ""
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # -- paths -------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def base_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def passwd_path(self) -> Path:
        return self.root / "passwd"

    @property
    def mail_root(self) -> Path:
        return self.root / "mail"

    def maildir(self, user: str) -> Path:
        return self.mail_root / user

    # -- addresses ---------------------------------------------------------------------

    def url(self, user: str, folder: str = "", *, port: int | None = None) -> str:
        """``imap://user:password@127.0.0.1:PORT/FOLDER``, every part percent-encoded.

        ``folder`` '' means every folder; ``port`` points the URL at a proxy instead.
        """
        password = self.users[user]
        return (
            f"imap://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{port or self.port}/{quote(folder, safe='')}"
        )

    @contextmanager
    def client(self, user: str, *, timeout: float = 30.0) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient for ``user``, logged out afterwards."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        try:
            client.login(user, self.users[user])
            yield client
        finally:
            try:
                client.logout()
            except (IMAPClient.Error, OSError):
                client.shutdown()  # the test may have cut the connection on purpose

    # -- users and folders -------------------------------------------------------------

    def add_user(self, user: str | None = None, password: str | None = None) -> str:
        """Add an account with an empty mailbox (a fresh name by default); return its name.

        Dovecot re-reads the passwd-file when it changes; this returns once the account can
        log in.
        """
        user = user or f"user-{secrets.token_hex(4)}"
        password = password if password is not None else secrets.token_urlsafe(12)
        if any(c in user + password for c in ":\n") or user in self.users:
            raise ValueError(f"cannot add user {user!r}: taken, or ':'/newline in it")
        self.users[user] = password
        self._write_passwd()
        self._wait_login(user)
        return user

    def _wait_login(self, user: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.client(user):
                    return
            except IMAPClient.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_folder(self, user: str, folder: str) -> None:
        """Create ``folder`` (and its parents) unless it exists; subscribe to it."""
        with self.client(user) as client:
            _ensure_folder(client, folder)
            client.subscribe_folder(folder)

    def folder_name(self, *parts: str) -> str:
        """A folder's full server name, e.g. ``folder_name('Claims', 'Auto')``."""
        return self.namespace_prefix + self.separator.join(parts)

    # -- mail --------------------------------------------------------------------------

    def append(
        self,
        user: str,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        msg_time: datetime | None = None,
    ) -> int:
        """Append one mail and return its UID (the server offers UIDPLUS)."""
        return self.append_many(user, folder, [raw], flags=flags, msg_time=msg_time)[0]

    def append_many(
        self,
        user: str,
        folder: str,
        raws: Iterable[bytes],
        *,
        flags: Iterable[str] = (),
        msg_time: datetime | None = None,
    ) -> list[int]:
        """Append mails over one connection, creating the folder if needed; their UIDs."""
        flags = tuple(flags)
        uids = []
        with self.client(user) as client:
            _ensure_folder(client, folder)
            for raw in raws:
                answer = client.append(folder, raw, flags=flags, msg_time=msg_time)
                match = _APPENDUID.search(answer)
                if match is None:
                    raise RuntimeError(f"APPEND answered without APPENDUID: {answer!r}")
                uids.append(int(match.group(2)))
        return uids

    def fetch_all(self, user: str, folder: str) -> dict[int, bytes]:
        """Every mail of ``folder`` by UID, read without setting ``\\Seen``."""
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            return {
                uid: data[b"BODY[]"] for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items()
            }

    def uidvalidity(self, user: str, folder: str) -> int:
        with self.client(user) as client:
            status = client.folder_status(folder, ["UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def change_uidvalidity(self, user: str, folder: str, *, renumber: bool = False) -> int:
        """Give ``folder`` a new UIDVALIDITY, as a server does after a rebuild; return it.

        By default the mails keep their UIDs (only UIDVALIDITY moves, via ``doveadm mailbox
        update``). With ``renumber`` they are also expunged and appended again, flags and
        dates kept, so each gets a new UID — a mailbox that was restored from a backup.
        Works for INBOX too, which IMAP cannot delete and re-create.
        """
        saved: list[tuple[bytes, tuple[bytes, ...], datetime]] = []
        if renumber:
            with self.client(user) as client:
                client.select_folder(folder)
                uids = client.search("ALL")
                if uids:
                    fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])
                    for uid in sorted(fetched):
                        data = fetched[uid]
                        flags = tuple(f for f in data[b"FLAGS"] if f != b"\\Recent")
                        saved.append((data[b"BODY[]"], flags, data[b"INTERNALDATE"]))
                    client.delete_messages(uids)
                    client.expunge()
        new = max(self.uidvalidity(user, folder) + 1, int(time.time()))
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new), folder)
        if saved:
            with self.client(user) as client:
                for raw, flags, date in saved:
                    client.append(folder, raw, flags=flags, msg_time=date)
        return new

    # -- faults ------------------------------------------------------------------------

    def kick(self, user: str, *, hard: bool = False, timeout: float = 10.0) -> int:
        """Cut every IMAP connection of ``user``; return how many processes were hit.

        By default ``doveadm kick``: the server says BYE and closes, as on a shutdown. With
        ``hard`` the user's ``imap`` processes get SIGKILL: the client sees the connection
        end with no goodbye, as when a server or the network dies. Returns once those
        processes are gone, so the client's next command is sure to meet a closed link.
        """
        pids = self.imap_pids(user)
        if not hard:
            self.doveadm("kick", user, check=False)
        else:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):  # it may have ended meanwhile
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while set(pids) & set(self.imap_pids(user)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{user}'s imap processes {pids} outlived the kick")
            time.sleep(0.02)
        return len(pids)

    def imap_pids(self, user: str) -> list[int]:
        """Pids of this server's ``imap`` processes serving ``user``.

        Found by title (``verbose_proctitle``: "dovecot/imap [user 127.0.0.1 …]") among the
        master's children, so other Dovecot instances on the machine are never touched.
        """
        master = self._process.pid if self._process else None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # the process ended while we looked
            title = cmdline.decode("utf-8", "replace")
            if ppid == master and title.startswith(f"dovecot/imap [{user} "):
                pids.append(int(entry.name))
        return pids

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm`` against this server's config."""
        doveadm = shutil.which("doveadm") or shutil.which("doveadm", path="/usr/bin:/usr/sbin")
        if doveadm is None:
            raise DovecotUnavailable(f"doveadm is missing: {INSTALL_HINT}")
        result = subprocess.run(
            [doveadm, "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"doveadm {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, *, timeout: float = 20.0) -> None:
        """Write the config and start Dovecot; return once it greets on its port."""
        for attempt in range(3):
            self._write_config()
            self._write_passwd()
            stderr = (self.root / "dovecot.stderr").open("wb")
            with stderr:
                # -F keeps the master in the foreground as our child: we own its lifetime.
                # A new session keeps a terminal's Ctrl-C for pytest, whose teardown stops it.
                self._process = subprocess.Popen(
                    [self.binary, "-F", "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    start_new_session=True,
                )
            try:
                self._wait_ready(timeout)
                return
            except DovecotStartError:
                self.stop()
                if attempt < 2 and "in use" in self.log_tail():
                    self.port = free_port()  # another process took the port meanwhile
                    continue
                raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DovecotStartError(
                    f"dovecot exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as sock:
                    greeting = sock.makefile("rb").readline()
                if greeting.startswith(b"* OK"):
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.05)
        raise DovecotStartError(f"dovecot did not greet within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the master (it ends its children); idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The end of Dovecot's log and of what it wrote to stderr, for error messages."""
        text = []
        for path in (self.root / "dovecot.stderr", self.log_path):
            if path.exists():
                text += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def _write_passwd(self) -> None:
        # Written beside and renamed: Dovecot must never read a half-written file.
        tmp = self.passwd_path.with_suffix(".tmp")
        tmp.write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self.users.items()))
        os.chmod(tmp, 0o644)
        tmp.replace(self.passwd_path)

    def _write_config(self) -> None:
        self.base_dir.mkdir(exist_ok=True)
        (self.root / "state").mkdir(exist_ok=True)
        self.mail_root.mkdir(exist_ok=True)
        shutil.chown(self.mail_root, MAIL_USER, MAIL_USER)
        self.config_path.write_text(
            _CONFIG.format(
                root=self.root,
                host=self.host,
                port=self.port,
                separator=self.separator,
                prefix=self.namespace_prefix,
                mail_user=MAIL_USER,
            )
        )


def _ensure_folder(client: IMAPClient, folder: str) -> None:
    """Create ``folder`` unless it exists and is selectable.

    Not ``folder_exists``: after creating ``Claims.Auto`` a Maildir++ server lists
    ``Claims`` as ``\\NonExistent``, a parent that cannot hold mail until it is created.
    """
    for flags, _, _ in client.list_folders(pattern=folder):
        if not {b"\\NONEXISTENT", b"\\NOSELECT"} & {f.upper() for f in flags}:
            return
    client.create_folder(folder)


# Only what differs from Dovecot's built-in defaults; nothing is read from /etc/dovecot.
_CONFIG = """\
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered at once, not after the default 2 s delay.
auth_failure_delay = 0
# The mail user is a system user (uid 8); the default floor is 500.
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
# Test mail is disposable: do not pay for fsync on every append.
mail_fsync = never
# Several workers and tests connect as one user from one address.
mail_max_userip_connections = 200
# The user's name in the imap process title lets a test find and kill its connections.
verbose_proctitle = yes
namespace inbox {{
  inbox = yes
  separator = {separator}
  prefix = {prefix}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={root}/mail/%u
}}
# No auth penalty: after a failed login every login from 127.0.0.1 would wait up to 15 s
# (login_trusted_networks does not lift it in 2.3). This is how Dovecot's docs switch it off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def stop_orphans() -> list[Path]:
    """Stop servers whose test run died without stopping them (SIGKILL, a crash); return
    their folders, now removed.

    A server is an orphan when the process that started it (``owner.pid``) is gone. Only
    a master whose command line names that folder's own config is signalled, so a pid
    reused by an unrelated process is never touched.
    """
    stopped = []
    for root in Path(tempfile.gettempdir()).glob(ROOT_PREFIX + "*"):
        try:
            owner = int((root / "owner.pid").read_text())
            os.kill(owner, 0)
            continue  # its owner lives: not ours to touch
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # no owner file (being created, or not one of ours)
        try:
            master = int((root / "run" / "master.pid").read_text())
            cmdline = Path(f"/proc/{master}/cmdline").read_bytes().split(b"\0")
            if str(root / "dovecot.conf").encode() in cmdline:
                os.kill(master, signal.SIGTERM)
        except (OSError, ValueError):
            pass  # the master is already gone
        shutil.rmtree(root, ignore_errors=True)
        stopped.append(root)
    return stopped


@contextmanager
def running_dovecot(
    users: Mapping[str, str] | None = None,
    *,
    separator: str = ".",
    namespace_prefix: str = "",
    keep_files: bool = False,
) -> Iterator[DovecotServer]:
    """Start a private Dovecot in a fresh temporary folder; stop it and remove the folder
    when the block ends, however it ends.

    ``namespace_prefix`` 'INBOX.' makes every folder live under INBOX (``INBOX.Claims``),
    as on Courier or Cyrus. Raises :class:`DovecotUnavailable` if Dovecot cannot run here.
    """
    binary = check_dovecot()
    stop_orphans()
    # Not pytest's tmp_path: its parents are 0700, and the mail user must reach its Maildir.
    root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
    os.chmod(root, 0o755)
    (root / "owner.pid").write_text(str(os.getpid()))
    server = DovecotServer(
        root=root,
        port=free_port(),
        users=dict(DEFAULT_USERS if users is None else users),
        binary=binary,
        separator=separator,
        namespace_prefix=namespace_prefix,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if not keep_files:
            shutil.rmtree(root, ignore_errors=True)
