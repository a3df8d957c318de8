"""Passwords out of what is shown and logged: URLs with their password as ``***``.

Used by ``mailroom settings`` (through :func:`labeling.settings.masked`), import and
mailbox errors, and the worker's logs.
"""

from __future__ import annotations


def mask_url(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***`` (no parsing: a
    password may hold any character, ``/`` and ``@`` included, so the user part ends at
    the last ``@`` before the path)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo, host = rest[:at], rest[at + 1 :]
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"
