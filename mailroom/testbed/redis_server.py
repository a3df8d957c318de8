"""A private redis-server on a loopback port that a benchmark may restart (never the shared
one on 6379): ``with running_redis(port, folder) as restart: …``. No persistence, so a
restart loses every queued task — as a broker crash would."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running_redis(port: int, folder: Path, *, down_s: float = 2.0) -> Iterator[Callable[[], None]]:
    """Start redis-server on 127.0.0.1:``port``; yield a function that stops it, waits
    ``down_s`` seconds and starts it again, empty. RuntimeError when redis-server is not
    installed (``apt-get install redis-server``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        with open(folder / "redis.log", "ab") as log:
            procs.append(
                subprocess.Popen(
                    [
                        binary,
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(folder),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def stop() -> None:
        proc = procs[-1]
        proc.terminate()
        proc.wait(timeout=10)

    def restart() -> None:
        stop()
        time.sleep(down_s)
        start()

    start()
    try:
        yield restart
    finally:
        if procs[-1].poll() is None:
            stop()
