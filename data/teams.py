"""The demo insurer's teams, read from ``data/teams.toml``.

Other code (the store's ``teams sync``, the web admin, the demo corpus) reads teams only
through :func:`load_teams`, which validates the file and returns :class:`TeamSpec` values in
display order::

    from data.teams import load_teams
    for team in load_teams():
        print(team.hotkey, team.slug, team.folder, team.forward_to)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]+$")
_FIELDS = ("slug", "name", "description", "forward_to", "folder", "hotkey")


@dataclass(frozen=True)
class TeamSpec:
    """One team as configured.

    ``slug`` is the stable identifier used in labels and truth files; ``name`` the display
    name; ``description`` the labelling guideline staff read (what belongs here and what does
    not); ``forward_to`` the address routed mail goes to; ``folder`` the IMAP/Maildir folder
    name of the team's mail (no ``.`` or ``/``); ``hotkey`` the key 1-9 in the labelling UI.
    """

    slug: str
    name: str
    description: str
    forward_to: str
    folder: str
    hotkey: int


def default_teams_path() -> Path:
    """Path of the bundled ``teams.toml``."""
    return Path(str(resources.files("data").joinpath("teams.toml")))


def load_teams(path: Path | None = None) -> tuple[TeamSpec, ...]:
    """Read and validate a teams file (default: the bundled ``data/teams.toml``).

    Raises ``ValueError`` naming the offending team and field when the file is not valid:
    a missing or extra field, a bad slug, address, folder or hotkey, or a duplicate slug,
    folder or hotkey. A missing file raises ``FileNotFoundError``.
    """
    source = path if path is not None else default_teams_path()
    with open(source, "rb") as handle:
        try:
            document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{source}: not valid TOML: {exc}") from exc
    tables = document.get("team")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{source}: expected one or more [[team]] tables")
    teams = tuple(_team_from_table(table, index, source) for index, table in enumerate(tables))
    for field in ("slug", "folder", "hotkey"):
        seen: set[object] = set()
        for team in teams:
            value = getattr(team, field)
            if value in seen:
                raise ValueError(f"{source}: duplicate {field} {value!r} (team {team.slug!r})")
            seen.add(value)
    return teams


def team_by_slug(teams: tuple[TeamSpec, ...] | None = None) -> dict[str, TeamSpec]:
    """Map slug -> team, in display order (default: the bundled teams)."""
    return {team.slug: team for team in (teams if teams is not None else load_teams())}


def _team_from_table(table: Any, index: int, source: Path) -> TeamSpec:
    where = f"{source}: team #{index + 1}"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: expected a table")
    missing = [field for field in _FIELDS if field not in table]
    extra = sorted(set(table) - set(_FIELDS))
    if missing or extra:
        raise ValueError(f"{where}: missing fields {missing}, unknown fields {extra}")
    for field in _FIELDS[:-1]:
        if not isinstance(table[field], str) or not table[field].strip():
            raise ValueError(f"{where}: {field} must be a non-empty string")
    slug, folder, hotkey = table["slug"], table["folder"], table["hotkey"]
    if not _SLUG.match(slug):
        raise ValueError(f"{where}: slug {slug!r} must be lowercase letters, digits and '-'")
    if not _ADDRESS.match(table["forward_to"]):
        raise ValueError(f"{where}: forward_to {table['forward_to']!r} is not an e-mail address")
    if any(char in folder for char in "./\\") or folder.upper() == "INBOX":
        raise ValueError(f"{where}: folder {folder!r} may not contain '.', '/', '\\' or be INBOX")
    if isinstance(hotkey, bool) or not isinstance(hotkey, int) or not 1 <= hotkey <= 9:
        raise ValueError(f"{where}: hotkey must be an integer 1-9, got {hotkey!r}")
    return TeamSpec(
        slug=slug,
        name=table["name"].strip(),
        description=" ".join(table["description"].split()),
        forward_to=table["forward_to"],
        folder=folder,
        hotkey=hotkey,
    )
