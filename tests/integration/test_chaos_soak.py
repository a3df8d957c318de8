"""The chaos soak, short: `bench_pipeline.py --chaos` for half a minute — workers
SIGKILLed, IMAP and SMTP connections cut, the broker restarted, machine mail mixed in —
ends with nothing lost or duplicated and no machine mail at a team. The long soak
(`mailroom bench-pipeline --chaos --rate 20 --duration 500`, 10,000 mails) is not in CI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailroom.testbed.worker_stack import ROOT, worker_env
from tests.support.processes import Spawn

pytestmark = pytest.mark.slow


def test_a_short_chaos_soak_loses_nothing(spawn: Spawn, tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    log = tmp_path / "soak.log"
    with open(log, "wb") as out:
        soak = spawn(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "bench_pipeline.py"),
                "--chaos",
                "--rate",
                "4",
                "--duration",
                "30",
                "--workers",
                "2",
                "--chaos-every",
                "3",
                "--drain",
                "300",
            ],
            cwd=ROOT,
            env=worker_env({}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        status = soak.wait(timeout=900)
    text = log.read_text(errors="replace")
    assert status == 0, text[-4000:]
    found = re.search(r"sent (\d+), forwarded (\d+), lost 0, duplicated 0", text)
    assert found and found.group(1) == found.group(2), text[-4000:]
    faults = re.search(r"faults +(.*)", text)
    assert faults is not None
    for kind in ("kill", "cut-imap", "cut-smtp", "restart-broker"):
        assert kind in faults.group(1), text[-4000:]
    assert re.search(r"machine mail +\d+ appended .*, 0 forwarded to a team", text), text[-4000:]
