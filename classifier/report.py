"""The evaluation report: one HTML page with SVG charts, for a person to look at.

:func:`write_report` writes into a folder::

    index.html          headline table, facts, per-team table, thresholds, confused pairs
    summary.json        each result's ``summary()``, for machines
    coverage.svg        coverage vs precision of auto-routed mail, operating points marked
    reliability.svg     calibration curve with the diagonal and per-bin counts
    confusion-<i>.svg   row-normalised confusion matrix of ``results[i]``

The page is opened from disk, so it is self-contained: charts by relative path, CSS in a
``<style>`` element, no scripts, fonts or URLs. Every piece of text that comes from data
(team names, model names, facts) is escaped. The same input gives byte-identical files, so
re-running an evaluation does not churn a folder kept under version control.

Charts are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas; pyplot is never
imported, so no global backend or figure registry is touched.
"""

from __future__ import annotations

import html
import json
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter
from numpy.typing import NDArray

from classifier.evaluation import EvaluationResult, TeamFigures

# Up to this many teams every confusion cell is annotated with its count; beyond it the
# numbers would be unreadable, so the page lists the most confused pairs instead.
ANNOTATE_MAX_TEAMS = 25
CONFUSED_PAIRS = 15
RELIABILITY_BINS = 10
# A team is "weak" when its F1 is this far below the model's own macro-F1: relative to the
# model rather than absolute, so the highlight means something on easy and hard sets alike.
WEAK_MARGIN = 0.10
# Team names are truncated on chart axes only; tables show them in full.
CHART_LABEL_CHARS = 28

# Main model first, then comparators; the baseline is usually second, hence the grey.
COLOURS = ("#1f5fa8", "#7f7f7f", "#d9822b", "#2e9e5b", "#8e44ad", "#c0392b")
TARGET_COLOUR = "#c0392b"

# No creation date in the files: same input, same bytes.
_SVG_METADATA: dict[str, str | None] = {"Date": None}


def write_report(
    out_dir: Path,
    results: Sequence[EvaluationResult],
    *,
    title: str,
    facts: Mapping[str, str] | None = None,
) -> Path:
    """Write the report for ``results`` into ``out_dir`` and return the path of index.html.

    ``results[0]`` is the model under evaluation; the others are comparators (the TF-IDF
    baseline among them), each shown next to it with the difference. ``facts`` (model
    version, base encoder, training-set hash, dates …) are shown as given, in their order.
    summary.json holds ``{"title", "facts", "results": [{"name", "summary"}, …]}`` with
    each result's ``summary()`` (NaN written as null). Existing files of the same names are
    overwritten.
    """
    if not results:
        raise ValueError("write_report needs at least one EvaluationResult (the main model)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    facts = dict(facts or {})

    with _chart_settings():
        _coverage_chart(results, out_dir / "coverage.svg")
        _reliability_chart(results, out_dir / "reliability.svg")
        for i, result in enumerate(results):
            _confusion_chart(result, out_dir / f"confusion-{i}.svg")

    summary = {
        "title": title,
        "facts": facts,
        "results": [{"name": r.name, "summary": r.summary()} for r in results],
    }
    (out_dir / "summary.json").write_text(
        json.dumps(_json_safe(summary), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )

    index = out_dir / "index.html"
    index.write_text(_page(results, title=title, facts=facts), encoding="utf-8")
    return index


# Charts ---------------------------------------------------------------------------------


@contextmanager
def _chart_settings() -> Iterator[None]:
    # Applied only while a chart is built and saved: rc_context restores them afterwards.
    # rcParams are process-wide, so two reports drawn at once in threads could mix settings;
    # the CLI draws one at a time.
    with (
        matplotlib.rc_context(
            {
                # Fixed salt: SVG element ids are otherwise random, and every re-run would differ.
                "svg.hashsalt": "mailroom-report",
                # Glyphs as paths: the SVG looks the same wherever it is viewed, fonts or not.
                "svg.fonttype": "path",
                "svg.image_inline": True,
                # Team names are user data: a "$" must not be parsed as mathtext (or fail to parse).
                "text.parse_math": False,
                "text.usetex": False,
                # Ships with matplotlib, so the charts do not depend on the fonts of the machine.
                "font.family": "DejaVu Sans",
                "font.size": 9,
            }
        ),
        warnings.catch_warnings(),
    ):
        # A team name in a script DejaVu Sans lacks (CJK, emoji) draws as boxes on the axis;
        # the tables show it properly, so that is not worth a warning (or, in tests, an error).
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        yield


def _new_figure(width: float, height: float) -> Figure:
    # Constrained layout makes room for long labels without tight_layout's warnings.
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> None:
    figure.savefig(path, format="svg", metadata=_SVG_METADATA)


def _colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def _short(label: str, limit: int = CHART_LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _row_shares(counts: NDArray[np.int64]) -> NDArray[np.float64]:
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(
        counts, rows, out=np.zeros(counts.shape, dtype=np.float64), where=rows > 0
    ).astype(np.float64)


def _confusion_chart(result: EvaluationResult, path: Path) -> None:
    counts = result.confusion()
    shares = _row_shares(counts)
    n = len(result.labels)
    annotate = n <= ANNOTATE_MAX_TEAMS
    if annotate:
        side = min(max(3.2 + 0.42 * n, 5.0), 12.0)
        tick_size = 9.0
    else:
        # Grow with the number of teams so each row keeps a legible label, up to a cap.
        side = min(max(3.2 + 0.13 * n, 8.0), 24.0)
        cell_points = (side - 3.2) * 72 / n
        tick_size = max(3.0, min(6.0, 0.65 * cell_points))
    figure = _new_figure(side + 1.4, side)
    ax = figure.add_subplot()
    # Square-root colour scale: the few percent that are confused stay visible next to a
    # diagonal near 100 %.
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    # interpolation="none" embeds the matrix one pixel per cell, drawn pixelated: crisp, small.
    image = ax.imshow(shares, cmap="Blues", norm=norm, interpolation="none", aspect="equal")
    ticks = np.arange(n)
    labels = [_short(label) for label in result.labels]
    ax.set_yticks(ticks, labels, fontsize=tick_size)
    if annotate:
        ax.set_xticks(
            ticks, labels, fontsize=tick_size, rotation=45, ha="right", rotation_mode="anchor"
        )
        # Count labels sized to the cell: legible for 3 teams, still inside it for 25.
        cell_font = min(10.0, max(6.0, 0.3 * (side - 3.2) * 72 / n))
        for (row, col), count in np.ndenumerate(counts):
            if count == 0:
                continue
            dark = float(norm(shares[row, col])) > 0.6
            ax.text(
                col,
                row,
                str(int(count)),
                ha="center",
                va="center",
                fontsize=cell_font,
                color="white" if dark else "#1a1a1a",
            )
    else:
        ax.set_xticks(ticks, labels, fontsize=tick_size, rotation=90)
    ax.set_xlabel("predicted team")
    ax.set_ylabel("true team")
    # Two short lines: a title wider than the figure is clipped, constrained layout or not.
    ax.set_title(f"{_short(result.name, 60)}\nrow = true team, each row sums to 100 %")
    bar = figure.colorbar(image, ax=ax, shrink=0.6, format=PercentFormatter(1.0))
    bar.set_label("share of the row (square-root scale)")
    _save(figure, path)


def _reliability_chart(results: Sequence[EvaluationResult], path: Path) -> None:
    figure = _new_figure(6.6, 6.0)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfectly calibrated")
    width = 0.9 / RELIABILITY_BINS / len(results)
    for i, result in enumerate(results):
        points = result.reliability(RELIABILITY_BINS)
        if not points:
            continue
        confidence = np.array([p[0] for p in points])
        accuracy = np.array([p[1] for p in points])
        count = np.array([p[2] for p in points])
        top.plot(
            confidence,
            accuracy,
            marker="o",
            color=_colour(i),
            label=f"{result.name} (ECE {_pct(result.ece())})",
        )
        # The curve gives each bin's mean confidence; bins are (k/B, (k+1)/B], so recover
        # k from it to draw each model's counts side by side within the bin.
        index = np.clip(np.ceil(confidence * RELIABILITY_BINS) - 1, 0, RELIABILITY_BINS - 1)
        left = index / RELIABILITY_BINS + 0.05 / RELIABILITY_BINS + i * width
        bottom.bar(left, count, width=width, align="edge", color=_colour(i))
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.set_ylabel("accuracy in bin")
    top.set_title("Reliability: confidence against how often the model is right")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    top.yaxis.set_major_formatter(PercentFormatter(1.0))
    # Mail piles up in the top bin; a log scale keeps the thin bins visible.
    bottom.set_yscale("log")
    # Below 1 so that a bin holding a single mail still shows as a bar.
    bottom.set_ylim(bottom=0.5)
    # Plain numbers: the default log labels are mathtext, which _chart_settings switches off.
    bottom.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    bottom.yaxis.set_minor_formatter(NullFormatter())
    bottom.set_ylabel("mails in bin")
    bottom.set_xlabel("confidence (calibrated)")
    bottom.xaxis.set_major_formatter(PercentFormatter(1.0))
    bottom.grid(alpha=0.3, axis="y")
    _save(figure, path)


def _coverage_chart(results: Sequence[EvaluationResult], path: Path) -> None:
    figure = _new_figure(6.6, 4.6)
    ax = figure.add_subplot()
    lowest = 1.0
    for i, result in enumerate(results):
        curve = result.coverage_precision()
        if curve:
            coverage = [c for _, c, _ in curve]
            precision = [p for _, _, p in curve]
            lowest = min(lowest, *precision)
            ax.plot(coverage, precision, color=_colour(i), label=result.name)
        if result.policy is not None:
            auto_precision, auto_coverage = result.policy_figures()
            lowest = min(lowest, auto_precision)
            ax.plot(
                [auto_coverage],
                [auto_precision],
                marker="o",
                markersize=9,
                markeredgecolor="black",
                color=_colour(i),
                linestyle="none",
                zorder=3,
                label=f"operating point: {_pct(auto_coverage)} auto-routed",
            )
    targets = sorted({r.policy.target_precision for r in results if r.policy is not None})
    for target in targets:
        lowest = min(lowest, target)
        ax.axhline(
            target, linestyle="--", color=TARGET_COLOUR, label=f"target precision {_pct(target)}"
        )
    ax.set_xlim(0, 1.0)
    ax.set_ylim(max(0.0, lowest - 0.03), 1.005)
    ax.set_xlabel("coverage: share of mail forwarded without a person")
    ax.set_ylabel("precision of that mail")
    ax.set_title("Coverage vs precision (most confident mail first)")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    _save(figure, path)


# Page -----------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None, digits: int = 2) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    # No-break space: "95.77 %" must not wrap between the number and its unit.
    return f"{100 * value:.{digits}f}\u00a0%"


def _pp(delta: float) -> str:
    return f"{100 * delta:+.2f}\u00a0pp"


def _threshold(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.3f}"


@dataclass(frozen=True)
class _Metric:
    label: str
    value: Callable[[EvaluationResult], float | None]
    higher_is_better: bool
    # A level past which more is not better: auto-routed precision only has to meet its
    # target, so two models that both meet it are not told apart by precision.
    enough: float | None = None


def _auto_precision(r: EvaluationResult) -> float | None:
    return None if r.policy is None else r.policy_figures()[0]


def _auto_coverage(r: EvaluationResult) -> float | None:
    return None if r.policy is None else r.policy_figures()[1]


def _page(results: Sequence[EvaluationResult], *, title: str, facts: Mapping[str, str]) -> str:
    main = results[0]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="lead">{_lead(results)}</p>',
    ]
    if facts:
        parts.append('<dl class="facts">')
        for key, value in facts.items():
            parts.append(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>")
        parts.append("</dl>")
    parts.append("</header>")
    parts += _headline(results)
    parts += _coverage_section(results)
    parts += _thresholds_section(results)
    parts += _calibration_section()
    parts += _confusion_section(results)
    parts += _teams_section(results)
    parts.append(
        '<footer>Figures for machines: <a href="summary.json">summary.json</a>. '
        f"Written by mailroom for {_e(main.name)}.</footer>"
    )
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _lead(results: Sequence[EvaluationResult]) -> str:
    main = results[0]
    n_oos = int((~main.in_scope).sum())
    text = f"<strong>{_e(main.name)}</strong>"
    if len(results) > 1:
        text += " compared with " + ", ".join(f"<strong>{_e(r.name)}</strong>" for r in results[1:])
    text += f" on {len(main.y_true)} mails for {len(main.labels)} teams"
    if n_oos:
        text += f", {n_oos} of them out of scope (belonging to no team)"
    return text + "."


def _headline(results: Sequence[EvaluationResult]) -> list[str]:
    main, others = results[0], results[1:]
    target = main.policy.target_precision if main.policy is not None else None
    target_note = f" (target {_pct(target)})" if target is not None else ""
    metrics = [
        _Metric("Accuracy (in scope)", lambda r: r.accuracy(), True),
        _Metric("Macro-F1", lambda r: r.macro_f1(), True),
        _Metric("Calibration error (ECE)", lambda r: r.ece(), False),
        _Metric(f"Precision of auto-routed mail{target_note}", _auto_precision, True, target),
        _Metric("Coverage: mail auto-routed", _auto_coverage, True),
    ]
    if any(r.oos_recall() is not None for r in results):
        metrics.append(
            _Metric("Out-of-scope mail sent to a person", lambda r: r.oos_recall(), True)
        )

    head = f"<th>{_e(main.name)}</th>"
    for other in others:
        head += f"<th>{_e(other.name)}</th><th>Δ vs {_e(other.name)}</th>"
    rows = []
    for metric in metrics:
        value = metric.value(main)
        cells = f'<th scope="row">{_e(metric.label)}</th>{_value_cell(main, metric)}'
        for other in others:
            theirs = metric.value(other)
            cells += f"{_value_cell(other, metric)}{_delta_cell(value, theirs, metric)}"
        rows.append(f"<tr>{cells}</tr>")
    n_cells = f'<th scope="row">Mails evaluated</th><td>{len(main.y_true)}</td>'
    n_cells += "".join(f"<td>{len(o.y_true)}</td><td></td>" for o in others)
    rows.append(f"<tr>{n_cells}</tr>")
    return [
        '<section id="headline"><h2>Headline</h2>',
        f'<table class="headline"><thead><tr><th></th>{head}</tr></thead>',
        "<tbody>" + "".join(rows) + "</tbody></table>",
        '<p class="note">Accuracy, macro-F1 and ECE count in-scope mail only. Precision and '
        "coverage are for mail the thresholds forward without a person (out-of-scope mail "
        "that gets through counts as an error); once both models meet the target precision, "
        "coverage is what tells them apart. Δ is in percentage points; green means the main "
        "model is better.</p>",
        "</section>",
    ]


def _value_cell(result: EvaluationResult, metric: _Metric) -> str:
    value = metric.value(result)
    if metric.value is _auto_precision and value is not None and result.policy is not None:
        # Against the model's own target: did its thresholds keep their promise on this set?
        met = value >= result.policy.target_precision
        return f'<td class="{"good" if met else "miss"}">{_pct(value)}</td>'
    return f"<td>{_pct(value)}</td>"


def _delta_cell(mine: float | None, theirs: float | None, metric: _Metric) -> str:
    if mine is None or theirs is None or not (math.isfinite(mine) and math.isfinite(theirs)):
        return "<td>—</td>"
    delta = mine - theirs
    both_enough = metric.enough is not None and min(mine, theirs) >= metric.enough
    # Differences under 0.05 pp are rounding, not a result.
    if abs(delta) < 0.0005 or both_enough:
        cls = "same"
    else:
        cls = "better" if (delta > 0) == metric.higher_is_better else "worse"
    return f'<td class="{cls}">{_pp(delta)}</td>'


def _figure(src: str, alt: str, caption: str, *, link: bool = False) -> str:
    img = f'<img src="{_e(src)}" alt="{_e(alt)}">'
    if link:
        img = f'<a href="{_e(src)}">{img}</a>'
    return f"<figure>{img}<figcaption>{caption}</figcaption></figure>"


def _coverage_section(results: Sequence[EvaluationResult]) -> list[str]:
    return [
        '<section id="coverage"><h2>How much mail can go out without a person</h2>',
        _figure(
            "coverage.svg",
            "Coverage against precision for each model",
            "Sort mail by confidence and forward the most confident share (x) without a "
            "person: the line shows how much of it would be right (y). The dashed line is "
            "the precision an admin asked for; the dot is where the chosen per-team "
            "thresholds actually land.",
        ),
        "</section>",
    ]


def _thresholds_section(results: Sequence[EvaluationResult]) -> list[str]:
    out = ['<section id="thresholds"><h2>Thresholds</h2>']
    if all(r.policy is None for r in results):
        return [
            *out,
            "<p>No thresholds were chosen: every mail goes to a person.</p>",
            "</section>",
        ]
    policies = [(r, r.policy) for r in results if r.policy is not None]
    head = "".join(f"<th>{_e(r.name)}</th>" for r, _ in policies)
    rows = [
        '<tr><th scope="row">target precision</th>'
        + "".join(f"<td>{_pct(p.target_precision)}</td>" for _, p in policies)
        + "</tr>",
        '<tr><th scope="row">risk δ (chance the target is missed)</th>'
        + "".join(f"<td>{p.delta:g}</td>" for _, p in policies)
        + "</tr>",
        '<tr><th scope="row">global threshold (all other teams)</th>'
        + "".join(f"<td>{_threshold(p.global_threshold)}</td>" for _, p in policies)
        + "</tr>",
    ]
    raised = sorted({team for _, p in policies for team in p.team_thresholds})
    for team in raised:
        cells = ""
        for _, p in policies:
            own = p.team_thresholds.get(team)
            cells += "<td>—</td>" if own is None else f'<td class="raised">{_threshold(own)}</td>'
        rows.append(f'<tr><th scope="row">{_e(team)}</th>{cells}</tr>')
    out += [
        f'<table class="thresholds"><thead><tr><th></th>{head}</tr></thead>',
        "<tbody>" + "".join(rows) + "</tbody></table>",
        '<p class="note">A mail is forwarded without a person when its calibrated confidence is '
        "at least its team's threshold; “never” means all of that mail goes to a person. "
        + (
            "Teams listed by name had their threshold raised because their own held-out "
            "precision fell short; “—” means that model uses its global threshold for the team."
            if raised
            else "No team needed a threshold above the global one."
        )
        + "</p>",
        "</section>",
    ]
    return out


def _calibration_section() -> list[str]:
    return [
        '<section id="calibration"><h2>Does the confidence mean what it says?</h2>',
        _figure(
            "reliability.svg",
            "Reliability curve for each model",
            "Mail grouped by confidence: a well calibrated model is right 90 % of the time "
            "when it says 90 %, so its line follows the diagonal. The bars below count the "
            "mails in each group (log scale).",
        ),
        "</section>",
    ]


def _confusion_section(results: Sequence[EvaluationResult]) -> list[str]:
    main = results[0]
    many = len(main.labels) > ANNOTATE_MAX_TEAMS
    caption = (
        "Rows are the true team, columns the predicted one; colour is the share of the row, "
        + (
            "too many teams to print counts; click the chart to open it full size."
            if many
            else "numbers are counts."
        )
    )
    out = [
        '<section id="confusion"><h2>Which teams get mixed up</h2>',
        _figure("confusion-0.svg", f"Confusion matrix of {main.name}", caption, link=many),
    ]
    out += _confused_pairs(results)
    for i, other in enumerate(results[1:], start=1):
        out += [
            f"<details><summary>Confusion matrix of {_e(other.name)}</summary>",
            _figure(
                f"confusion-{i}.svg",
                f"Confusion matrix of {other.name}",
                "Same layout as above.",
                link=len(other.labels) > ANNOTATE_MAX_TEAMS,
            ),
            "</details>",
        ]
    out.append("</section>")
    return out


def _confused_pairs(results: Sequence[EvaluationResult]) -> list[str]:
    main, others = results[0], results[1:]
    counts = main.confusion()
    shares = _row_shares(counts)
    off = counts.copy()
    np.fill_diagonal(off, 0)
    # Most mail first, then the name order, so ties come out the same on every run.
    pairs = sorted(
        ((int(off[t, p]), t, p) for t, p in zip(*np.nonzero(off), strict=True)),
        key=lambda item: (-item[0], main.labels[item[1]], main.labels[item[2]]),
    )[:CONFUSED_PAIRS]
    if not pairs:
        return ["<p>No mail in scope was sent to the wrong team.</p>"]
    other_counts = [(o, o.confusion(), {t: k for k, t in enumerate(o.labels)}) for o in others]
    head = "".join(f"<th>{_e(o.name)}</th>" for o in others)
    rows = []
    for count, t, p in pairs:
        true_team, predicted = main.labels[t], main.labels[p]
        cells = (
            f"<td>{_e(true_team)}</td><td>{_e(predicted)}</td>"
            f'<td class="num">{count}</td><td class="num">{_pct(shares[t, p], 1)}</td>'
        )
        for _, matrix, index in other_counts:
            if true_team in index and predicted in index:
                cells += f'<td class="num">{int(matrix[index[true_team], index[predicted]])}</td>'
            else:
                cells += "<td>—</td>"
        rows.append(f"<tr>{cells}</tr>")
    return [
        f"<h3>Most confused pairs ({_e(main.name)})</h3>",
        '<table class="pairs"><thead><tr><th>true team</th><th>sent to</th><th>mails</th>'
        f"<th>share of true team</th>{head}</tr></thead>",
        "<tbody>" + "".join(rows) + "</tbody></table>",
    ]


def _teams_section(results: Sequence[EvaluationResult]) -> list[str]:
    main, others = results[0], results[1:]
    mine = main.per_team()
    theirs = [{f.team: f for f in o.per_team()} for o in others]
    weak_below = main.macro_f1() - WEAK_MARGIN
    # Weakest first: that is what a reader scrolls for. Teams without test mail go last.
    order = sorted(mine, key=lambda f: (f.support == 0, f.f1, f.team))

    model_heads = f'<th colspan="3" class="group">{_e(main.name)}</th>'
    model_heads += "".join(f'<th colspan="3" class="group">{_e(o.name)}</th>' for o in others)
    sub = '<th class="first">precision</th><th>recall</th><th>F1</th>' * len(results)
    rows = []
    for figures in order:
        weak = figures.support > 0 and figures.f1 < weak_below
        threshold = (
            _threshold(main.policy.threshold_for(figures.team)) if main.policy is not None else "—"
        )
        cells = (
            f'<th scope="row">{_e(figures.team)}</th><td class="num">{figures.support}</td>'
            + _team_cells(figures, best_other=_best_f1(figures.team, theirs))
        )
        for table in theirs:
            cells += _team_cells(table.get(figures.team), best_other=None)
        cells += f'<td class="num">{_e(threshold)}</td>'
        row_class = ' class="weak"' if weak else ""
        rows.append(f"<tr{row_class}>{cells}</tr>")
    return [
        '<section id="teams"><h2>Per team</h2>',
        f'<p class="note">Weakest first. <span class="weak-key">Shaded rows</span>: F1 more than '
        f"{100 * WEAK_MARGIN:.0f} points below the model's macro-F1 "
        f'({_pct(main.macro_f1())}). <span class="behind-key">Underlined F1</span>: a comparator '
        "does better on this team. Support is the number of test mails of the team; threshold is "
        f"the one {_e(main.name)} routes it with.</p>",
        '<table class="teams"><thead>',
        f'<tr><th rowspan="2">team</th><th rowspan="2">support</th>{model_heads}'
        '<th rowspan="2">threshold</th></tr>',
        f"<tr>{sub}</tr></thead>",
        "<tbody>" + "".join(rows) + "</tbody></table>",
        "</section>",
    ]


def _best_f1(team: str, tables: Sequence[Mapping[str, TeamFigures]]) -> float | None:
    scores = [t[team].f1 for t in tables if team in t]
    return max(scores) if scores else None


def _team_cells(figures: TeamFigures | None, *, best_other: float | None) -> str:
    if figures is None:
        return '<td class="first">—</td><td>—</td><td>—</td>'
    behind = best_other is not None and figures.support > 0 and best_other > figures.f1 + 1e-9
    f1_class = "num behind" if behind else "num"
    # One decimal: a table of many teams is read for patterns, not for the second digit.
    return (
        f'<td class="num first">{_pct(figures.precision, 1)}</td>'
        f'<td class="num">{_pct(figures.recall, 1)}</td>'
        f'<td class="{f1_class}">{_pct(figures.f1, 1)}</td>'
    )


def _json_safe(value: object) -> object:
    """NaN and infinity are not JSON; write them as null rather than an invalid file."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;
max-width:1100px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2.2rem 0 .6rem;
border-bottom:1px solid #ddd;padding-bottom:.2rem}h3{font-size:1rem;margin:1.4rem 0 .4rem}
.lead{color:#444;margin:.2rem 0 1rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;font-size:.9rem;
background:#f6f7f9;padding:.6rem .9rem;border-radius:6px}
dl.facts dt{color:#555}dl.facts dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;
overflow-wrap:anywhere}
table{border-collapse:collapse;font-size:.9rem;margin:.4rem 0}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
thead th{background:#f6f7f9}td.num,table.headline td{text-align:right;
font-variant-numeric:tabular-nums}
th.group{text-align:center}td.first,th.first,th.group{border-left:2px solid #d0d4da}
table.headline td{font-size:1rem}
td.better,td.good{color:#1e7b34;font-weight:600}td.worse,td.miss{color:#b3261e;font-weight:600}
td.same{color:#777}
tr.weak{background:#fdecea}.weak-key{background:#fdecea;padding:0 .2rem}
td.behind,.behind-key{text-decoration:underline wavy #b3261e}
td.raised{font-weight:600}
figure{margin:.6rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption,.note{color:#555;font-size:.85rem;max-width:70ch}
details{margin:.8rem 0}summary{cursor:pointer;color:#1f5fa8}
footer{margin:3rem 0 1rem;color:#777;font-size:.8rem}
"""
