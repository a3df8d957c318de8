"""Scale-out: watching, routing and forwarding on separate worker processes (as on separate
hosts, docs/deploy.md), each consuming only its queue — the mail still reaches its team
once, the router never sends, the forwarder never routes."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from mailroom.testbed.dovecot_server import DovecotServer
from mailroom.testbed.worker_stack import VOCAB, Stack, team_mail


def _mailroom_worker(name: str, queues: str, *, beat: bool) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mailroom",
        "worker",
        "-n",
        f"{name}@%h",
        "--queues",
        queues,
        "--beat" if beat else "--no-beat",
    ]


@pytest.mark.slow
def test_watch_route_and_forward_run_on_their_own_workers(
    dovecot: DovecotServer, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(dovecot)
    # The watcher host watches the mailbox and runs the beat; the others only take tasks.
    stack.start_worker("watcher", command=_mailroom_worker("watcher", "watch", beat=True))
    no_watch = {"MAILROOM_WORKER_WATCH": "false"}
    router = _mailroom_worker("router", "route", beat=False)
    forwarder = _mailroom_worker("forwarder", "forward", beat=False)
    for name, argv in (("router", router), ("forwarder", forwarder)):
        stack.start_worker(name, command=argv, env=no_watch, ready=" ready.")
    expected: dict[str, str] = {}
    for n in range(3):
        for team in VOCAB:
            message_id, raw = team_mail(team, n, tag="q")
            stack.append(raw)
            expected[message_id] = team
    stack.wait_until(lambda: stack.states().get("done") == 9, 120, "9 mails done")
    sent, forwarded, lost, duplicated = stack.tally(expected)
    assert (forwarded, lost, duplicated) == (sent, 0, 0)

    router_log, forwarder_log, watcher_log = (
        (stack.tmp / f"{name}.log").read_text(errors="replace")
        for name in ("router", "forwarder", "watcher")
    )
    # (Each log's banner lists every task name; a task run shows as name[id].)
    assert "mailroom.route_message[" in router_log
    assert "mailroom.forward_message[" not in router_log
    assert "mailroom.forward_message[" in forwarder_log
    assert "mailroom.route_message[" not in forwarder_log
    assert "mailroom.route_message[" not in watcher_log
    assert "mailroom.forward_message[" not in watcher_log
