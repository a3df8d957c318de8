"""How numbers read in every page: one formatter each for a share, a size and a duration.

Templates use them as Jinja filters (``{{ value|percent }}``, ``{{ n|filesize }}``,
``{{ seconds|duration }}``), the charts as value formats, so the same value never reads
two ways on two pages.

A share is rounded *down* (truncated), never up: a confidence of 0.989 reads "98 %", so it
never seems to reach a threshold of 99 % it missed. :func:`percent_apart` gives the digits
needed to tell two shares apart (a confidence just under its threshold). Decimals are
written as the interface language writes them (``98,9 %`` and ``0,812`` in Dutch).
"""

from __future__ import annotations

import math

from flask_babel import format_decimal, gettext

# Decimals :func:`percent_apart` goes up to before it gives up telling two values apart.
MAX_PERCENT_DIGITS = 2


def percent(value: float | None, digits: int = 0) -> str:
    """``0.989`` → ``"98 %"`` (``digits=1``: ``"98.9 %"``); None → ``"–"``."""
    if value is None or math.isnan(value):
        return "–"
    scale = 10**digits
    # The small epsilon keeps 0.29 * 100 (28.999…) from reading as 28.
    truncated = math.floor(value * 100 * scale + 1e-9) / scale
    return f"{decimal(truncated, digits)} %"


def decimal(value: float | None, digits: int = 3) -> str:
    """A figure such as a kappa or a threshold with ``digits`` decimals, written as the
    interface language writes numbers (0,812 in Dutch); None → ``"–"``."""
    if value is None or math.isnan(value):
        return "–"
    return str(format_decimal(value, format="0." + "0" * digits if digits else "0"))


def percent_apart(value: float, other: float) -> int:
    """The fewest decimals (up to :data:`MAX_PERCENT_DIGITS`) at which :func:`percent`
    writes ``value`` and ``other`` differently."""
    for digits in range(MAX_PERCENT_DIGITS + 1):
        if percent(value, digits) != percent(other, digits):
            return digits
    return MAX_PERCENT_DIGITS


def filesize(size: int | None) -> str:
    """Bytes as a person reads them: ``340 B``, ``2 kB``, ``1.5 MB`` (1 kB = 1024 B)."""
    if size is None:
        return "–"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} kB"
    return f"{size / (1024 * 1024):.1f} MB"


def duration(seconds: float | None) -> str:
    """A duration to the unit a person reads: ``45 s``, ``1 min 20 s``, ``12 min``,
    ``3 h 5 min``, ``2 days 4 h``; None → ``"–"``."""
    if seconds is None or math.isnan(seconds):
        return "–"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 10:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    minutes = round(total / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, mins = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hours = divmod(hours, 24)
    shown = gettext("%(n)s days", n=days)  # 2 or more; s, min and h are SI symbols
    return f"{shown} {hours} h" if hours else shown
