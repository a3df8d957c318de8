"""Fault tests that try to break the promises: no mail lost, none routed twice.

Each ends with "sent N, forwarded N, lost 0, duplicated 0" and asserts it: a worker
SIGKILLed between the SMTP accept and the record, an SMTP server that answers 451 and
recovers, an IMAP connection cut in the middle of a FETCH, and the broker (a private
redis-server) restarted while mail arrives.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from labeling.store.tables import Delivery
from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.ports import free_port
from mailroom.testbed.redis_server import running_redis
from mailroom.testbed.tcp_proxy import CuttingProxy
from mailroom.testbed.worker_stack import VOCAB, Stack, team_mail

pytestmark = pytest.mark.slow


def _append(stack: Stack, count: int, tag: str) -> dict[str, str]:
    expected = {}
    teams = list(VOCAB)
    for n in range(count):
        team = teams[n % len(teams)]
        message_id, raw = team_mail(team, n, tag=tag)
        stack.append(raw)
        expected[message_id] = team
    return expected


def test_a_worker_killed_after_the_smtp_accept_loses_nothing_and_routes_nothing_twice(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot)
    # The first worker stops for a minute after each SMTP accept, before recording it.
    stack.start_worker("doomed", env={"MAILROOM_FAULT_PAUSE_AFTER_SEND": "60"})
    expected = _append(stack, 3, "kill")
    stack.smtp.wait_for(3, timeout=60)
    stack.wait_log("doomed", "fault pause", timeout=10)
    stack.kill("doomed")
    assert stack.states() == {"forwarding": 3}  # sent, not recorded: the window
    # Promise 1: not recorded, so not marked done in IMAP either.
    assert not any(b"$MailroomRouted" in flags for flags in stack.imap_flags().values())

    stack.start_worker("rescuer", beat=True)
    stack.wait_until(lambda: stack.states().get("done") == 3, 90, "3 mails done")
    sent, forwarded, lost, duplicated = stack.tally(expected)
    assert (forwarded, lost, duplicated) == (sent, 0, 0)
    flags = stack.imap_flags()
    assert all(b"$MailroomRouted" in flags[mid] for mid in expected)
    # Each mail was accepted twice, both copies under one outgoing Message-ID.
    ids = [a.message_id for a in stack.smtp.accepted]
    assert len(ids) == 6 and len(set(ids)) == 3
    with stack.sessions() as session:
        attempts = list(session.scalars(select(Delivery.attempts)))
    assert attempts == [2, 2, 2]


def test_an_smtp_server_that_answers_451_then_recovers(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot)
    stack.smtp.refuse_next(4)
    stack.start_worker("w1", beat=True)
    expected = _append(stack, 5, "busy")
    stack.wait_until(lambda: stack.states().get("done") == 5, 90, "5 mails done")
    assert stack.smtp.refused == 4
    sent, forwarded, lost, duplicated = stack.tally(expected)
    assert (forwarded, lost, duplicated) == (sent, 0, 0)
    assert len(stack.smtp.accepted) == 5
    with stack.sessions() as session:
        errors = [e for e in session.scalars(select(Delivery.last_error)) if e]
        attempts = sum(session.scalars(select(Delivery.attempts)))
    assert attempts == 9 and errors == []  # 4 refusals retried; errors cleared once sent


def test_an_imap_connection_cut_in_the_middle_of_a_fetch(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    with CuttingProxy(dovecot.port) as proxy:
        stack = make_stack(dovecot, mailbox_port=proxy.port)
        expected = _append(stack, 6, "cut")
        # The watcher's first FETCH of bodies (all six mails; after the RFC822.SIZE one) is
        # cut 1.5 kB into the answer.
        proxy.cut_at_command(b" FETCH ", nth=2, then_bytes=1500)
        stack.start_worker("w1", beat=True)
        stack.wait_until(lambda: stack.states().get("done") == 6, 90, "6 mails done")
        assert proxy.cuts >= 1
    assert "lost the connection to IMAP server" in stack.log("w1")
    assert "while fetching new mail" in stack.log("w1")
    sent, forwarded, lost, duplicated = stack.tally(expected)
    assert (forwarded, lost, duplicated) == (sent, 0, 0)
    assert len(stack.smtp.accepted) == 6


@contextmanager
def private_redis(port: int, folder: Path) -> Iterator[Callable[[], None]]:
    """A redis-server of this test's own on ``port`` (never the shared one); yields a
    function that restarts it. No persistence: a restart loses every queued task."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with running_redis(port, folder) as restart:
        yield restart


def test_the_broker_restarted_while_mail_arrives(
    dovecot: DovecotServer, make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    port = free_port()
    with private_redis(port, tmp_path) as restart:
        stack = make_stack(dovecot, broker_url=f"redis://127.0.0.1:{port}/0")
        stack.start_worker("w1", beat=True)
        expected = _append(stack, 3, "before")
        stack.wait_until(lambda: stack.states().get("done") == 3, 60, "3 mails done")
        # Stop Redis, append while it is down, start it again empty.
        restarting = threading.Thread(target=restart)
        restarting.start()
        time.sleep(0.5)
        expected |= _append(stack, 3, "during")
        restarting.join()
        expected |= _append(stack, 2, "after")
        stack.wait_until(lambda: stack.states().get("done") == 8, 120, "8 mails done")
    sent, forwarded, lost, duplicated = stack.tally(expected)
    assert (forwarded, lost, duplicated) == (sent, 0, 0)
    assert len(stack.smtp.accepted) == 8
