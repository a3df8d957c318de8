"""`mailroom demo` end to end on a reduced corpus, as a new user runs it: every step, a
worker routing the inbox into per-team Maildirs with the rest waiting in review, then a
second run that serves the web app and stops cleanly on Ctrl-C (SIGINT), worker included.

The corpus is small and the TF-IDF model serves (too few labels for the transformer, as
CI has 2 cores); the target precision is lowered further so that this small model routes some mail.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labeling.settings import load_settings
from mailroom.testbed.ports import free_port
from mailroom.testbed.worker_stack import worker_env
from tests.support.processes import Spawn
from worker.driver import maildir_outbox_files

pytestmark = pytest.mark.slow


def _env(instance: Path) -> dict[str, str]:
    return worker_env(
        {"instance_path": instance, "min_labels_for_transformer": 100000, "poll_interval": 0.5}
    )


def test_the_demo_routes_its_inbox_then_serves_and_stops_on_ctrl_c(
    tmp_path: Path, spawn: Spawn
) -> None:
    instance = tmp_path / "instance"
    command = [sys.executable, "-m", "mailroom", "demo", "--count", "1000", "--inbox", "40"]
    command += ["--target-precision", "0.9"]
    first = subprocess.run(
        [*command, "--no-serve"],
        env=_env(instance),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    found = re.search(
        r"(\d+) inbox mails: auto-routed (\d+) \(\d+%\) at precision ([\d.]+|n/a) .*"
        r"waiting in review (\d+)",
        output,
    )
    assert found, output
    live, auto, _precision, review = found.groups()
    assert int(live) == 40
    assert int(auto) > 0 and int(review) > 0, output  # some forwarded, some for a person
    outbox = load_settings(_env(instance)).maildir_outbox
    forwarded = [p for team in outbox.iterdir() for p in maildir_outbox_files(outbox, team.name)]
    assert len(forwarded) == int(auto)
    assert "demo logins: admin (admin), lisa (labeler), sanne (labeler), rob (reviewer)" in output
    # Two labellers played on the same mail: Agreement and Adjudicate are not empty.
    assert re.search(r"(\d+) mails labelled by both, (\d+) disagreements", output), output
    # Training ran in a child process; its summary came back through the demo's output.
    assert "v0001: " in output
    # A labeller gave the flags; both are scored on the inbox, saying what served them.
    assert re.search(r"(\d+) mails labelled, (\d+) flagged urgent, (\d+) wants to leave", output)
    for name in ("urgent", "wants to leave"):
        served = r"(learned \(model v0001|cue list: )"
        assert re.search(rf"{name}: recall .* precision .* against the truth — {served}", output)
    assert "worker stopped (exit 0)" in output

    # Again, serving: every step is already done, so it is up in seconds; Ctrl-C stops it.
    port = free_port()
    process = spawn(
        [*command, "--port", str(port)],
        env=_env(instance),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        lines = []
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if f"open http://127.0.0.1:{port}/" in line or process.poll() is not None:
                break
        page = ""
        for _ in range(50):  # waitress takes a moment to listen
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert "Mailroom" in page, "".join(lines)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, "".join(lines) + rest
    assert "worker stopped (exit 0)" in rest
    # Nothing is left behind: no worker process of this instance still runs.
    leftover = subprocess.run(
        ["pgrep", "-f", "mailroom worker"], capture_output=True, text=True, check=False
    )
    for pid in leftover.stdout.split():
        environ = Path(f"/proc/{pid}/environ")
        if environ.exists():
            assert str(instance).encode() not in environ.read_bytes()
