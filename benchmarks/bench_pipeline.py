"""How fast and how safely live mail goes from IMAP to its team: the whole worker pipeline.

    .venv/bin/python benchmarks/bench_pipeline.py --rate 20 --duration 30 --workers 2
    mailroom bench-pipeline --rate 20 --duration 30 --workers 2      (runs this script)

Starts a private Dovecot (mailroom/testbed/dovecot_server.py), a recording aiosmtpd server
(mailroom/testbed/smtp_server.py), a fresh PostgreSQL database and a Redis database of its
own, trains a small TF-IDF model, starts WORKERS worker processes (``celery -A
worker worker``, the first with the embedded beat), then appends mail to INBOX at RATE
per second for DURATION seconds from one IMAP connection. Teams, mail, model and worker
command are the worker tests' own (mailroom/testbed/worker_stack.py).

Reports throughput and the time from IMAP arrival (APPEND answered) to SMTP acceptance
(the receiver's 250) at p50/p95/p99, and lost / duplicated counts: lost = appended mail
never accepted; duplicated = mail accepted under more than one outgoing Message-ID or at
a wrong address; resent = extra copies under the same Message-ID (the documented window).

It imports only the product packages and :mod:`mailroom.testbed` (aiosmtpd comes with the
``dev`` extras); the ``mailroom`` command runs it from a source checkout. Needs root
(Dovecot), PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379
(database 12 is flushed).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from labeling.settings import Settings, load_settings  # noqa: E402
from labeling.store.db import make_engine, make_session_factory, upgrade  # noqa: E402
from mailroom.testbed.dovecot_server import running_dovecot  # noqa: E402
from mailroom.testbed.smtp_server import running_smtp  # noqa: E402
from mailroom.testbed.worker_stack import (  # noqa: E402
    ADDRESS,
    VOCAB,
    celery_worker_argv,
    seed_teams,
    team_mail,
    train_tiny_model,
    worker_env,
)

REDIS_URL = "redis://127.0.0.1:6379/12"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="mails appended per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of appending")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="task threads per worker")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds to wait after")
    args = parser.parse_args()

    db_name = f"mailroom_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute(f'CREATE DATABASE "{db_name}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="mailroom-bench-"))
    try:
        with running_dovecot() as dovecot, running_smtp() as smtp:
            user = dovecot.add_user()
            models = train_tiny_model(tmp / "train")
            values = {
                "instance_path": str(tmp / "instance"),
                "database_url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{db_name}",
                "broker_url": REDIS_URL,
                "mailboxes": dovecot.url(user, "INBOX"),
                "outgoing": "smtp",
                "smtp_host": smtp.host,
                "smtp_port": str(smtp.port),
                "smtp_from": "mailroom@polder.example",
                "worker_concurrency": str(args.concurrency),
                "sweep_interval": "10",
                "log_level": "WARNING",
            }
            env = worker_env(values)
            settings = load_settings(env)
            (tmp / "instance").mkdir()
            os.rename(models, tmp / "instance" / "models")
            upgrade(settings)
            engine = make_engine(settings)
            seed_teams(make_session_factory(engine))
            engine.dispose()

            print(f"starting {args.workers} worker(s) ...", flush=True)
            for n in range(args.workers):
                log = open(tmp / f"w{n}.log", "wb")  # noqa: SIM115 - the child keeps it
                beat = tmp / "beat" if n == 0 else None
                argv = celery_worker_argv(f"bench{n}", beat_schedule=beat)
                procs.append(
                    subprocess.Popen(
                        argv,
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                log.close()
            deadline = time.monotonic() + 300
            for n, proc in enumerate(procs):
                while "ready." not in (tmp / f"w{n}.log").read_text(errors="replace"):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print((tmp / f"w{n}.log").read_text(errors="replace")[-3000:])
                        return 1
                    time.sleep(0.2)
            time.sleep(2)  # a watcher takes the mailbox's lease

            total = int(args.rate * args.duration)
            teams = list(VOCAB)
            mails = [team_mail(teams[n % 3], n, tag="bench") for n in range(total)]
            arrival: dict[str, float] = {}
            expected: dict[str, str] = {}
            load_before = os.getloadavg()
            print(f"appending {total} mails at {args.rate}/s ...", flush=True)
            started = time.monotonic()
            with dovecot.client(user) as client:
                for n, (message_id, raw) in enumerate(mails):
                    due = started + n / args.rate
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    client.append("INBOX", raw)
                    arrival[message_id] = time.time()
                    expected[message_id] = teams[n % 3]
            append_seconds = time.monotonic() - started
            smtp.wait_for(total, timeout=args.drain)
            load_after = os.getloadavg()

            first: dict[str, float] = {}
            ids: dict[str, set[str]] = {}
            wrong = 0
            for accepted in smtp.accepted:
                original = accepted.original_id
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
                f"mails appended      {total} in {append_seconds:.1f} s "
                f"(target {args.rate}/s for {args.duration} s)"
            )
            print(
                f"workers             {args.workers} x {args.concurrency} threads, "
                f"Redis broker, PostgreSQL, Dovecot IMAP IDLE, aiosmtpd"
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
            return 0 if lost == 0 and duplicated == 0 else 2
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        with psycopg.connect(**PG, autocommit=True) as admin:  # type: ignore[arg-type]
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    sys.exit(main())
