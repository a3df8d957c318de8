"""Print the README's settings table from the settings object (the one source of truth).

Usage: .venv/bin/python scripts/settings_table.py
"""

from __future__ import annotations

from labeling.settings import settings_table


def main() -> None:
    print("| variable | default | what it does |")
    print("|---|---|---|")
    for variable, default, description in settings_table():
        shown = "—" if default in ("None", "[]") else f"`{default}`"
        if default.startswith("PosixPath("):
            shown = "`" + default.removeprefix("PosixPath(").removesuffix(")").strip("'") + "`"
        if len(shown) > 80:
            shown = "(long: `mailroom settings` shows it)"
        description = description.replace("|", "\\|")
        print(f"| `{variable}` | {shown} | {description} |")


if __name__ == "__main__":
    main()
