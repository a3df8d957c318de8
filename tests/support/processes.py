"""Processes of ours that a test starts (pytest plugin, see tests/conftest.py).

``spawn`` (function)
    ``spawn(argv, **popen_options)``: :class:`subprocess.Popen` in a process group of its
    own, for a worker (``mailroom worker``) or the demo, which runs one. Whatever still runs
    after the test is killed, group and all. A test that takes it is marked ``server``: a
    worker process works on the store and the broker as it does in production.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

Spawn = Callable[..., "subprocess.Popen[Any]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    started: list[subprocess.Popen[Any]] = []

    def start(argv: list[str], **options: Any) -> subprocess.Popen[Any]:
        process = subprocess.Popen(argv, start_new_session=True, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
