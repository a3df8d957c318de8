"""How fast and how safely live mail goes from IMAP to its team: the whole worker pipeline.

    .venv/bin/python benchmarks/bench_pipeline.py --rate 20 --duration 30 --workers 2
    mailroom bench-pipeline --rate 20 --duration 30 --workers 2      (runs this script)
    mailroom bench-pipeline --stack embedded --rate 20 --duration 30 --workers 2

Starts a private Dovecot (mailroom/testbed/dovecot_server.py) and a recording aiosmtpd
server (mailroom/testbed/smtp_server.py), trains a small TF-IDF model, starts WORKERS
worker processes (the first with the embedded beat), then appends mail to INBOX at RATE
per second for DURATION seconds from one IMAP connection. Teams, mail, model and worker
commands are the worker tests' own (mailroom/testbed/worker_stack.py). ``--stack``
chooses the database and the broker:

- ``production`` (default): a fresh PostgreSQL database and a Redis database of its own;
  workers are ``celery -A worker worker``.
- ``embedded``: the default install's (``bash scripts/demo.sh``): no database or broker
  URL, so the database is a SQLite file in the instance folder and the broker kombu's
  SQLAlchemy transport on another; workers are ``mailroom worker``, as the demo starts
  them. Mail still comes from Dovecot and leaves through SMTP, so the two stacks differ
  only in database and broker.

Reports throughput and the time from IMAP arrival (APPEND answered) to SMTP acceptance
(the receiver's 250) at p50/p95/p99, and lost / duplicated counts: lost = appended mail
never accepted; duplicated = mail accepted under more than one outgoing Message-ID or at
a wrong address; resent = extra copies under the same Message-ID (the documented window).
It also counts the beat's sweeps during the run (each worker logs at INFO) and the
scheduled tasks the beat could not send; without ``--chaos``, one it could not send is a
failure (exit 2), so a beat that stops, as the embedded one once did, cannot pass.

``--chaos`` turns it into a soak: the broker is a private redis-server that is restarted,
IMAP and SMTP go through proxies that cut every connection, and workers are SIGKILLed and
started again, at random every ``--chaos-every`` seconds, while mail arrives; a share of
the mail (``--machine-share``) is machine mail (auto-replies, bounces, Mailroom's own
forwards coming back: labeling.mail.hygiene). It ends with "sent N, forwarded N, lost 0,
duplicated 0 (resent with the same Message-ID: K)" and how much machine mail reached a
team (must be 0), and exits 2 otherwise. It needs the production stack (it restarts a
Redis broker). ``mailroom bench-pipeline --chaos --rate 20
--duration 500`` is the 10,000-mail soak (not in CI: too long; a short one is, in
tests/integration/test_chaos_soak.py).

It imports only the product packages and :mod:`mailroom.testbed` (aiosmtpd comes with the
``dev`` extras); the ``mailroom`` command runs it from a source checkout. Needs root
(Dovecot); the production stack also PostgreSQL on 127.0.0.1:5432 (user postgres) and
Redis on 127.0.0.1:6379 (database 12 is flushed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from labeling.live.lifecycle import outgoing_message_id  # noqa: E402
from labeling.settings import Settings, load_settings  # noqa: E402
from labeling.store.db import make_engine, make_session_factory, upgrade  # noqa: E402
from mailroom.testbed.dovecot_server import running_dovecot  # noqa: E402
from mailroom.testbed.mail_factory import auto_reply_mail, bounce_mail  # noqa: E402
from mailroom.testbed.ports import free_port  # noqa: E402
from mailroom.testbed.redis_server import running_redis  # noqa: E402
from mailroom.testbed.smtp_server import running_smtp  # noqa: E402
from mailroom.testbed.tcp_proxy import CuttingProxy  # noqa: E402
from mailroom.testbed.worker_stack import (  # noqa: E402
    ADDRESS,
    VOCAB,
    beat_tally,
    celery_worker_argv,
    mailroom_worker_argv,
    seed_teams,
    team_mail,
    train_tiny_model,
    worker_env,
)

REDIS_URL = "redis://127.0.0.1:6379/12"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
STACKS = {
    "production": "Redis broker, PostgreSQL",
    "embedded": "SQLite broker (kombu SQLAlchemy), SQLite database",
}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _recorded_at(settings: Settings) -> dict[str, float]:
    """When the watcher recorded each mail (imported_at), by bracketed Message-ID."""
    from sqlalchemy import select

    from labeling.store.tables import Message

    engine = make_engine(settings)
    try:
        with make_session_factory(engine)() as session:
            rows = session.execute(select(Message.message_id, Message.imported_at)).all()
    finally:
        engine.dispose()
    return {f"<{mid}>": at.timestamp() for mid, at in rows if mid}


def machine_mail(n: int, replied_to: str) -> tuple[str, bytes]:
    """(Message-ID, bytes) of one piece of machine mail: an out-of-office reply to a
    customer's mail, a bounce of a forward, or one of our own forwards coming back."""
    kind = ("auto_reply", "bounce", "loop")[n % 3]
    if kind == "auto_reply":
        message_id = f"ooo-{n}@klant.example"
        raw = auto_reply_mail(message_id=message_id, in_reply_to=replied_to.strip("<>"))
        return f"<{message_id}>", raw
    ours = outgoing_message_id(f"{n:064x}", "schade")
    returned = (
        f"From: mailroom@polder.example\r\nTo: {ADDRESS['schade']}\r\n"
        f"Subject: Fwd: schade {n}\r\nMessage-ID: {ours}\r\nX-Mailroom-Team: schade\r\n"
        "X-Mailroom-Decided-By: model\r\n\r\nDe melding.\r\n"
    ).encode()
    if kind == "bounce":
        message_id = f"dsn-{n}@mx.polder.example"
        return f"<{message_id}>", bounce_mail(message_id=message_id, returned=returned)
    return ours, returned  # a loop: our own forward, delivered back to the inbox


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="mails appended per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of appending")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--stack",
        choices=sorted(STACKS),
        default="production",
        help="database and broker: PostgreSQL and Redis, or the embedded default's SQLite",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="task threads per worker")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait after")
    parser.add_argument("--chaos", action="store_true", help="kill, cut and restart meanwhile")
    parser.add_argument(
        "--chaos-every", type=float, default=5.0, help="mean seconds between two faults"
    )
    parser.add_argument(
        "--machine-share",
        type=float,
        default=None,
        help="share of machine mail (default 0.05 with --chaos, else 0)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the chaos")
    args = parser.parse_args()
    production = args.stack == "production"
    if args.chaos and not production:
        parser.error("--chaos restarts a Redis broker: it needs --stack production")
    machine_share = (
        args.machine_share if args.machine_share is not None else (0.05 if args.chaos else 0.0)
    )
    rng = random.Random(args.seed)

    db_name = f"mailroom_bench_{uuid.uuid4().hex[:12]}"
    if production:
        with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
            admin.execute(f'CREATE DATABASE "{db_name}"')
        redis.Redis.from_url(REDIS_URL).flushdb()
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="mailroom-bench-"))
    try:
        with contextlib.ExitStack() as servers:
            dovecot = servers.enter_context(running_dovecot())
            smtp = servers.enter_context(running_smtp())
            user = dovecot.add_user()
            models = train_tiny_model(tmp / "train")
            broker_url, imap_port, smtp_port = REDIS_URL, dovecot.port, smtp.port
            restart_broker = None
            imap_proxy = smtp_proxy = None
            if args.chaos:
                broker_port = free_port()
                restart_broker = servers.enter_context(running_redis(broker_port, tmp))
                broker_url = f"redis://127.0.0.1:{broker_port}/0"
                imap_proxy = servers.enter_context(CuttingProxy(dovecot.port))
                smtp_proxy = servers.enter_context(CuttingProxy(smtp.port))
                imap_port, smtp_port = imap_proxy.port, smtp_proxy.port
            values = {
                "instance_path": str(tmp / "instance"),
                "mailboxes": dovecot.url(user, "INBOX", port=imap_port),
                "outgoing": "smtp",
                "smtp_host": smtp.host,
                "smtp_port": str(smtp_port),
                "smtp_from": "mailroom@polder.example",
                "worker_concurrency": str(args.concurrency),
                "sweep_interval": "10",
                "log_level": "WARNING",
            }
            if production:
                values.update(
                    database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{db_name}",
                    broker_url=broker_url,
                )
            else:
                # No URLs: SQLite files in the instance folder. `mailroom worker` logs at
                # this level, as `celery -l INFO` does on the production stack.
                values["log_level"] = "INFO"
            if args.chaos:
                # Faults every few seconds: notice them fast, and never give a mail up.
                values.update(
                    sweep_interval="3",
                    claim_timeout="15",
                    lease_ttl="6",
                    idle_timeout="15",
                    imap_timeout="15",
                    retry_backoff_max="5",
                    task_max_retries="100",
                    broker_visibility_timeout="30",
                )
            env = worker_env(values)
            settings = load_settings(env)
            (tmp / "instance").mkdir()
            os.rename(models, tmp / "instance" / "models")
            upgrade(settings)
            engine = make_engine(settings)
            seed_teams(make_session_factory(engine))
            engine.dispose()

            print(f"starting {args.workers} worker(s) ...", flush=True)

            def start_worker(n: int) -> subprocess.Popen[bytes]:
                log = open(tmp / f"w{n}.log", "ab")  # noqa: SIM115 - the child keeps it
                beat = n == 0 or args.chaos
                if production:
                    argv = celery_worker_argv(
                        f"bench{n}", beat_schedule=tmp / f"beat{n}" if beat else None
                    )
                else:
                    argv = mailroom_worker_argv(f"bench{n}", beat=beat)
                proc = subprocess.Popen(
                    argv,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                log.close()
                return proc

            for n in range(args.workers):
                procs.append(start_worker(n))
            deadline = time.monotonic() + 300
            for n, proc in enumerate(procs):
                while "ready." not in (tmp / f"w{n}.log").read_text(errors="replace"):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print((tmp / f"w{n}.log").read_text(errors="replace")[-3000:])
                        return 1
                    time.sleep(0.2)
            beat_started = time.monotonic()
            time.sleep(2)  # a watcher takes the mailbox's lease

            appended = int(args.rate * args.duration)
            teams = list(VOCAB)
            arrival: dict[str, float] = {}
            expected: dict[str, str] = {}
            machine: set[str] = set()
            faults: dict[str, int] = {}
            stop_chaos = threading.Event()

            def revive() -> None:
                # What a supervisor (systemd Restart=always, docs/deploy.md) does: a worker
                # that exited on its own — Celery gives up on a broker that vanished while it
                # was closing its connection — is started again, and counted.
                for n, proc in enumerate(procs):
                    if proc.poll() is not None:
                        faults["worker exited, restarted"] = (
                            faults.get("worker exited, restarted", 0) + 1
                        )
                        procs[n] = start_worker(n)

            def chaos() -> None:
                # Every kind of fault once per round, in a random order.
                actions: list[str] = []
                while not stop_chaos.wait(rng.uniform(0.5, 1.5) * args.chaos_every):
                    revive()
                    if not actions:
                        actions = ["kill", "cut-imap", "cut-smtp", "restart-broker"]
                        rng.shuffle(actions)
                    action = actions.pop()
                    faults[action] = faults.get(action, 0) + 1
                    if action == "kill":
                        n = rng.randrange(len(procs))
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(procs[n].pid, signal.SIGKILL)
                        procs[n].wait(timeout=30)
                        procs[n] = start_worker(n)
                    elif action == "cut-imap" and imap_proxy is not None:
                        imap_proxy.cut()
                    elif action == "cut-smtp" and smtp_proxy is not None:
                        smtp_proxy.cut()
                    elif action == "restart-broker" and restart_broker is not None:
                        restart_broker()

            chaos_thread = threading.Thread(target=chaos, name="chaos", daemon=True)
            load_before = os.getloadavg()
            print(
                f"appending {appended} mails at {args.rate}/s"
                + (f" ({machine_share:.0%} machine mail), with chaos" if args.chaos else "")
                + " ...",
                flush=True,
            )
            if args.chaos:
                chaos_thread.start()
            started = time.monotonic()
            last_customer = ""
            with dovecot.client(user) as client:
                for n in range(appended):
                    due = started + n / args.rate
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    if last_customer and rng.random() < machine_share:
                        message_id, raw = machine_mail(n, last_customer)
                        machine.add(message_id)
                    else:
                        message_id, raw = team_mail(teams[n % 3], n, tag="bench")
                        expected[message_id] = teams[n % 3]
                        last_customer = message_id
                    client.append("INBOX", raw)
                    arrival[message_id] = time.time()
            append_seconds = time.monotonic() - started
            stop_chaos.set()
            if chaos_thread.is_alive():
                chaos_thread.join(timeout=60)
            total = len(expected)
            deadline = time.monotonic() + args.drain
            while time.monotonic() < deadline:
                if expected.keys() <= {a.original_id for a in smtp.accepted}:
                    break
                if args.chaos:
                    revive()
                time.sleep(1)
            if args.chaos:
                time.sleep(3 * float(values["sweep_interval"]))  # machine mail settles
            load_after = os.getloadavg()
            beat_seconds = time.monotonic() - beat_started
            swept, not_sent = beat_tally(
                "\n".join(
                    (tmp / f"w{n}.log").read_text(errors="replace") for n in range(len(procs))
                )
            )

            first: dict[str, float] = {}
            ids: dict[str, set[str]] = {}
            wrong = 0
            machine_forwarded = 0
            for accepted in smtp.accepted:
                original = accepted.original_id
                if original in machine:
                    machine_forwarded += 1
                if original not in expected or accepted.rcpts != (ADDRESS[expected[original]],):
                    wrong += 1
                    continue
                first.setdefault(original, accepted.at)
                ids.setdefault(original, set()).add(accepted.message_id)
            latencies = [first[m] - arrival[m] for m in first]
            lost = total - len(first)
            duplicated = wrong + sum(len(v) - 1 for v in ids.values())
            resent = len(smtp.accepted) - wrong - len(first)
            end = max(first.values()) if first else time.time()
            span = end - min(arrival.values())
            print()
            print(
                f"mails appended      {appended} in {append_seconds:.1f} s "
                f"(target {args.rate}/s for {args.duration} s)"
            )
            print(
                f"workers             {args.workers} x {args.concurrency} threads, "
                f"{STACKS[args.stack]}, Dovecot IMAP IDLE, aiosmtpd"
            )
            print(
                f"forwarded           {len(first)}  (throughput {len(first) / span:.1f} mails/s "
                f"over {span:.1f} s)"
            )
            print(
                f"arrival -> accept   p50 {percentile(latencies, 50):.3f} s   "
                f"p95 {percentile(latencies, 95):.3f} s   p99 {percentile(latencies, 99):.3f} s"
                f"   max {max(latencies, default=float('nan')):.3f} s   "
                f"mean {statistics.fmean(latencies) if latencies else float('nan'):.3f} s"
            )
            print(f"lost {lost}, duplicated {duplicated}, resent (same Message-ID) {resent}")
            print(
                f"beat                {swept} sweeps ran in {beat_seconds:.0f} s "
                f"(one due every {values['sweep_interval']} s), "
                f"{not_sent} scheduled task(s) not sent"
            )
            if args.chaos:
                print(
                    "faults              "
                    + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none")
                )
            if machine:
                print(
                    f"machine mail        {len(machine)} appended (auto-replies, bounces, "
                    f"loops), {machine_forwarded} forwarded to a team"
                )
            print(
                f"sent {total}, forwarded {len(first)}, lost {lost}, duplicated {duplicated} "
                f"(resent with the same Message-ID: {resent})"
            )
            recorded = _recorded_at(settings)
            to_record = [recorded[m] - arrival[m] for m in first if m in recorded]
            to_accept = [first[m] - recorded[m] for m in first if m in recorded]
            print(
                f"  arrival -> recorded (watcher)  p50 {percentile(to_record, 50):.3f} s   "
                f"p95 {percentile(to_record, 95):.3f} s"
            )
            print(
                f"  recorded -> accepted (task)    p50 {percentile(to_accept, 50):.3f} s   "
                f"p95 {percentile(to_accept, 95):.3f} s"
            )
            print(
                f"load average        {load_before[0]:.2f} before, {load_after[0]:.2f} after "
                f"({os.cpu_count()} CPUs, shared)"
            )
            # Under chaos the broker is down now and then: a send that fails then is expected.
            beat_ok = args.chaos or not_sent == 0
            healthy = lost == 0 and duplicated == 0 and machine_forwarded == 0 and beat_ok
            return 0 if healthy else 2
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if production:
            with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    sys.exit(main())
