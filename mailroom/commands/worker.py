"""``mailroom worker`` and ``mailroom bench-pipeline``.

``mailroom worker`` runs one worker process: Celery's worker (task threads), its embedded
beat (``-B``, the periodic sweep) and the mailbox watchers, all from the same settings.
SIGINT or SIGTERM stops it cleanly: running tasks finish, watchers give their leases up.
``celery -A worker worker`` starts the same worker from Celery's own CLI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from labeling.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BENCH_SCRIPT = ROOT / "benchmarks" / "bench_pipeline.py"


@click.command("worker")
@click.option(
    "--beat/--no-beat",
    default=True,
    show_default=True,
    help="Also run the periodic sweep (Celery beat, embedded). Extra beats are harmless.",
)
@click.option(
    "--watch/--no-watch",
    default=None,
    help="Also watch the mailboxes (default: MAILROOM_WORKER_WATCH).",
)
@click.option(
    "-Q",
    "--queues",
    default="watch,route,forward",
    show_default=True,
    help="Which work this process takes, comma separated: watch (the beat's sweep, "
    "retention, retrain), route (the model), forward (SMTP/IMAP). See docs/deploy.md.",
)
@click.option("-c", "--concurrency", type=click.IntRange(1, 64), help="Task threads.")
@click.option("-n", "--name", default="mailroom@%h", show_default=True, help="Worker name.")
@click.pass_obj
def worker_command(
    settings: Settings,
    beat: bool,
    watch: bool | None,
    queues: str,
    concurrency: int | None,
    name: str,
) -> None:
    """Route live mail: watch the mailboxes, classify, forward, retry.

    Mailboxes: MAILROOM_MAILBOXES (default: the instance's Maildir inbox). Outgoing:
    MAILROOM_OUTGOING (default: per-team Maildir folders). Broker: MAILROOM_BROKER_URL
    (default: a SQLite file, no server needed).
    """
    from labeling.store.db import check_schema, make_engine
    from worker.celery import make_celery, prepare_broker
    from worker.enqueue import queue_names

    try:
        names = queue_names(queues)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--queues") from None
    if not names:
        raise click.BadParameter("name at least one queue", param_hint="--queues")

    updates: dict[str, object] = {}
    if watch is not None:
        updates["worker_watch"] = watch
    if concurrency is not None:
        updates["worker_concurrency"] = concurrency
    if updates:
        settings = settings.model_copy(update=updates)
    engine = make_engine(settings)
    try:
        check_schema(engine)  # a clear error now rather than in every task
    finally:
        engine.dispose()
    app = make_celery(settings, watch=settings.worker_watch)
    prepare_broker(app)
    argv = ["worker", "-n", name, "-l", settings.log_level, "--without-gossip", "--without-mingle"]
    argv += ["-Q", ",".join(names)]
    if beat:
        argv.append("-B")
    app.worker_main(argv)


@click.command("bench-pipeline", context_settings={"ignore_unknown_options": False})
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=20.0,
    show_default=True,
    help="Mails appended per second.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds of appending.",
)
@click.option(
    "--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Worker processes."
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Task threads per worker.",
)
@click.option(
    "--stack",
    type=click.Choice(["production", "embedded"]),
    default="production",
    show_default=True,
    help="Database and broker: PostgreSQL and Redis, or the embedded default's SQLite "
    "database and SQLite broker (workers started as `mailroom worker`, as the demo does).",
)
@click.option(
    "--chaos",
    is_flag=True,
    help="A soak: SIGKILL workers, cut IMAP and SMTP connections and restart the broker at "
    "random while mail (5 % of it machine mail) arrives; exits 2 unless nothing was lost "
    "or duplicated and no machine mail reached a team.",
)
@click.option(
    "--chaos-every",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Mean seconds between two faults.",
)
@click.option(
    "--drain",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds to wait for the last forwards (default 120, 600 with --chaos).",
)
def bench_pipeline_command(
    rate: float,
    duration: float,
    workers: int,
    concurrency: int,
    stack: str,
    chaos: bool,
    chaos_every: float,
    drain: float | None,
) -> None:
    """Measure the live pipeline: IMAP arrival to SMTP acceptance (p50/p95/p99),
    throughput, lost and duplicated mail. With --chaos, a soak under faults: `--chaos
    --rate 20 --duration 500` pushes 10,000 mails.

    Starts a private Dovecot, a local SMTP receiver, a fresh PostgreSQL database and Redis
    database (--stack embedded: SQLite files instead), trains a small TF-IDF model, starts
    WORKERS worker processes, and appends mail at RATE for DURATION seconds. Also reports
    how many sweeps the beat ran. Needs root (Dovecot); the production stack also
    PostgreSQL and Redis on 127.0.0.1. Runs benchmarks/bench_pipeline.py from a source
    checkout.
    """
    if chaos and stack != "production":
        raise click.UsageError("--chaos restarts a Redis broker: it needs --stack production")
    if not BENCH_SCRIPT.exists():
        raise click.ClickException(
            f"{BENCH_SCRIPT} not found: the benchmark runs from a source checkout"
        )
    args = [
        sys.executable,
        str(BENCH_SCRIPT),
        "--rate",
        str(rate),
        "--duration",
        str(duration),
        "--workers",
        str(workers),
        "--concurrency",
        str(concurrency),
        "--stack",
        stack,
        "--drain",
        str(drain if drain is not None else (600.0 if chaos else 120.0)),
    ]
    if chaos:
        args += ["--chaos", "--chaos-every", str(chaos_every)]
    completed = subprocess.run(args, cwd=ROOT, check=False)
    if completed.returncode:
        sys.exit(completed.returncode)


commands: list[click.Command] = [worker_command, bench_pipeline_command]
