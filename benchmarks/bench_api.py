"""POST /api/v1/classify over real HTTP: latency (p50/p95/p99) one request at a time, and
throughput with several clients at once, on an instance with an active model (the demo's).

Usage (after `mailroom demo` has run in INSTANCE; nothing else should be running):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_api.py --instance instance \
        [--requests 300] [--clients 4]

The texts are the instance's own live mail (subject and new text), sent as a helpdesk would.
The server is the app on werkzeug's threaded server in this process (as the browser tests
use it); the token is made for the run and revoked at the end. Prints the figures and the
load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from labeling.settings import load_settings  # noqa: E402
from labeling.store.api_tokens import create_token, revoke_token  # noqa: E402
from labeling.store.tables import Message  # noqa: E402
from mailroom.testbed.browser import LiveServer  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def post(url: str, token: str, body: dict[str, str]) -> tuple[float, int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        payload = json.loads(answer.read())
        return time.perf_counter() - started, answer.status, payload


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", type=Path, default=ROOT / "instance")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    options = parser.parse_args()
    settings = load_settings(
        {
            "MAILROOM_INSTANCE_PATH": str(options.instance),
            "MAILROOM_API_RATE_LIMIT": "100000",
        }
    )
    with LiveServer(settings) as server:
        with server.sessions() as session:
            rows = session.execute(
                select(Message.subject, Message.new_text, Message.sender_email)
                .where(Message.origin == "live", Message.status == "ok")
                .order_by(Message.id)
            ).all()
            new = create_token(session, f"bench-{os.getpid()}", ["classify"])
            session.commit()
        if not rows:
            print("no live mail in this instance: run the demo first", file=sys.stderr)
            return 1
        bodies = [
            {"subject": subject, "text": text or subject, "sender": sender or "x@example.nl"}
            for subject, text, sender in rows
        ]
        url = f"{server.url}/api/v1/classify"
        post(url, new.token, bodies[0])  # the model loads on the first request
        load_before = os.getloadavg()
        latencies: list[float] = []
        modes: dict[str, int] = {}
        for i in range(options.requests):
            seconds, status, payload = post(url, new.token, bodies[i % len(bodies)])
            assert status == 200, payload
            latencies.append(seconds)
            mode = str(payload.get("mode"))
            modes[mode] = modes.get(mode, 0) + 1
        per_client = options.requests // options.clients
        done = 0
        lock = threading.Lock()

        def client(offset: int) -> None:
            nonlocal done
            for i in range(per_client):
                post(url, new.token, bodies[(offset + i) % len(bodies)])
                with lock:
                    done += 1

        threads = [threading.Thread(target=client, args=(k * 37,)) for k in range(options.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        load_after = os.getloadavg()
        with server.sessions() as session:
            revoke_token(session, new.id)
            session.commit()
    print(f"classify, one client: {len(latencies)} requests")
    print(
        f"  latency p50 {1000 * statistics.median(latencies):.0f} ms, "
        f"p95 {1000 * percentile(latencies, 0.95):.0f} ms, "
        f"p99 {1000 * percentile(latencies, 0.99):.0f} ms, max {1000 * max(latencies):.0f} ms"
    )
    print(f"  answers: {modes}")
    print(
        f"classify, {options.clients} clients at once: {done} requests in {elapsed:.1f} s, "
        f"{done / elapsed:.1f} requests/s"
    )
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} CPUs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
