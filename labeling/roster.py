"""People and teams as admins change them: create users, change roles, deactivate; create,
edit, archive and unarchive teams.

Small write operations over ``labeling.models``, next to ``labeling.teams.sync_teams``; the
admin pages and the CLI call them. Each flushes and leaves the commit to the caller; a
refused change raises :class:`LabelingError` with a message for the admin, before anything
is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from labeling.errors import ConfigError, LabelingError
from labeling.models import USER_ROLES, AuditLog, Team, User, utcnow
from labeling.teams import TeamDefinition, sync_teams

MIN_PASSWORD_LENGTH = 10
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{2,150}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
HOTKEYS = tuple("123456789")

# Compared against when the username is unknown, so a failed login takes as long whether
# or not the user exists (no user enumeration by timing).
_DUMMY_HASH = generate_password_hash("not a real password")


def _audit(session: Session, actor_id: int | None, action: str, **details: object) -> None:
    actor = f"user:{actor_id}" if actor_id is not None else "system"
    session.add(AuditLog(actor=actor, action=action, details=details))


# Users -----------------------------------------------------------------------------------


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def create_user(
    session: Session, username: str, password: str, role: str, *, actor_id: int | None = None
) -> User:
    """A new active user with a hashed password."""
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise LabelingError("a username is 2–150 letters, digits or . _ @ - (no spaces)")
    _check_role(role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise LabelingError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise LabelingError(f"there is already a user {username!r}")
    user = User(
        username=username, password_hash=generate_password_hash(password), role=role, active=True
    )
    session.add(user)
    session.flush()
    _audit(session, actor_id, "user.create", user_id=user.id, username=username, role=role)
    return user


def set_role(session: Session, user_id: int, role: str, *, actor_id: int | None = None) -> User:
    """Give a user another role; the last active admin keeps theirs."""
    _check_role(role)
    user = _user(session, user_id)
    if user.role == "admin" and role != "admin":
        _keep_an_admin(session, user)
    old, user.role = user.role, role
    session.flush()
    _audit(session, actor_id, "user.role", user_id=user.id, old=old, new=role)
    return user


def set_active(
    session: Session, user_id: int, active: bool, *, actor_id: int | None = None
) -> User:
    """Deactivate (they cannot log in; their labels stay) or reactivate a user."""
    user = _user(session, user_id)
    if not active and user.role == "admin":
        _keep_an_admin(session, user)
    user.active = active
    session.flush()
    _audit(session, actor_id, "user.activate" if active else "user.deactivate", user_id=user.id)
    return user


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise LabelingError(f"no user with id {user_id}")
    return user


def _check_role(role: str) -> None:
    if role not in USER_ROLES:
        raise LabelingError(f"unknown role {role!r}; roles: {', '.join(USER_ROLES)}")


def _keep_an_admin(session: Session, user: User) -> None:
    others = session.scalar(
        select(func.count(User.id)).where(
            User.role == "admin", User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise LabelingError(f"{user.username} is the last active admin; make another admin first")


# Teams -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeamFields:
    """What an admin edits on a team (the slug is fixed once created)."""

    name: str
    description: str = ""
    forward_address: str = ""
    imap_folder: str = ""
    hotkey: str | None = None


def create_team(
    session: Session, slug: str, fields: TeamFields, *, actor_id: int | None = None
) -> Team:
    """A new active team; the hotkey must be free among active teams."""
    slug = slug.strip()
    if not SLUG_PATTERN.match(slug):
        raise LabelingError("a team slug is lower-case letters, digits and '-', up to 64")
    if session.scalar(select(Team.id).where(Team.slug == slug)):
        raise LabelingError(f"there is already a team {slug!r}")
    _save(session, slug, fields)
    team = session.scalars(select(Team).where(Team.slug == slug)).one()
    _audit(session, actor_id, "team.create", team_id=team.id, slug=slug)
    return team


def update_team(
    session: Session, team_id: int, fields: TeamFields, *, actor_id: int | None = None
) -> Team:
    """Change a team's name, guideline, addresses or hotkey."""
    team = _team(session, team_id)
    _save(session, team.slug, fields, archived=team.archived_at is not None)
    _audit(session, actor_id, "team.update", team_id=team.id)
    return team


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


def _team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise LabelingError(f"no team with id {team_id}")
    return team


def _save(session: Session, slug: str, fields: TeamFields, *, archived: bool = False) -> None:
    if not fields.name.strip():
        raise LabelingError("a team needs a name")
    hotkey = fields.hotkey or None
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
                    name=fields.name.strip(),
                    description=fields.description.strip(),
                    forward_address=fields.forward_address.strip(),
                    imap_folder=fields.imap_folder.strip(),
                    hotkey=hotkey,
                )
            ],
        )
    except ConfigError as exc:
        raise LabelingError(str(exc)) from None
