"""How long a labeller waits: label 200 mails with the keyboard in headless Chromium.

Starts the web app on a real server (waitress, as `mailroom serve` does; or werkzeug) with
a seeded store, logs in, and presses each mail's team key, waiting each time until the
next mail is on screen. Prints, over the label requests:

- server time of label+next (the app's own ``Server-Timing`` header: from the start of
  the request to the JSON answer, database work included), p50/p95/max;
- the browser's round trip of that request (Resource Timing: fetch start to response end);
- keypress to next mail shown, as Playwright sees it (includes the driver's own latency);
- the page weight of the labelling page: HTML + CSS + JS bytes, and the first JSON.

A measurement, not a test: it asserts nothing about speed. Run:

    .venv/bin/python benchmarks/bench_labeling.py [--labels 200] [--messages 220]
        [--server waitress|werkzeug] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labeling.settings import Settings, load_settings
from labeling.store.db import upgrade
from mailroom.testbed.browser import LiveServer, browser_missing, launch_chromium
from mailroom.testbed.seeded_archive import PASSWORD, seed_store


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, values: list[float]) -> str:
    p50, p95 = percentile(values, 0.50), percentile(values, 0.95)
    return (
        f"{name:<44} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {max(values):7.1f} ms"
        f"   mean {statistics.fmean(values):6.1f} ms   (n={len(values)})"
    )


@contextmanager
def waitress_server(settings: Settings) -> Iterator[tuple[str, Any]]:
    from waitress import create_server

    from web import create_app

    app = create_app(settings)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", app
    finally:
        server.close()
        app.extensions["mailroom.db"].engine.dispose()


@contextmanager
def werkzeug_server(settings: Settings) -> Iterator[tuple[str, Any]]:
    with LiveServer(settings) as live:
        yield live.url, live.app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--messages", type=int, default=220)
    parser.add_argument("--server", choices=("waitress", "werkzeug"), default="waitress")
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp folder")
    args = parser.parse_args()
    if args.messages < args.labels + 10:
        parser.error("--messages must exceed --labels by at least 10")
    reason = browser_missing()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            {},
            instance_path=Path(tmp) / "instance",
            database_url=args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
        )
        upgrade(settings)
        serve = waitress_server if args.server == "waitress" else werkzeug_server
        with serve(settings) as (base, app):
            seeded = seed_store(app.extensions["mailroom.db"].sessions, messages=args.messages)
            with launch_chromium() as (_playwright, browser):
                weight = page_weight(browser, base, seeded.labeller)
                timings = label_many(browser, base, seeded, args.labels)

    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{args.labels} labels by keyboard, {args.messages} mails, {database}, {args.server}")
    print(summary("server: label + next (Server-Timing)", timings.server_ms))
    print(summary("browser: fetch round trip (Resource Timing)", timings.fetch_ms))
    print(summary("keypress -> next mail shown (via Playwright)", timings.key_ms))
    print(summary("server: progress counts (after, not waited on)", timings.progress_ms))
    load = os.getloadavg()[0]
    print(f"(load average while it ran: {load:.1f} on {os.cpu_count()} CPUs)")
    print("\npage weight of /label (uncompressed bytes, first visit, empty cache):")
    for name, size in weight["items"]:
        print(f"  {name:<40} {size:>8,} B")
    print(f"  {'HTML + CSS + JS':<40} {weight['total']:>8,} B")
    print(f"  {'first /api/next JSON':<40} {weight['json']:>8,} B")
    return 0


def page_weight(browser: Any, base: str, username: str) -> dict[str, Any]:
    # Log in in one context, then load the page in a new one that has the session cookie
    # but an empty cache, as a labeller's first visit.
    context = browser.new_context()
    log_in(context.new_page(), base, username)
    cold = browser.new_context(storage_state=context.storage_state())
    page = cold.new_page()
    sizes: dict[str, int] = {}
    json_size = 0

    def on_response(response: Any) -> None:
        nonlocal json_size
        kind = response.request.resource_type
        path = response.url.removeprefix(base).split("?")[0]
        if kind in ("document", "stylesheet", "script"):
            sizes[f"{kind}: {path}"] = len(response.body())
        elif path == "/api/next" and not json_size:
            json_size = len(response.body())

    page.on("response", on_response)
    page.goto(f"{base}/label")
    page.wait_for_selector("#message:not([hidden])")
    cold.close()
    context.close()
    items = sorted(sizes.items())
    return {"items": items, "total": sum(sizes.values()), "json": json_size}


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"{base}/label")  # via / , which sends a labeller here
    page.wait_for_selector("#message:not([hidden])")


@dataclass
class Timings:
    server_ms: list[float]
    fetch_ms: list[float]
    key_ms: list[float]
    progress_ms: list[float]


def label_many(browser: Any, base: str, seeded: Any, labels: int) -> Timings:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    log_in(page, base, seeded.labeller)
    page.evaluate("performance.setResourceTimingBufferSize(10000)")
    key_ms: list[float] = []
    for _ in range(labels):
        shown = int(page.inner_text("#m-id").lstrip("#"))
        key = seeded.hotkeys[seeded.truth[shown]]
        started = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(
            "([before]) => !document.body.classList.contains('busy')"
            " && document.getElementById('m-id').textContent !== '#' + before",
            arg=[shown],
            polling="raf",
        )
        key_ms.append((time.perf_counter() - started) * 1000)
    entries = page.evaluate(
        """() => performance.getEntriesByType('resource')
            .map(e => ({
                path: new URL(e.name).pathname,
                fetch: e.responseEnd - e.startTime,
                server: (e.serverTiming.find(t => t.name === 'app') || {}).duration,
            }))"""
    )
    context.close()
    labels_ = [e for e in entries if e["path"] == "/api/label" and e["server"] is not None]
    counts = [e for e in entries if e["path"] == "/api/progress" and e["server"] is not None]
    return Timings(
        server_ms=[e["server"] for e in labels_],
        fetch_ms=[e["fetch"] for e in labels_],
        key_ms=key_ms,
        progress_ms=[e["server"] for e in counts],
    )


if __name__ == "__main__":
    sys.exit(main())
