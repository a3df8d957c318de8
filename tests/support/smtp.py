"""A recording SMTP server for the tests (pytest plugin, see tests/conftest.py).

``smtp_server`` (function): a running :class:`~mailroom.testbed.smtp_server.SmtpServer`
(aiosmtpd) on a loopback port, stopped after the test. A test that takes it is marked
``server``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailroom.testbed.smtp_server import SmtpServer, running_smtp


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server
