"""The pipeline benchmark on the embedded default, short: `bench_pipeline.py --stack
embedded` — real Dovecot and SMTP, but the SQLite database, the SQLite broker and
`mailroom worker` with its embedded beat, as `bash scripts/demo.sh` installs it — forwards
every mail once, reports its latency in the production stack's format, and the beat keeps
sweeping through the run (issue 12, item 6). The measured run (`mailroom bench-pipeline
--stack embedded --rate 20 --duration 600`) is not in CI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailroom.testbed.worker_stack import ROOT, beat_tally, worker_env
from tests.support.dovecot import require_dovecot
from tests.support.processes import Spawn


@pytest.mark.slow
def test_a_short_bench_on_the_embedded_default(spawn: Spawn, tmp_path: Path) -> None:
    require_dovecot()
    log = tmp_path / "bench.log"
    with open(log, "wb") as out:
        bench = spawn(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "bench_pipeline.py"),
                "--stack",
                "embedded",
                "--rate",
                "3",
                "--duration",
                "20",
                "--workers",
                "2",
                "--drain",
                "180",
            ],
            cwd=ROOT,
            env=worker_env({}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        status = bench.wait(timeout=600)
    text = log.read_text(errors="replace")
    assert status == 0, text[-4000:]
    assert re.search(r"workers +2 x 4 threads, SQLite broker .*, SQLite database", text), text
    found = re.search(r"sent (\d+), forwarded (\d+), lost 0, duplicated 0", text)
    assert found and found.group(1) == found.group(2) == "60", text[-4000:]
    assert re.search(r"arrival -> accept +p50 [\d.]+ s +p95 [\d.]+ s +p99 [\d.]+ s", text), text
    # One sweep is due every 10 s over the whole run (about a minute): the first one always
    # worked; the broken beat sent none after it.
    beat = re.search(r"beat +(\d+) sweeps ran in (\d+) s .*, (\d+) scheduled task\(s\) not", text)
    assert beat is not None, text[-4000:]
    swept, seconds, not_sent = (int(g) for g in beat.groups())
    assert not_sent == 0, text[-4000:]
    assert swept >= max(2, seconds // 10 - 2), text[-4000:]


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("", (0, 0)),
        (
            "[2026-12-07 06:00:00,000: INFO/MainProcess] Task mailroom.sweep[a1] succeeded "
            "in 0.01s: 0\n"
            "[2026-12-07 06:00:00,000: INFO/MainProcess] Task mailroom.route[b2] succeeded "
            "in 0.01s: None\n"
            "[2026-12-07 06:00:10,000: INFO/MainProcess] Task mailroom.sweep[a3] received\n"
            "[2026-12-07 06:00:10,000: INFO/MainProcess] Task mailroom.sweep[a3] succeeded "
            "in 0.02s: 1\n"
            "[2026-12-07 06:00:20,000: ERROR/Beat] beat: Couldn't apply scheduled task "
            "mailroom-sweep: channel disconnected\n",
            (2, 1),
        ),
    ],
)
def test_beat_tally_reads_sweeps_and_failed_sends(log: str, expected: tuple[int, int]) -> None:
    assert beat_tally(log) == expected


def test_the_chaos_soak_needs_the_production_stack(tmp_path: Path) -> None:
    from labeling.settings import load_settings
    from mailroom.cli import cli, register_commands

    register_commands()
    settings = load_settings({"MAILROOM_INSTANCE_PATH": str(tmp_path)})
    result = CliRunner().invoke(
        cli, ["bench-pipeline", "--stack", "embedded", "--chaos"], obj=settings
    )
    assert result.exit_code == 2, result.output
    assert "--chaos restarts a Redis broker: it needs --stack production" in result.output
