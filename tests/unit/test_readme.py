"""The README keeps its promises: the two commands first, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

from labeling.settings import settings_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    assert blocks[0].strip().startswith("bash scripts/demo.sh")
    assert blocks[1].strip().startswith("bash scripts/test.sh")
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme() -> None:
    missing = [v for v, _, _ in settings_table() if f"`{v}`" not in README]
    assert not missing, f"run scripts/settings_table.py and paste it into README.md: {missing}"
