"""Per-integration tokens of the HTTP API (``/api/v1``): made, checked, revoked.

A token is ``mr_`` + 43 URL-safe characters (256 random bits), shown once when made; the
store keeps its SHA-256 only (a token is random, not a password: a slow hash adds nothing),
so a copy of the database gives no token away. Each token has scopes (API_SCOPES):
``classify`` may ask where a text would go, ``tickets`` may hand in tickets. Revoking keeps
the row (the audit names it) and refuses the token at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from labeling.errors import LabelingError
from labeling.store import audit
from labeling.store.tables import API_SCOPES, ApiToken, utcnow

PREFIX = "mr_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: ``token`` is shown to the admin once and never stored."""

    id: int
    name: str
    token: str
    scopes: tuple[str, ...]


def check_callback_url(url: str) -> str:
    """An http(s) URL on one line, or ''; raises :class:`LabelingError` otherwise."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > 2000
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise LabelingError("callback URL: give an http:// or https:// URL")
    return url


def create_token(
    session: Session,
    name: str,
    scopes: Iterable[str],
    *,
    callback_url: str = "",
    actor_id: int | None = None,
) -> NewToken:
    name = name.strip()
    callback_url = check_callback_url(callback_url)
    if not name or len(name) > 100 or any(c in name for c in "\r\n\x00"):
        raise LabelingError("token name: one line of at most 100 characters")
    chosen = tuple(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in API_SCOPES]
    if unknown or not chosen:
        raise LabelingError(f"token scopes: choose from {', '.join(API_SCOPES)}")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise LabelingError(f"a token named {name!r} exists already")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, token_hash=token_hash(token), scopes=list(chosen), callback_url=callback_url
    )
    session.add(row)
    session.flush()
    actor = f"user:{actor_id}" if actor_id is not None else "cli"
    audit.record(session, actor, "api-token.create", token_id=row.id, name=name, scopes=chosen)
    return NewToken(row.id, name, token, chosen)


def revoke_token(session: Session, token_id: int, *, actor_id: int | None = None) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise LabelingError(f"no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        actor = f"user:{actor_id}" if actor_id is not None else "cli"
        audit.record(session, actor, "api-token.revoke", token_id=row.id, name=row.name)
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.name))
    )


def check_token(session: Session, presented: str, scope: str) -> ApiToken | None:
    """The live token ``presented`` is, when it has ``scope``; None otherwise (unknown,
    revoked or out of scope all look alike to the caller)."""
    if not presented.startswith(PREFIX) or len(presented) > 200:
        return None
    digest = token_hash(presented)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or scope not in (row.scopes or []):
        return None
    row.last_used_at = utcnow()
    return row
