"""Screenshots of the labelling page, the review page and the dashboard for the README, from
a demo instance, in Dutch (``NAME.png``, the interface's first language) and in English
(``NAME-en.png``, as a browser that asks for English gets it).

Usage: .venv/bin/python scripts/screenshots.py [INSTANCE]   (default: ./instance)
after `mailroom demo` has run there. Needs Debian's Chromium (see mailroom/testbed/browser.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeling.settings import load_settings  # noqa: E402
from mailroom.commands.demo import DEMO_PASSWORD  # noqa: E402
from mailroom.testbed.browser import LiveServer, launch_chromium  # noqa: E402

SHOTS = (
    ("lisa", "/label", "labeling", 860),
    ("rob", "/review", "review", 860),
    ("admin", "/dashboard", "dashboard", 1250),
)
LOCALES = (("nl-NL", ""), ("en-GB", "-en"))


def main() -> int:
    instance = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "instance"
    settings = load_settings({"MAILROOM_INSTANCE_PATH": str(instance)})
    out = ROOT / "docs" / "screenshots"
    with LiveServer(settings) as server, launch_chromium() as (_playwright, chromium):
        for (user, path, name, height), (locale, suffix) in (
            (shot, loc) for shot in SHOTS for loc in LOCALES
        ):
            context = chromium.new_context(
                viewport={"width": 1280, "height": height}, locale=locale
            )
            page = context.new_page()
            page.goto(f"{server.url}/login")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", DEMO_PASSWORD)
            with page.expect_navigation():
                page.press("input[name=password]", "Enter")
            page.goto(f"{server.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{name}{suffix}.png"))
            context.close()
            print(out / f"{name}{suffix}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
