"""Time to erase one person from a store of 100k mails (``mailroom erase``), on SQLite and
PostgreSQL.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_erase.py [--mails 100000]
        [--backends sqlite,postgresql]

Bulk-inserts ``--mails`` parsed mails (a ~1 KB body, compressed raw bytes, one human label
each) into a freshly migrated database (a temporary SQLite file; a new PostgreSQL database
on 127.0.0.1:5432, dropped afterwards), of which 30 are the person's: 20 sent by them, 5
sent to them, 5 quoting their address in the body. Then times
:func:`labeling.store.privacy.erase` and the commit, three times (a fresh person each
time). Say the load average with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert, select

from labeling.settings import load_settings
from labeling.store.db import make_engine, make_session_factory, upgrade
from labeling.store.privacy import erase
from labeling.store.tables import Annotation, Message, Team, User

BODY = (
    "Beste mensen,\n\nIk wil graag weten hoe het staat met mijn schademelding van vorige "
    "week. De garage heeft de offerte al gestuurd en ik heb nog niets gehoord. Kunt u mij "
    "laten weten wanneer de expert langskomt? Ik ben overdag bereikbaar.\n\n"
) * 3
PEOPLE = 3


def _rows(count: int, start: int) -> list[dict[str, Any]]:
    rows = []
    base = datetime(2023, 1, 1, tzinfo=UTC)
    for n in range(start, start + count):
        person = n % 1000  # the person of run p owns mails p*1000+… below
        sender = f"klant{n}@example.nl"
        to = [{"name": "Polderzeker", "email": "info@polderzeker.example"}]
        body = BODY + f"Mijn polis {n:08d}.\n"
        if n < PEOPLE * 1000 and person < 30:
            target = f"erase{n // 1000}@example.org"
            if person < 20:
                sender = target
            elif person < 25:
                to = [{"name": "Klant", "email": target}]
            else:
                body += f"\nVan: Klant <{target}>\n"
        raw = f"From: {sender}\nSubject: Vraag {n}\n\n{body}".encode()
        rows.append(
            {
                "raw_compressed": zlib.compress(raw, 6),
                "raw_size": len(raw),
                "content_hash": hashlib.sha256(raw).hexdigest(),
                "message_id": f"bench-{n}@example.nl",
                "references": [],
                "subject": f"Vraag {n}",
                "subject_key": f"vraag {n}",
                "sender_name": "Klant",
                "sender_email": sender,
                "recipients": {"to": to, "cc": [], "reply_to": []},
                "date": base + timedelta(minutes=n),
                "body_text": body,
                "new_text": body,
                "quoted_text": "",
                "signature": "",
                "attachments": [],
                "language": "nl",
                "parse_defects": [],
                "status": "ok",
                "origin": "archive",
                "source_folder": "Schade",
                "source_ref": str(n),
                "imported_at": base,
            }
        )
    return rows


def run(url: str, mails: int) -> list[float]:
    settings = load_settings({}, database_url=url, instance_path=Path(tempfile.mkdtemp()))
    engine = make_engine(settings)
    upgrade(settings, "head", engine=engine)
    sessions = make_session_factory(engine, writes=True)
    started = time.perf_counter()
    with sessions() as session:
        team = Team(slug="schade", name="Schade")
        user = User(username="lisa", password_hash="x", role="labeler")
        session.add_all([team, user])
        session.commit()
        team_id, user_id = team.id, user.id
    batch = 5000
    for start in range(0, mails, batch):
        with sessions() as session:
            session.execute(insert(Message), _rows(min(batch, mails - start), start))
            ids = session.scalars(
                select(Message.id).where(Message.source_ref.in_(
                    [str(n) for n in range(start, min(start + batch, mails))]
                ))
            ).all()
            session.execute(
                insert(Annotation),
                [
                    {"message_id": i, "team_id": team_id, "user_id": user_id, "source": "human",
                     "created_at": datetime.now(UTC)}
                    for i in ids
                ],
            )
            session.commit()
    print(f"  inserted {mails} mails + labels in {time.perf_counter() - started:.0f} s")
    timings = []
    for person in range(PEOPLE):
        with sessions() as session:
            started = time.perf_counter()
            result = erase(session, f"erase{person}@example.org")
            session.commit()
            timings.append(time.perf_counter() - started)
        print(f"  erase {person}: {result.messages} mails, {result.labels} labels in "
              f"{timings[-1]:.2f} s")
    engine.dispose()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--mails", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    for backend in args.backends.split(","):
        print(f"{backend}: {args.mails} mails, load average {os.getloadavg()[0]:.1f}")
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                timings = run(f"sqlite:///{folder}/bench.sqlite3", args.mails)
        else:
            name = f"mailroom_bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                 autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                timings = run(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args.mails)
            finally:
                with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                                     autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"  median erase: {sorted(timings)[len(timings) // 2]:.2f} s "
              f"(load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
