"""Secrets stay secret: real ``mailroom`` commands run with known passwords in every place a
password can be given (URLs with ``/``, ``#`` and ``@`` in the password, ``*_FILE``
settings, the import password from the environment, a file or a prompt), at log level
DEBUG; every line they print or log is searched for every form of every secret."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from mailroom.testbed.dovecot_server import DovecotServer
from tests.support.mail_samples import make_mail
from tests.support.processes import Spawn

ROOT = Path(__file__).resolve().parents[2]

# Each holds characters that break naive URL handling.
IMAP_SECRET = "Imap/Ge#he1m@x7"
DB_SECRET = "Db/Wacht#woord9"
BROKER_SECRET = "Broker/Sl#eutel3"
SMTP_SECRET = "Smtp-Pass/word-5"
KEY_SECRET = "flask-secret-key-0123456789"
SECRETS = (IMAP_SECRET, DB_SECRET, BROKER_SECRET, SMTP_SECRET, KEY_SECRET)


def _forms(secret: str) -> set[str]:
    """Every way a secret could show: whole, percent-encoded, and each longer piece of it
    (an error that cut the password at a '/' or '#' shows the rest)."""
    forms = {secret, quote(secret, safe=""), quote(secret)}
    for separator in "/#@":
        forms |= {part for part in secret.split(separator) if len(part) >= 4}
    return forms


FORBIDDEN = set().union(*(_forms(secret) for secret in SECRETS))


def _run(
    args: list[str], env: dict[str, str], *, stdin: str | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailroom", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        # No controlling terminal: the password prompt reads stdin, as under a supervisor.
        start_new_session=True,
    )


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
    env.update(
        PYTHONPATH=str(ROOT),
        MAILROOM_INSTANCE_PATH=str(tmp_path / "instance"),
        MAILROOM_LOG_LEVEL="DEBUG",
    )
    return env


def test_no_secret_in_any_line_of_output_or_log(
    spawn: Spawn,
    base_env: dict[str, str],
    dovecot: DovecotServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs: list[tuple[str, str]] = []

    def check(name: str, result: subprocess.CompletedProcess[str]) -> str:
        text = result.stdout + result.stderr
        outputs.append((name, text))
        return text

    smtp_file = tmp_path / "smtp_password"
    smtp_file.write_text(SMTP_SECRET + "\n")
    secret_env = {
        **base_env,
        "MAILROOM_MAILBOXES": f"imap://watch:{IMAP_SECRET}@127.0.0.1:1/INBOX",
        "MAILROOM_DATABASE_URL": f"postgresql+psycopg://mailroom:{DB_SECRET}@127.0.0.1:1/x",
        "MAILROOM_BROKER_URL": f"redis://:{BROKER_SECRET}@127.0.0.1:1/0",
        "MAILROOM_SMTP_PASSWORD_FILE": str(smtp_file),
        "MAILROOM_SECRET_KEY": KEY_SECRET,
    }
    shown = check("settings", _run(["settings"], secret_env))
    assert "MAILROOM_MAILBOXES (or MAILROOM_MAILBOXES_FILE) = ['imap://watch:***@127" in shown
    assert "postgresql+psycopg://mailroom:***@127.0.0.1:1/x" in shown
    assert "MAILROOM_SMTP_PASSWORD (or MAILROOM_SMTP_PASSWORD_FILE) = '***'" in shown

    # The worker, started on a mailbox URL it cannot read (an unencoded '/' and '#' in
    # the password): it says why at CRITICAL and exits.
    assert _run(["db", "upgrade"], base_env).returncode == 0
    worker_env = {**base_env, "MAILROOM_MAILBOXES": secret_env["MAILROOM_MAILBOXES"]}
    worker = _run(["worker", "--no-beat", "-c", "1"], worker_env)
    text = check("worker", worker)
    assert "cannot start" in text, text

    user = dovecot.add_user(password=IMAP_SECRET)
    dovecot.append(user, "INBOX", make_mail("secrets-1@example.nl", "Vraag over mijn polis"))
    host = f"{dovecot.host}:{dovecot.port}"
    # A password with '/' pasted into the URL: a clear error, no part of it shown.
    result = _run(["import", f"imap://{user}:{IMAP_SECRET}@{host}/INBOX"], base_env)
    assert result.returncode == 1
    check("import, bad URL", result)
    # A wrong password from the environment: refused by the server, not echoed.
    wrong = {**base_env, "MAILROOM_IMPORT_PASSWORD": DB_SECRET}
    result = _run(["import", f"imap://{user}@{host}/INBOX"], wrong)
    assert result.returncode == 1, result.stderr
    check("import, wrong password", result)
    # The right one from a file, then from the prompt: no password on any command line.
    password_file = tmp_path / "imap_password"
    password_file.write_text(IMAP_SECRET)
    from_file = {**base_env, "MAILROOM_IMPORT_PASSWORD_FILE": str(password_file)}
    result = _run(["import", f"imap://{user}@{host}/INBOX"], from_file)
    text = check("import, password file", result)
    assert result.returncode == 0 and "imported 1" in text, text
    result = _run(["import", f"imap://{user}@{host}/INBOX"], base_env, stdin=IMAP_SECRET + "\n")
    text = check("import, prompt", result)
    assert result.returncode == 0 and "duplicates" in text, text

    # A running worker whose mailbox password is wrong (percent-encoded, so the URL
    # parses): it logs the refusal and tries again, never the password.
    wrong_mailbox = f"imap://{user}:{quote(DB_SECRET, safe='')}@{host}/INBOX"
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker_process = spawn(
            [sys.executable, "-m", "mailroom", "worker", "--no-beat", "-c", "1"],
            env={**base_env, "MAILROOM_MAILBOXES": wrong_mailbox},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while "refused the login" not in log_path.read_text() and time.monotonic() < deadline:
            assert worker_process.poll() is None, log_path.read_text()
            time.sleep(0.5)
        os.killpg(worker_process.pid, signal.SIGTERM)
        worker_process.wait(timeout=60)
    text = log_path.read_text()
    assert "refused the login" in text, text
    outputs.append(("worker, wrong password", text))

    lines = [(name, line) for name, text in outputs for line in text.splitlines()]
    leaks = [(name, line) for name, line in lines if any(f in line for f in FORBIDDEN)]
    assert not leaks, leaks
    with capsys.disabled():
        print(f"\nsecrets in output: {len(lines)} lines of {len(outputs)} runs checked, 0 leaks")
