"""How fast mail imports from an IMAP server: a private Dovecot, the real import runner.

    .venv/bin/python benchmarks/bench_imap_import.py [--count N] [--maildir PATH | --synthetic]
        [--batch-size B] [--database-url URL] [--fetch-repeats R]

Starts a private Dovecot on 127.0.0.1 the way the tests do (``mailroom.testbed``; needs root
and ``dovecot-imapd``), appends the mails to one account, folder by folder, and then times

* **fetch only**: iterating :class:`labeling.importers.imap_source.ImapSource` over the whole
  account (best of ``--fetch-repeats``): what the IMAP side costs;
* **run_import**: :func:`labeling.importers.run.run_import` from the ``imap://`` URL into a new
  store (a SQLite file in a temporary folder, or ``--database-url``, which must point at an
  empty database): fetching, parsing, deduplicating and committing, as
  ``mailroom import imap://…`` does.

The mails come from ``--maildir PATH`` (a Maildir tree, every folder), or else from the demo
corpus (``data/demo_corpus.py``: ``--count`` archived mails, generated into a temporary
folder), or ``--synthetic`` varied test mails. Prints messages per second; the machine is
shared, so the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import mailbox
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Run as a script from anywhere: the repository root holds the packages.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labeling.importers.imap_source import ImapSource  # noqa: E402
from mailroom.testbed.dovecot_server import (  # noqa: E402
    DovecotServer,
    DovecotUnavailable,
    check_dovecot,
    running_dovecot,
)
from mailroom.testbed.mail_factory import varied_mails  # noqa: E402

USER = "bench"


def read_maildir_tree(path: Path) -> dict[str, list[bytes]]:
    """Every mail of a Maildir tree by IMAP folder name: the root is INBOX, Maildir++
    ``.Name`` folders keep their name (Dovecot's '.' delimiter)."""
    root = mailbox.Maildir(path, factory=None, create=False)
    folders = {"INBOX": [root.get_bytes(key) for key in sorted(root.keys())]}
    for name in sorted(root.list_folders()):
        sub = root.get_folder(name)
        folders[name] = [sub.get_bytes(key) for key in sorted(sub.keys())]
    return {name: mails for name, mails in folders.items() if mails}


def load_mails(args: argparse.Namespace, scratch: Path) -> tuple[str, dict[str, list[bytes]]]:
    """(what the mails are, mails by folder)."""
    if args.maildir:
        return f"Maildir {args.maildir}", read_maildir_tree(Path(args.maildir))
    if not args.synthetic and importlib.util.find_spec("data.demo_corpus") is not None:
        from data import TEAMS_FILE
        from data.demo_corpus import generate
        from labeling.store.teams import load_teams_file

        summary = generate(
            scratch / "corpus", load_teams_file(TEAMS_FILE), count=args.count, inbox_count=0
        )
        return f"demo corpus (seed {summary.seed})", read_maildir_tree(summary.maildir)
    mails = varied_mails(args.count, tag="bench")
    third = len(mails) // 3
    return "varied test mails", {
        "INBOX": mails[:third],
        "Claims": mails[third : 2 * third],
        "Policy.Changes": mails[2 * third :],
    }


@contextmanager
def timed() -> Iterator[list[float]]:
    """Yields a list that gets [wall seconds, CPU seconds of this process]."""
    took: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()
    yield took
    took += [time.perf_counter() - started, time.process_time() - cpu]


def rate(count: int, took: list[float]) -> str:
    """Wall-clock rate, and the rate per CPU-second of this process: on a shared machine
    the second barely moves with the load (the server's own CPU is not in it)."""
    wall, cpu = took
    return (
        f"{count} mails in {wall:.2f} s = {count / wall:,.0f} mails/s "
        f"({count / cpu:,.0f} per CPU-second of this process)"
    )


def bench_fetch(
    server: DovecotServer, batch_size: int, repeats: int
) -> tuple[int, int, list[float]]:
    """(mails, bytes, [wall, CPU] of the fastest) for reading the account with ImapSource."""
    best = [float("inf"), float("inf")]
    count = size = 0
    for _ in range(repeats):
        source = ImapSource(server.url(USER), batch_size=batch_size)
        with timed() as took:
            count = size = 0
            for mail in source:
                count += 1
                size += len(mail.raw)
        best = min(best, took)
    return count, size, best


def bench_run_import(
    server: DovecotServer, batch_size: int, database_url: str | None, scratch: Path
) -> str:
    if importlib.util.find_spec("labeling.mail.mime") is None:
        return "skipped: labeling.mail.mime (the MIME parser the store needs) is not there yet"
    from labeling.importers.run import run_import
    from labeling.settings import load_settings
    from labeling.store.db import make_engine, make_session_factory, upgrade

    settings = load_settings(
        {},
        instance_path=scratch / "instance",
        database_url=database_url or f"sqlite:///{scratch / 'bench.sqlite3'}",
        import_batch_size=batch_size,
    )
    upgrade(settings)
    engine = make_engine(settings)
    try:
        sessions = make_session_factory(engine)
        with timed() as took:
            summary = run_import(sessions, server.url(USER), batch_size=batch_size, progress=False)
    finally:
        engine.dispose()
    return (
        f"{rate(summary.total, took)} (imported {summary.imported}, "
        f"duplicates {summary.duplicates}, quarantined {summary.quarantined}; "
        f"{engine.url.get_backend_name()})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2400, help="mails to generate")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--maildir", help="import the mails of this Maildir tree")
    source.add_argument("--synthetic", action="store_true", help="varied test mails")
    parser.add_argument("--batch-size", type=int, default=200, help="UIDs per FETCH")
    parser.add_argument("--database-url", help="an empty database (default: SQLite in tmp)")
    parser.add_argument("--fetch-repeats", type=int, default=3)
    args = parser.parse_args(argv)

    try:
        check_dovecot()
    except DovecotUnavailable as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="bench-imap-") as tmp,
        running_dovecot({USER: "bench-secret"}) as server,
    ):
        scratch = Path(tmp)
        what, folders = load_mails(args, scratch)
        total = sum(len(mails) for mails in folders.values())
        size = sum(len(raw) for mails in folders.values() for raw in mails)
        version = subprocess.run(
            [server.binary, "--version"], capture_output=True, text=True, check=False
        ).stdout.split()[0]
        print(
            f"Dovecot {version} on {server.host}:{server.port}; {what}: {total} mails, "
            f"{size / 1e6:.1f} MB in {len(folders)} folders; batch {args.batch_size}"
        )
        with timed() as took:
            for folder, mails in folders.items():
                server.append_many(USER, folder, mails)
        print(f"append (setup): {rate(total, took)}")
        load = os.getloadavg()[0]
        count, fetched, took = bench_fetch(server, args.batch_size, args.fetch_repeats)
        print(
            f"fetch only:     {rate(count, took)}, {fetched / took[0] / 1e6:.1f} MB/s "
            f"(best of {args.fetch_repeats})"
        )
        outcome = bench_run_import(server, args.batch_size, args.database_url, scratch)
        print(f"run_import:     {outcome}")
        print(
            f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the start "
            "(shared: the figures move with it)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
