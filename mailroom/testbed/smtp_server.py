"""A real SMTP server on a loopback port (aiosmtpd) that records what it accepted.

Plain code, no pytest, so fixtures and the pipeline benchmark start it the same way::

    with running_smtp() as server:
        server.refuse_next(3)            # answer 451 to the next 3 mails, then accept
        ...
        server.wait_for(10, timeout=30)  # until 10 mails were accepted
        server.accepted                  # [Accepted(rcpts, data, message_id, at), ...]

``Accepted.at`` is the wall-clock time (``time.time()``) of the server's 250 answer, so a
benchmark can measure arrival → acceptance across processes.
"""

from __future__ import annotations

import email
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from typing import Any

from aiosmtpd.controller import Controller

from mailroom.testbed.ports import HOST, free_port


@dataclass(frozen=True)
class Accepted:
    """One mail the server accepted."""

    rcpts: tuple[str, ...]
    data: bytes
    at: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        """The idempotency key: Resent-Message-ID for resent mail, else Message-ID."""
        return self.headers.get("resent-message-id") or self.headers.get("message-id", "")

    @property
    def team(self) -> str:
        return self.headers.get("x-mailroom-team", "")

    @property
    def original_id(self) -> str:
        return self.headers.get("x-mailroom-original-message-id", "")


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[Accepted] = []
        self.refuse = 0
        self.refuse_reply = "451 4.3.0 Try again later"
        self.refused = 0
        self.condition = threading.Condition(self.lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return self.refuse_reply
        data: bytes = envelope.original_content or envelope.content
        head = email.message_from_bytes(
            data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=policy.compat32
        )
        headers = {name.lower(): str(value).strip() for name, value in head.items()}
        record = Accepted(tuple(envelope.rcpt_tos), data, time.time(), headers)
        with self.condition:
            self.accepted.append(record)
            self.condition.notify_all()
        return "250 OK"


class SmtpServer:
    """A running recording SMTP server; see the module docstring."""

    def __init__(self, port: int | None = None) -> None:
        self.handler = _Handler()
        self.port = port or free_port()
        self.host = HOST
        self._controller = Controller(
            self.handler, hostname=HOST, port=self.port, decode_data=False, data_size_limit=None
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def accepted(self) -> list[Accepted]:
        with self.handler.lock:
            return list(self.handler.accepted)

    @property
    def refused(self) -> int:
        with self.handler.lock:
            return self.handler.refused

    def refuse_next(self, count: int, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer ``reply`` (a 4xx or 5xx line) to the next ``count`` mails' DATA."""
        with self.handler.lock:
            self.handler.refuse = count
            self.handler.refuse_reply = reply

    def wait_for(self, count: int, timeout: float) -> list[Accepted]:
        """Block until at least ``count`` mails were accepted (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        with self.handler.condition:
            while len(self.handler.accepted) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.handler.condition.wait(left)
            return list(self.handler.accepted)

    def duplicates(self) -> int:
        """Accepted mails beyond the first per idempotency key (Message-ID)."""
        counts = Counter(a.message_id for a in self.accepted)
        return sum(n - 1 for n in counts.values())


@contextmanager
def running_smtp(port: int | None = None) -> Iterator[SmtpServer]:
    """Start a recording SMTP server on 127.0.0.1; stop it when the block ends."""
    server = SmtpServer(port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
