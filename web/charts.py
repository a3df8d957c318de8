"""Small charts drawn on the server as SVG markup: no JavaScript, nothing from a CDN.

Every builder returns a complete ``<svg>`` element as a string. Every piece of text that
goes into it (titles, labels, team names, tooltips) is escaped here, which is why a
template may insert the result with ``|safe``. Styling uses presentation attributes
(``fill=``, ``stroke=``) only: the app's Content-Security-Policy allows no inline styles.

Each chart has a ``<title>`` and ``<desc>`` (named by ``aria-labelledby``), axis titles, a
legend, and a ``<title>`` on every bar and point, which browsers show as a tooltip.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask_babel import gettext
from markupsafe import escape

from web import display

# Colour-blind safe (Okabe–Ito, then Tableau's), readable on white.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#7f7f7f",
    "#bcbd22",
    "#8c564b",
    "#17becf",
)
INK = "#1d232b"
MUTED = "#5d6773"
GRID = "#d9dee4"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

WIDTH = 720
PLOT_HEIGHT = 200
_MARGIN_LEFT = 64
_MARGIN_RIGHT = 16
_TITLE_HEIGHT = 30
_MARGIN_BOTTOM = 52
_LEGEND_ROW = 18
_CHAR_WIDTH = 6.6  # average width of a 12 px character, to lay out the legend
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

ValueFormat = Callable[[float], str]


def color(index: int) -> str:
    """The palette's colour for series ``index`` (it repeats after ten)."""
    return PALETTE[index % len(PALETTE)]


def count_format(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent_format(value: float) -> str:
    return display.percent(value)


def duration_format(seconds: float) -> str:
    """A duration a person reads at a glance (:func:`web.display.duration`)."""
    return display.duration(seconds)


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of values, one per x label; None where there is no value."""

    name: str
    values: Sequence[float | None]
    color: str


def _e(text: object) -> str:
    return str(escape(str(text)))


def _n(value: float) -> str:
    return f"{value:.1f}"


def nice_scale(top: float, *, integer: bool = False, ticks: int = 4) -> tuple[float, float]:
    """(axis maximum, tick step) covering ``top`` with about ``ticks`` round steps."""
    if not math.isfinite(top) or top <= 0:
        return (float(ticks) if integer else 1.0), (1.0 if integer else 1.0 / ticks)
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, math.ceil(step))
    return step * math.ceil(top / step - 1e-9), step


class _Frame:
    """The chart's canvas: title, legend, axes and grid; the builders add the marks."""

    def __init__(
        self,
        chart_id: str,
        title: str,
        description: str,
        legend: Sequence[tuple[str, str]],
        x_title: str,
        y_title: str,
    ) -> None:
        if not _ID.match(chart_id):
            raise ValueError(f"chart id must be a plain identifier, not {chart_id!r}")
        self.id = chart_id
        self.plot_width = WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
        self.legend_rows = self._layout_legend(legend)
        self.top = _TITLE_HEIGHT + _LEGEND_ROW * len(self.legend_rows) + 12
        self.height = self.top + PLOT_HEIGHT + _MARGIN_BOTTOM
        self.parts: list[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{_e(chart_id)}" '
            f'viewBox="0 0 {WIDTH} {self.height}" width="{WIDTH}" height="{self.height}" '
            f'role="img" aria-labelledby="{_e(chart_id)}-title {_e(chart_id)}-desc" '
            f'font-family="{_e(FONT)}" font-size="12">',
            f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
            f'<desc id="{_e(chart_id)}-desc">{_e(description)}</desc>',
            f'<rect x="0" y="0" width="{WIDTH}" height="{self.height}" fill="#ffffff"/>',
            f'<text x="{_MARGIN_LEFT}" y="18" font-size="14" font-weight="600" '
            f'fill="{INK}">{_e(title)}</text>',
        ]
        self._draw_legend()
        bottom = self.top + PLOT_HEIGHT
        self.parts.append(
            f'<text x="{_n(_MARGIN_LEFT + self.plot_width / 2)}" y="{self.height - 6}" '
            f'text-anchor="middle" fill="{MUTED}">{_e(x_title)}</text>'
        )
        self.parts.append(
            f'<text x="14" y="{_n(self.top + PLOT_HEIGHT / 2)}" text-anchor="middle" '
            f'fill="{MUTED}" transform="rotate(-90 14 {_n(self.top + PLOT_HEIGHT / 2)})">'
            f"{_e(y_title)}</text>"
        )
        self.bottom = bottom

    def _layout_legend(
        self, legend: Sequence[tuple[str, str]]
    ) -> list[list[tuple[float, str, str]]]:
        rows: list[list[tuple[float, str, str]]] = []
        x = 0.0
        for name, fill in legend:
            width = 16 + len(name) * _CHAR_WIDTH + 18
            if not rows or x + width > self.plot_width:
                rows.append([])
                x = 0.0
            rows[-1].append((x, name, fill))
            x += width
        return rows

    def _draw_legend(self) -> None:
        if not self.legend_rows:
            return
        self.parts.append('<g class="legend">')
        for row_number, row in enumerate(self.legend_rows):
            y = _TITLE_HEIGHT + 12 + row_number * _LEGEND_ROW
            for x, name, fill in row:
                left = _MARGIN_LEFT + x
                self.parts.append(
                    f'<rect x="{_n(left)}" y="{y - 9}" width="10" height="10" '
                    f'fill="{_e(fill)}"/>'
                    f'<text x="{_n(left + 14)}" y="{y}" fill="{INK}">{_e(name)}</text>'
                )
        self.parts.append("</g>")

    def y_axis(self, maximum: float, step: float, fmt: ValueFormat) -> Callable[[float], float]:
        """Draw grid lines and tick labels; return value → y coordinate."""

        def y(value: float) -> float:
            return self.bottom - (value / maximum) * PLOT_HEIGHT

        ticks = round(maximum / step)
        for i in range(ticks + 1):
            value = step * i
            at = _n(y(value))
            self.parts.append(
                f'<line x1="{_MARGIN_LEFT}" y1="{at}" x2="{_MARGIN_LEFT + self.plot_width}" '
                f'y2="{at}" stroke="{GRID if i else MUTED}" stroke-width="1"/>'
                f'<text x="{_MARGIN_LEFT - 6}" y="{at}" dy="4" text-anchor="end" '
                f'fill="{MUTED}">{_e(fmt(value))}</text>'
            )
        return y

    def x_axis(self, labels: Sequence[str]) -> Callable[[int], float]:
        """Draw the category labels (thinned when they would overlap); return index → the
        x coordinate of the category's centre."""
        band = self.plot_width / max(1, len(labels))

        def x(index: int) -> float:
            return _MARGIN_LEFT + band * (index + 0.5)

        longest = max((len(label) for label in labels), default=1)
        every = max(1, math.ceil((longest * _CHAR_WIDTH + 8) / band))
        for i, label in enumerate(labels):
            if i % every == 0:
                self.parts.append(
                    f'<text x="{_n(x(i))}" y="{self.bottom + 16}" text-anchor="middle" '
                    f'fill="{MUTED}">{_e(label)}</text>'
                )
        return x

    def band(self, count: int) -> float:
        return self.plot_width / max(1, count)

    def empty(self, message: str) -> str:
        self.parts.append(
            f'<text x="{_n(_MARGIN_LEFT + self.plot_width / 2)}" '
            f'y="{_n(self.top + PLOT_HEIGHT / 2)}" text-anchor="middle" '
            f'fill="{MUTED}">{_e(message)}</text>'
        )
        return self.finish()

    def finish(self) -> str:
        return "".join([*self.parts, "</svg>"])


def _check_lengths(labels: Sequence[str], series: Sequence[Series]) -> None:
    for row in series:
        if len(row.values) != len(labels):
            raise ValueError(
                f"series {row.name!r} has {len(row.values)} values for {len(labels)} labels"
            )


def stacked_bars(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    x_title: str,
    y_title: str,
    y_max: float | None = None,
    value_format: ValueFormat = count_format,
    empty_message: str = "",
) -> str:
    """Bars per label, each stacked from the series in order (first at the bottom).
    ``y_max`` fixes the axis (1.0 for shares); else it fits the tallest bar."""
    _check_lengths(labels, series)
    frame = _Frame(
        chart_id, title, description, [(s.name, s.color) for s in series], x_title, y_title
    )
    totals = [sum(row.values[i] or 0 for row in series) for i in range(len(labels))]
    if not labels or max(totals, default=0) <= 0:
        return frame.empty(empty_message or gettext("No data in this window."))
    if y_max is not None:
        maximum, step = y_max, y_max / 4
    else:
        maximum, step = nice_scale(max(totals), integer=True)
    y = frame.y_axis(maximum, step, value_format)
    x = frame.x_axis(labels)
    width = frame.band(len(labels)) * 0.7
    for i, label in enumerate(labels):
        base = 0.0
        for row in series:
            value = row.values[i] or 0
            if value <= 0:
                continue
            top, bottom = y(min(base + value, maximum)), y(min(base, maximum))
            frame.parts.append(
                f'<rect x="{_n(x(i) - width / 2)}" y="{_n(top)}" width="{_n(width)}" '
                f'height="{_n(bottom - top)}" fill="{_e(row.color)}">'
                f"<title>{_e(f'{label} · {row.name}: {value_format(value)}')}</title></rect>"
            )
            base += value
    return frame.finish()


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    values: Sequence[float],
    name: str,
    x_title: str,
    y_title: str,
    fill: str = PALETTE[0],
    y_max: float | None = None,
    value_format: ValueFormat = count_format,
    empty_message: str = "",
) -> str:
    """One bar per label (a histogram when the labels are bins)."""
    return stacked_bars(
        y_max=y_max,
        chart_id=chart_id,
        title=title,
        description=description,
        labels=labels,
        series=[Series(name, list(values), fill)],
        x_title=x_title,
        y_title=y_title,
        value_format=value_format,
        empty_message=empty_message,
    )


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    x_title: str,
    y_title: str,
    y_max: float | None = None,
    value_format: ValueFormat = count_format,
    empty_message: str = "",
) -> str:
    """Lines through the values of each series, with a marker on every point; a None
    breaks the line. ``y_max`` fixes the axis (1.0 for rates); else it fits the data."""
    _check_lengths(labels, series)
    frame = _Frame(
        chart_id, title, description, [(s.name, s.color) for s in series], x_title, y_title
    )
    present = [v for row in series for v in row.values if v is not None]
    if not labels or not present:
        return frame.empty(empty_message or gettext("No data in this window."))
    if y_max is not None:
        maximum, step = y_max, y_max / 4
    else:
        maximum, step = nice_scale(max(present))
    y = frame.y_axis(maximum, step, value_format)
    x = frame.x_axis(labels)
    for row in series:
        path: list[str] = []
        pen_down = False
        for i, value in enumerate(row.values):
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{_n(x(i))} {_n(y(min(value, maximum)))}")
            pen_down = True
        if len(path) > 1:
            frame.parts.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{_e(row.color)}" '
                f'stroke-width="2" stroke-linejoin="round"/>'
            )
        for i, value in enumerate(row.values):
            if value is None:
                continue
            frame.parts.append(
                f'<circle cx="{_n(x(i))}" cy="{_n(y(min(value, maximum)))}" r="3.5" '
                f'fill="{_e(row.color)}">'
                f"<title>{_e(f'{labels[i]} · {row.name}: {value_format(value)}')}</title>"
                "</circle>"
            )
    return frame.finish()
