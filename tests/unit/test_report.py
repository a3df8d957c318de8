"""The evaluation report: files written, figures shown as formatted, user data escaped,
nothing fetched from elsewhere, same input gives the same bytes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from classifier.calibration import softmax
from classifier.evaluation import EvaluationResult, evaluate
from classifier.report import write_report
from classifier.thresholds import select_thresholds

SCRIPT_TEAM = "<script>alert(1)</script>"


def pct(value: float) -> str:
    """A rate as the page writes it (a no-break space keeps number and unit together)."""
    return f"{100 * value:.2f}\u00a0%"


def synthetic(
    name: str,
    teams: Sequence[str],
    *,
    n: int,
    strength: float,
    seed: int,
    oos_share: float = 0.0,
) -> EvaluationResult:
    """Predictions whose quality grows with ``strength``; thresholds chosen on the same set
    (good enough for drawing; the selection itself is tested elsewhere)."""
    rng = np.random.default_rng(seed)
    true_index = rng.integers(0, len(teams), size=n)
    logits = rng.normal(0.0, 1.0, size=(n, len(teams)))
    oos = rng.random(n) < oos_share
    # Out-of-scope mail gets no boost: the model is unsure about it, as it should be.
    logits[np.arange(n)[~oos], true_index[~oos]] += strength
    y_true = ["oos" if o else teams[t] for o, t in zip(oos, true_index, strict=True)]
    probabilities = softmax(logits, temperature=0.7)
    first = evaluate(name, teams, y_true, probabilities, oos_label="oos" if oos_share else None)
    policy = select_thresholds(first.confidences, first.y_pred, first.correct, 0.95)
    return evaluate(
        name,
        teams,
        y_true,
        probabilities,
        policy=policy,
        oos_label="oos" if oos_share else None,
    )


def pair(
    teams: Sequence[str], *, n: int, oos_share: float = 0.0
) -> tuple[EvaluationResult, EvaluationResult]:
    model = synthetic("transformer (MiniLM)", teams, n=n, strength=4.0, seed=1, oos_share=oos_share)
    baseline = synthetic("TF-IDF baseline", teams, n=n, strength=2.5, seed=2, oos_share=oos_share)
    return model, baseline


FACTS = {"model version": "v7", "training-set hash": "sha256:ab12", "note": "<b>bold</b>"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[EvaluationResult]]:
    teams = ["claims", "Schade & Letsel", SCRIPT_TEAM, "$\\frac{broken"]
    results = list(pair(teams, n=400))
    out = tmp_path_factory.mktemp("small")
    write_report(out, results, title="Evaluation <v7>", facts=FACTS)
    return out, results


def test_writes_page_charts_and_summary(small: tuple[Path, list[EvaluationResult]]) -> None:
    out, _ = small
    for name in ("index.html", "summary.json", "coverage.svg", "reliability.svg"):
        assert (out / name).stat().st_size > 0, name
    for name in ("confusion-0.svg", "confusion-1.svg"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "index.html").read_text(encoding="utf-8")
    for src in re.findall(r'src="([^"]+)"', page):
        assert (out / src).is_file(), src  # every chart the page shows is there


def test_page_shows_the_figures_of_both_models(
    small: tuple[Path, list[EvaluationResult]],
) -> None:
    out, (model, baseline) = small
    page = (out / "index.html").read_text(encoding="utf-8")
    for result in (model, baseline):
        assert pct(result.accuracy()) in page
        assert pct(result.macro_f1()) in page
        assert pct(result.ece()) in page
        precision, coverage = result.policy_figures()
        assert pct(precision) in page
        assert pct(coverage) in page
    assert f"{100 * (model.accuracy() - baseline.accuracy()):+.2f}\u00a0pp" in page
    assert "TF-IDF baseline" in page
    assert "training-set hash" in page
    assert "sha256:ab12" in page
    assert "<title>Evaluation &lt;v7&gt;</title>" in page


def test_user_data_is_escaped(small: tuple[Path, list[EvaluationResult]]) -> None:
    out, _ = small
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "Schade &amp; Letsel" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>" not in page
    for chart in out.glob("*.svg"):
        # The many-team chart is linked to, so it may be opened on its own, not just as <img>.
        assert "<script" not in chart.read_text(encoding="utf-8"), chart.name


def test_page_fetches_nothing_from_elsewhere(small: tuple[Path, list[EvaluationResult]]) -> None:
    out, _ = small
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "http://" not in page
    assert "https://" not in page
    for target in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert re.fullmatch(r"[\w.-]+", target), target  # a file beside the page
    assert "<link" not in page
    assert "@import" not in page
    assert "url(" not in page


def test_summary_json_matches_summary(small: tuple[Path, list[EvaluationResult]]) -> None:
    out, results = small
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert data["title"] == "Evaluation <v7>"
    assert data["facts"] == FACTS
    assert [r["name"] for r in data["results"]] == [r.name for r in results]
    for written, result in zip(data["results"], results, strict=True):
        assert written["summary"] == json.loads(json.dumps(result.summary()))


def test_same_input_gives_same_bytes(
    small: tuple[Path, list[EvaluationResult]], tmp_path: Path
) -> None:
    out, results = small
    before = dict(matplotlib.rcParams)
    write_report(tmp_path, results, title="Evaluation <v7>", facts=FACTS)
    assert dict(matplotlib.rcParams) == before  # chart settings do not leak out
    for path in sorted(out.iterdir()):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_many_teams_list_confused_pairs_instead_of_cell_counts(tmp_path: Path) -> None:
    teams = [f"team {i:02d} with a rather long descriptive name" for i in range(80)]
    # One model is enough here: the comparators' charts take the same path, and each
    # many-team chart costs a second or two of CPU.
    model = synthetic("transformer", teams, n=800, strength=4.0, seed=1)
    index = write_report(tmp_path, [model], title="80 teams")
    page = index.read_text(encoding="utf-8")
    assert "Most confused pairs" in page
    assert page.count("<tr") >= 80  # one row per team in the per-team table
    assert (tmp_path / "confusion-0.svg").stat().st_size > 0
    # The many-class chart is scaled up, and can be opened full size from the page.
    width = re.search(r'<svg[^>]*width="([\d.]+)pt"', (tmp_path / "confusion-0.svg").read_text())
    assert width is not None and float(width.group(1)) > 600
    assert '<a href="confusion-0.svg">' in page


def test_out_of_scope_recall_is_shown(tmp_path: Path) -> None:
    teams = ["claims", "policies", "billing", "漢字チーム"]
    model, baseline = pair(teams, n=500, oos_share=0.15)
    recall = model.oos_recall()
    assert recall is not None
    index = write_report(tmp_path, [model, baseline], title="with OOS")
    page = index.read_text(encoding="utf-8")
    assert "Out-of-scope mail sent to a person" in page
    assert pct(recall) in page
    assert "out of scope" in page
    data = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert data["results"][0]["summary"]["oos_recall"] == round(recall, 4)


def test_a_single_model_without_thresholds_still_gets_a_report(tmp_path: Path) -> None:
    result = synthetic("only", ["a", "b", "c"], n=60, strength=3.0, seed=3)
    bare = evaluate("only", result.labels, result.y_true, np.eye(3)[[0, 1, 2] * 20])
    index = write_report(tmp_path / "nested" / "dir", [bare], title="bare")
    page = index.read_text(encoding="utf-8")
    assert "every mail goes to a person" in page
    assert (tmp_path / "nested" / "dir" / "confusion-0.svg").stat().st_size > 0


def test_no_results_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_report(tmp_path, [], title="empty")
