"""The markers ``server``, ``postgres`` and ``browser`` come from the fixtures a test uses
(tests/conftest.py), in time for ``-m`` to select by them, and one written by hand on a
test without such a fixture stops the run. Checked by collecting probe tests (nothing
runs, no server starts) in a child pytest with the suite's conftest as a plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBES = """
import pytest

def test_plain(): pass
def test_imap(dovecot): pass
def test_two_databases(db_settings): pass
def test_chromium(browser): pass
def test_worker(spawn): pass
def test_stack(make_stack): pass

@pytest.mark.slow
def test_slow(): pass
"""

# A plugin that prints each selected test's markers once collection and -m are done.
REPORT = """
def pytest_collection_finish(session):
    for item in session.items:
        print("MARKS", item.name, ",".join(sorted({m.name for m in item.iter_markers()})))
"""


def _collect(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "report_markers.py").write_text(REPORT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder)])}
    command = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml")]
    command += ["--rootdir", str(ROOT), "-p", "tests.conftest", "-p", "report_markers"]
    command += ["-p", "no:cacheprovider", "--collect-only", "-q", *args]
    return subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_markers_follow_the_fixtures_and_minus_m_sees_them(tmp_path: Path) -> None:
    (tmp_path / "test_probes.py").write_text(PROBES)
    done = _collect(tmp_path, "-m", "server or postgres or browser or slow", "test_probes.py")
    assert done.returncode == 0, done.stdout + done.stderr
    marks = {}
    for line in done.stdout.splitlines():
        if line.startswith("MARKS "):
            _, name, found = line.split(" ")
            marks[name] = found
    assert marks == {
        "test_imap": "server",
        "test_two_databases[postgresql]": "postgres",
        "test_chromium": "browser",
        "test_worker": "server",
        "test_stack": "postgres,server",
        "test_slow": "slow",
    }


def test_a_marker_written_by_hand_without_its_fixture_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_liar.py").write_text(
        "import pytest\n\n@pytest.mark.postgres\ndef test_claims_a_database(): pass\n"
    )
    done = _collect(tmp_path, "test_liar.py")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "test_claims_a_database: postgres" in done.stderr
