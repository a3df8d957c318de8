"""Keeping the ``teams`` table in step with a list of team definitions.

Generic over anything with the attributes of :class:`TeamLike` (``data.teams.TeamSpec``
is one), so this package never imports ``data``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labeling.errors import ConfigError
from labeling.models import Annotation, Team

FIELDS = ("name", "description", "forward_address", "imap_folder", "hotkey")


class TeamLike(Protocol):
    """What :func:`sync_teams` reads from each team definition."""

    @property
    def slug(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def forward_address(self) -> str: ...
    @property
    def imap_folder(self) -> str: ...
    @property
    def hotkey(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class TeamDefinition:
    """A plain :class:`TeamLike`, for callers whose team objects name things differently."""

    slug: str
    name: str
    description: str = ""
    forward_address: str = ""
    imap_folder: str = ""
    hotkey: str | None = None


@dataclass(frozen=True, slots=True)
class TeamSyncSummary:
    """Slugs created, changed and unchanged; ``not_in_specs``: teams in the store only."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    not_in_specs: tuple[str, ...]


def sync_teams(session: Session, specs: Iterable[TeamLike]) -> TeamSyncSummary:
    """Create or update one team per spec, matched by slug.

    Teams missing from ``specs`` are left alone (archiving is a deliberate act, and their
    labels stay valid). A spec for an archived team updates it but does not revive it.
    Raises :class:`ConfigError` for a repeated slug or hotkey. Flushes, does not commit.
    """
    specs = list(specs)
    _check_unique(specs)
    existing = {team.slug: team for team in session.scalars(select(Team))}
    listed = {spec.slug for spec in specs}
    taken = {
        team.hotkey: team.slug
        for team in existing.values()
        if team.slug not in listed and team.hotkey and team.archived_at is None
    }
    for spec in specs:
        if spec.hotkey and spec.hotkey in taken:
            raise ConfigError(
                f"team {spec.slug}: hotkey {spec.hotkey!r} is taken by team {taken[spec.hotkey]}"
            )

    # Hotkeys are unique among active teams; clearing the ones that change first lets two
    # teams swap keys without a momentary duplicate.
    moving = [
        existing[spec.slug]
        for spec in specs
        if spec.slug in existing and existing[spec.slug].hotkey != (spec.hotkey or None)
    ]
    for team in moving:
        team.hotkey = None
    session.flush()

    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    for spec in specs:
        values = {name: getattr(spec, name) for name in FIELDS}
        values["hotkey"] = values["hotkey"] or None
        if spec.slug not in existing:
            session.add(Team(slug=spec.slug, **values))
            created.append(spec.slug)
            continue
        team = existing[spec.slug]
        changed = team in moving
        for name, value in values.items():
            if getattr(team, name) != value:
                setattr(team, name, value)
                changed = True
        (updated if changed else unchanged).append(spec.slug)
    session.flush()
    return TeamSyncSummary(
        created=tuple(created),
        updated=tuple(updated),
        unchanged=tuple(unchanged),
        not_in_specs=tuple(sorted(slug for slug in existing if slug not in listed)),
    )


def _check_unique(specs: list[TeamLike]) -> None:
    for attribute in ("slug", "hotkey"):
        seen: set[str] = set()
        for spec in specs:
            value = getattr(spec, attribute)
            if not value:
                continue
            if value in seen:
                raise ConfigError(f"two teams have the {attribute} {value!r}")
            seen.add(value)


@dataclass(frozen=True, slots=True)
class TeamRow:
    """A team as listed for people, with its number of current labels."""

    slug: str
    name: str
    hotkey: str | None
    imap_folder: str
    forward_address: str
    archived: bool
    labels: int


def team_overview(session: Session) -> list[TeamRow]:
    """Every team, active first, each with the number of its current (non-superseded) labels."""
    labels: dict[int, int] = {
        team_id: number
        for team_id, number in session.execute(
            select(Annotation.team_id, func.count(Annotation.id))
            .where(Annotation.superseded_at.is_(None))
            .group_by(Annotation.team_id)
        )
    }
    teams = session.scalars(select(Team).order_by(Team.archived_at.is_not(None), Team.id))
    return [
        TeamRow(
            slug=team.slug,
            name=team.name,
            hotkey=team.hotkey,
            imap_folder=team.imap_folder,
            forward_address=team.forward_address,
            archived=team.archived_at is not None,
            labels=labels.get(team.id, 0),
        )
        for team in teams
    ]


def active_teams_by_key(session: Session) -> list[Team]:
    """The teams mail can go to, in the order of their keys: hotkeyed teams by key, then
    the rest by name (the order the labelling and review pages list them)."""
    teams = session.scalars(select(Team).where(Team.archived_at.is_(None))).all()
    return sorted(teams, key=lambda team: (team.hotkey is None, team.hotkey or "", team.name))
