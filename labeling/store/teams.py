"""The teams: one description of a team, the teams file, and every write to the ``teams`` table.

A :class:`TeamDefinition` is what a team *is* (slug, name, guideline, where its mail goes,
its key); the same value comes from a teams file (:func:`load_teams_file`), from the admin
pages (:func:`create_team`, :func:`update_team`) and from ``mailroom teams sync``
(:func:`sync_teams`, the one function that writes team fields); a team's members (people with
their own address, :func:`add_member`, :func:`set_member_active`) only from the admin pages.
Each write flushes and leaves the commit to the caller; a refused change raises
:class:`LabelingError` (or :class:`ConfigError` for a bad teams file) with a message for the
admin, before anything is written.

A teams file is TOML, one ``[[team]]`` table per team, in display order::

    [[team]]
    slug = "schade"            # stable identifier in labels and URLs: a-z, 0-9, '-'
    name = "Schade"            # shown to people
    description = "..."        # the labelling guideline: what belongs here and what not
    forward_to = "schade@…"    # where routed mail is forwarded
    folder = "Schade"          # the team's IMAP/Maildir folder (no '.', '/', or INBOX)
    hotkey = 1                 # the key 1-9 that picks the team
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labeling.errors import ConfigError, LabelingError
from labeling.mail import addresses
from labeling.store.tables import Annotation, AuditLog, Team, TeamMember, utcnow

FIELDS = ("name", "description", "forward_address", "imap_folder", "hotkey")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
HOTKEYS = tuple("123456789")
_FILE_FIELDS = ("slug", "name", "description", "forward_to", "folder", "hotkey")


@dataclass(frozen=True, slots=True)
class TeamDefinition:
    """One team as configured: ``description`` is the labelling guideline staff read,
    ``forward_address`` where routed mail goes, ``imap_folder`` the folder of the team's
    mail, ``hotkey`` the key 1-9 that picks it (None: no key)."""

    slug: str
    name: str
    description: str = ""
    forward_address: str = ""
    imap_folder: str = ""
    hotkey: str | None = None


# The teams file ----------------------------------------------------------------------------


def load_teams_file(path: Path) -> tuple[TeamDefinition, ...]:
    """Read and check a teams file (see the module doc), in its order.

    Raises :class:`ConfigError` naming the team and field at fault: a missing or extra
    field, a bad slug, address, folder or hotkey, or a repeated slug, folder or hotkey.
    """
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read the teams file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    tables = document.get("team")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: expected one or more [[team]] tables")
    teams = tuple(_team_from_table(table, index, path) for index, table in enumerate(tables))
    for field in ("slug", "imap_folder", "hotkey"):
        seen: set[object] = set()
        for team in teams:
            value = getattr(team, field)
            if value in seen:
                raise ConfigError(f"{path}: duplicate {field} {value!r} (team {team.slug!r})")
            seen.add(value)
    return teams


def _team_from_table(table: Any, index: int, source: Path) -> TeamDefinition:
    where = f"{source}: team #{index + 1}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    missing = [field for field in _FILE_FIELDS if field not in table]
    extra = sorted(set(table) - set(_FILE_FIELDS))
    if missing or extra:
        raise ConfigError(f"{where}: missing fields {missing}, unknown fields {extra}")
    for field in _FILE_FIELDS[:-1]:
        if not isinstance(table[field], str) or not table[field].strip():
            raise ConfigError(f"{where}: {field} must be a non-empty string")
    slug, folder, hotkey = table["slug"], table["folder"], table["hotkey"]
    if not SLUG_PATTERN.match(slug):
        raise ConfigError(f"{where}: slug {slug!r} must be lowercase letters, digits and '-'")
    try:
        forward_to = addresses.forward_address(table["forward_to"])
    except ValueError as exc:
        raise ConfigError(f"{where}: forward_to: {exc}") from None
    if any(char in folder for char in "./\\") or folder.upper() == "INBOX":
        raise ConfigError(
            f"{where}: folder {folder!r} may not contain '.', '/', '\\' or be INBOX"
        )
    if isinstance(hotkey, bool) or not isinstance(hotkey, int) or not 1 <= hotkey <= 9:
        raise ConfigError(f"{where}: hotkey must be an integer 1-9, got {hotkey!r}")
    return TeamDefinition(
        slug=slug,
        name=table["name"].strip(),
        description=" ".join(table["description"].split()),
        forward_address=forward_to,
        imap_folder=folder,
        hotkey=str(hotkey),
    )


# Writing the teams table -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamSyncSummary:
    """Slugs created, changed and unchanged; ``not_in_specs``: teams in the store only."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    not_in_specs: tuple[str, ...]


def sync_teams(
    session: Session, specs: Iterable[TeamDefinition], *, reserved: Collection[str] = ()
) -> TeamSyncSummary:
    """Create or update one team per definition, matched by slug.

    Teams missing from ``specs`` are left alone (archiving is a deliberate act, and their
    labels stay valid). A definition of an archived team updates it but does not revive it.
    A forwarding address is stored as :func:`~labeling.mail.addresses.forward_address`
    writes it (one addr-spec, IDNA domain); '' means none. ``reserved``: Mailroom's own
    addresses (:meth:`labeling.settings.Settings.own_addresses`), which no team may have:
    mail forwarded there would come back to the watched inbox and loop. Raises
    :class:`ConfigError` for a repeated slug or hotkey or a bad or reserved address.
    Flushes, does not commit.
    """
    specs = [_checked_address(spec, reserved) for spec in specs]
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


def _checked_address(spec: TeamDefinition, reserved: Collection[str] = ()) -> TeamDefinition:
    if not spec.forward_address.strip():
        return replace(spec, forward_address="")
    try:
        checked = addresses.forward_address(spec.forward_address)
    except ValueError as exc:
        raise ConfigError(f"team {spec.slug}: forwarding address: {exc}") from None
    if checked.lower() in {address.lower() for address in reserved}:
        raise ConfigError(
            f"team {spec.slug}: forwarding address {checked} is Mailroom's own address (the "
            "watched inbox or the SMTP sender): mail forwarded there would come back and loop"
        )
    return replace(spec, forward_address=checked)


def _check_unique(specs: list[TeamDefinition]) -> None:
    for attribute in ("slug", "hotkey"):
        seen: set[str] = set()
        for spec in specs:
            value = getattr(spec, attribute)
            if not value:
                continue
            if value in seen:
                raise ConfigError(f"two teams have the {attribute} {value!r}")
            seen.add(value)


def _audit(session: Session, actor_id: int | None, action: str, **details: object) -> None:
    actor = f"user:{actor_id}" if actor_id is not None else "system"
    session.add(AuditLog(actor=actor, action=action, details=details))


def create_team(
    session: Session,
    team: TeamDefinition,
    *,
    actor_id: int | None = None,
    reserved: Collection[str] = (),
) -> Team:
    """A new active team; the hotkey must be free among active teams, the address none of
    ``reserved`` (see :func:`sync_teams`)."""
    slug = team.slug.strip()
    if not SLUG_PATTERN.match(slug):
        raise LabelingError("a team slug is lower-case letters, digits and '-', up to 64")
    if session.scalar(select(Team.id).where(Team.slug == slug)):
        raise LabelingError(f"there is already a team {slug!r}")
    _save(session, slug, team, reserved=reserved)
    row = session.scalars(select(Team).where(Team.slug == slug)).one()
    _audit(session, actor_id, "team.create", team_id=row.id, slug=slug)
    return row


def update_team(
    session: Session,
    team_id: int,
    team: TeamDefinition,
    *,
    actor_id: int | None = None,
    reserved: Collection[str] = (),
) -> Team:
    """Change a team's name, guideline, addresses or hotkey (its slug never changes: the
    slug of ``team`` is ignored)."""
    row = _team(session, team_id)
    _save(session, row.slug, team, archived=row.archived_at is not None, reserved=reserved)
    _audit(session, actor_id, "team.update", team_id=row.id)
    return row


def archive_team(session: Session, team_id: int, *, actor_id: int | None = None) -> Team:
    """Hide a team from labelling; its labels stay and keep counting."""
    team = _team(session, team_id)
    if team.archived_at is None:
        team.archived_at = utcnow()
        session.flush()
        _audit(session, actor_id, "team.archive", team_id=team.id)
    return team


def unarchive_team(session: Session, team_id: int, *, actor_id: int | None = None) -> Team:
    """Bring an archived team back, unless an active team took its hotkey meanwhile."""
    team = _team(session, team_id)
    if team.archived_at is None:
        return team
    if team.hotkey:
        holder = session.scalar(
            select(Team).where(
                Team.hotkey == team.hotkey, Team.archived_at.is_(None), Team.id != team.id
            )
        )
        if holder is not None:
            raise LabelingError(
                f"hotkey {team.hotkey} now belongs to {holder.name}; give {team.name} another "
                "hotkey (or none) first"
            )
    team.archived_at = None
    session.flush()
    _audit(session, actor_id, "team.unarchive", team_id=team.id)
    return team


# Members ------------------------------------------------------------------------------------


def team_members(session: Session, team_id: int) -> list[TeamMember]:
    """A team's members, active first, by name."""
    return list(
        session.scalars(
            select(TeamMember)
            .where(TeamMember.team_id == team_id)
            .order_by(TeamMember.active.desc(), TeamMember.name, TeamMember.id)
        )
    )


def add_member(
    session: Session,
    team_id: int,
    name: str,
    email: str,
    *,
    actor_id: int | None = None,
    reserved: Collection[str] = (),
) -> TeamMember:
    """A person of the team with their own address: a customer's next mail goes to the
    member who handles their case (``MAILROOM_AFFINITY_DAYS``). Adding an address that left
    the team makes it active again."""
    team = _team(session, team_id)
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise LabelingError("a member needs a name of at most 200 characters")
    try:
        checked = addresses.forward_address(email)
    except ValueError as exc:
        raise LabelingError(f"member address: {exc}") from None
    if checked.lower() in {address.lower() for address in reserved}:
        raise LabelingError(f"{checked} is Mailroom's own address: mail sent there would loop")
    member = session.scalar(
        select(TeamMember).where(
            TeamMember.team_id == team.id, func.lower(TeamMember.email) == checked.lower()
        )
    )
    if member is None:
        member = TeamMember(team_id=team.id, name=name, email=checked, active=True)
        session.add(member)
    else:
        member.name, member.active = name, True
    session.flush()
    _audit(session, actor_id, "team.member-add", team_id=team.id, member_id=member.id)
    return member


def set_member_active(
    session: Session, team_id: int, member_id: int, active: bool, *, actor_id: int | None = None
) -> TeamMember:
    """A member leaves the team (their cases' next mail goes to the team's address) or
    comes back. Their past forwards keep naming them."""
    member = session.get(TeamMember, member_id)
    if member is None or member.team_id != team_id:
        raise LabelingError(f"team {team_id} has no member {member_id}")
    if member.active != active:
        member.active = active
        session.flush()
        action = "team.member-return" if active else "team.member-leave"
        _audit(session, actor_id, action, team_id=team_id, member_id=member.id)
    return member


def _team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise LabelingError(f"no team with id {team_id}")
    return team


def _save(
    session: Session,
    slug: str,
    team: TeamDefinition,
    *,
    archived: bool = False,
    reserved: Collection[str] = (),
) -> None:
    if not team.name.strip():
        raise LabelingError("a team needs a name")
    hotkey = team.hotkey or None
    if hotkey is not None and hotkey not in HOTKEYS:
        raise LabelingError("a hotkey is one digit, 1–9")
    if hotkey is not None and not archived:
        holder = session.scalar(
            select(Team).where(Team.hotkey == hotkey, Team.archived_at.is_(None), Team.slug != slug)
        )
        if holder is not None:
            raise LabelingError(f"hotkey {hotkey} is taken by {holder.name}")
    try:
        # sync_teams is the one place that writes team fields (and swaps hotkeys safely).
        sync_teams(
            session,
            [
                TeamDefinition(
                    slug=slug,
                    name=team.name.strip(),
                    description=team.description.strip(),
                    forward_address=team.forward_address.strip(),
                    imap_folder=team.imap_folder.strip(),
                    hotkey=hotkey,
                )
            ],
            reserved=reserved,
        )
    except ConfigError as exc:
        raise LabelingError(str(exc)) from None


# Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamLabels:
    """A team (its row) with the number of its current labels, for the teams list:
    ``labels`` all of them, ``by_person`` those a person gave (labelling, review,
    adjudication), ``from_folders`` those read from the archive's folders."""

    team: Team
    labels: int
    by_person: int = 0
    from_folders: int = 0


# Labels that are not a person's: read from archive folders, or a model's.
FOLDER_SOURCE = "archive-folder"


def team_overview(session: Session) -> list[TeamLabels]:
    """Every team, active first, each with the number of its current (non-superseded)
    labels, told apart by where they came from."""
    counts: dict[int, dict[str, int]] = {}
    for team_id, source, number in session.execute(
        select(Annotation.team_id, Annotation.source, func.count(Annotation.id))
        .where(Annotation.superseded_at.is_(None))
        .group_by(Annotation.team_id, Annotation.source)
    ):
        counts.setdefault(team_id, {})[source] = number
    teams = session.scalars(select(Team).order_by(Team.archived_at.is_not(None), Team.id))
    rows = []
    for team in teams:
        mine = counts.get(team.id, {})
        rows.append(
            TeamLabels(
                team,
                sum(mine.values()),
                by_person=sum(n for source, n in mine.items() if source in PERSON_SOURCES),
                from_folders=mine.get(FOLDER_SOURCE, 0),
            )
        )
    return rows


# Labels a person gave: in the labelling page, in review, or settling a disagreement.
PERSON_SOURCES = ("human", "review", "adjudication")


def active_teams_by_key(session: Session) -> list[Team]:
    """The teams mail can go to, in the order of their keys: hotkeyed teams by key, then
    the rest by name (the order the labelling and review pages list them)."""
    teams = session.scalars(select(Team).where(Team.archived_at.is_(None))).all()
    return sorted(teams, key=lambda team: (team.hotkey is None, team.hotkey or "", team.name))
