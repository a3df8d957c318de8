"""People: create users, change roles, deactivate, and check a login.

Small write operations over ``labeling.store.tables``; the admin pages and the CLI call
them. Each flushes and leaves the commit to the caller; a refused change raises
:class:`LabelingError` with a message for the admin, before anything is written.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from labeling.errors import LabelingError
from labeling.store.passwords import password_problem
from labeling.store.tables import USER_ROLES, AuditLog, User, utcnow

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{2,150}$")

# Compared against when the username is unknown, so a failed login takes as long whether
# or not the user exists (no user enumeration by timing).
_DUMMY_HASH = generate_password_hash("not a real password")


def _audit(session: Session, actor_id: int | None, action: str, **details: object) -> None:
    actor = f"user:{actor_id}" if actor_id is not None else "system"
    session.add(AuditLog(actor=actor, action=action, details=details))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def record_login(
    session: Session, username: str, user_id: int | None, outcome: str, client: str
) -> None:
    """An audit row for a login attempt: ``outcome`` 'ok', 'failed' or 'throttled'.

    Holds the username as typed (cut to the column's length) and the client address,
    never the password. Flushes; the caller commits.
    """
    actor = f"user:{user_id}" if user_id is not None else "anonymous"
    session.add(
        AuditLog(
            actor=actor,
            action=f"login.{outcome}",
            details={"username": username[:150], "client": client[:100]},
        )
    )
    session.flush()


def create_user(
    session: Session, username: str, password: str, role: str, *, actor_id: int | None = None
) -> User:
    """A new active user with a hashed password."""
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise LabelingError("a username is 2–150 letters, digits or . _ @ - (no spaces)")
    _check_role(role)
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise LabelingError(f"there is already a user {username!r}")
    _check_password(password, username)
    user = User(
        username=username,
        password_hash=generate_password_hash(password),
        role=role,
        active=True,
        password_changed_at=utcnow(),
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
    if not active:
        user.session_version = (user.session_version or 0) + 1
    session.flush()
    _audit(session, actor_id, "user.activate" if active else "user.deactivate", user_id=user.id)
    return user


def _check_password(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise LabelingError(problem)


def change_password(session: Session, user_id: int, current: str, new: str) -> User:
    """A person sets a new password, proving the current one; every other session of
    theirs ends (the caller re-logs this one with the new session version)."""
    user = _user(session, user_id)
    if not user.active or not check_password_hash(user.password_hash, current):
        raise LabelingError("the current password is not right")
    if check_password_hash(user.password_hash, new):
        raise LabelingError("the new password is the current one")
    _set_password(user, new)
    session.flush()
    _audit(session, user.id, "user.password", user_id=user.id)
    return user


def reset_password(session: Session, user_id: int, new: str, *, actor_id: int | None) -> User:
    """An admin sets a user's password (forgotten, or compromised); every session of that
    user ends."""
    user = _user(session, user_id)
    _set_password(user, new)
    session.flush()
    _audit(session, actor_id, "user.password-reset", user_id=user.id)
    return user


def _set_password(user: User, new: str) -> None:
    _check_password(new, user.username)
    user.password_hash = generate_password_hash(new)
    user.password_changed_at = utcnow()
    user.session_version = (user.session_version or 0) + 1


def end_sessions(session: Session, user_id: int) -> None:
    """Revoke every login session of this user (logout, password change, deactivation):
    the web app refuses a session cookie that carries an older session version."""
    user = _user(session, user_id)
    user.session_version = (user.session_version or 0) + 1
    session.flush()


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


# The interface languages a person may choose (the web app's catalogues).
LOCALES = ("nl", "en")


def set_locale(session: Session, user_id: int, locale: str | None) -> User:
    """The language the web app speaks to this person; None: as their browser asks."""
    if locale is not None and locale not in LOCALES:
        raise LabelingError(f"language must be one of {', '.join(LOCALES)}, not {locale!r}")
    user = _user(session, user_id)
    user.locale = locale
    session.flush()
    return user
