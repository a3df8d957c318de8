"""Agreement statistics (pure): known answers, computed by hand or taken from the literature."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from itertools import permutations

import pytest

from labeling.annotation.agreement import (
    cohen_kappa,
    krippendorff_alpha,
    per_team_alpha,
    per_team_kappa,
)
from labeling.annotation.export import Resolution, Vote, resolve_label


def pairs(counts: dict[tuple[str, str], int]) -> tuple[list[str], list[str]]:
    """Two raters' label lists from a confusion table {(label of A, label of B): items}."""
    a: list[str] = []
    b: list[str] = []
    for (x, y), n in counts.items():
        a += [x] * n
        b += [y] * n
    return a, b


# Cohen's kappa ---------------------------------------------------------------------------


def test_kappa_two_by_two_by_hand() -> None:
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    # p_o = 35/50 = 0.7; A says yes 0.5, B says yes 0.6; p_e = 0.5*0.6 + 0.5*0.4 = 0.5;
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    a, b = pairs({("y", "y"): 20, ("y", "n"): 5, ("n", "y"): 10, ("n", "n"): 15})
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_three_by_three_by_hand() -> None:
    #        B: a  b  c
    # A: a      3  1  0
    #    b      0  2  1
    #    c      1  0  2
    # p_o = 7/10; marginals A (4, 3, 3), B (4, 3, 3); p_e = (16 + 9 + 9)/100 = 0.34;
    # kappa = (0.7 - 0.34) / 0.66 = 6/11.
    a, b = pairs(
        {
            ("a", "a"): 3,
            ("a", "b"): 1,
            ("b", "b"): 2,
            ("b", "c"): 1,
            ("c", "a"): 1,
            ("c", "c"): 2,
        }
    )
    assert cohen_kappa(a, b) == pytest.approx(6 / 11)


def test_kappa_perfect_agreement_is_one() -> None:
    assert cohen_kappa(["a", "b", "c", "a"], ["a", "b", "c", "a"]) == 1.0
    # One label only: the textbook formula divides 0 by 0; agreement is still perfect.
    assert cohen_kappa(["a", "a"], ["a", "a"]) == 1.0


def test_kappa_total_disagreement_and_edge_cases() -> None:
    assert cohen_kappa(["a", "a"], ["b", "b"]) == pytest.approx(0.0)
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)
    assert math.isnan(cohen_kappa([], []))
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa(["a"], ["a", "b"])


def test_per_team_kappa_is_one_vs_rest() -> None:
    a, b = pairs({("y", "y"): 20, ("y", "n"): 5, ("n", "y"): 10, ("n", "n"): 15})
    # With two labels, each team against the rest is the same table.
    assert per_team_kappa(a, b) == {"n": pytest.approx(0.4), "y": pytest.approx(0.4)}
    result = per_team_kappa(["a", "b", "c"], ["a", "b", "b"])
    assert result["a"] == 1.0
    # b vs rest: A (no, yes, no), B (no, yes, yes): p_o = 2/3, p_e = 1/3*2/3 + 2/3*1/3 = 4/9,
    # kappa = (2/3 - 4/9) / (5/9) = 0.4.
    assert result["b"] == pytest.approx(0.4)
    # c vs rest: A (no, no, yes), B (no, no, no): p_o = 2/3, p_e = 2/3, kappa = 0.
    assert result["c"] == pytest.approx(0.0)


# Krippendorff's alpha --------------------------------------------------------------------


def alpha_by_definition(units: list[list[str]]) -> Fraction:
    """Nominal alpha straight from the coincidence matrix, in exact fractions.

    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c * n_k.
    """
    coincidences: Counter[tuple[str, str]] = Counter()
    for unit in units:
        if len(unit) < 2:
            continue
        for c, k in permutations(unit, 2):
            coincidences[(c, k)] += Fraction(1, len(unit) - 1)
    totals: Counter[str] = Counter()
    for (c, _k), o in coincidences.items():
        totals[c] += o
    n = sum(totals.values())
    observed = sum(o for (c, k), o in coincidences.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    return 1 - (n - 1) * observed / expected


def test_alpha_small_case_by_hand() -> None:
    # Units (a, a), (a, b), (b, b): o_aa = 2, o_ab = o_ba = 1, o_bb = 2; n_a = n_b = 3, n = 6.
    # D_o = 2/6, D_e = 2 * 3 * 3 / (6 * 5) = 0.6; alpha = 1 - (1/3)/0.6 = 4/9.
    units = [["a", "a"], ["a", "b"], ["b", "b"]]
    assert alpha_by_definition(units) == Fraction(4, 9)
    assert krippendorff_alpha(units) == pytest.approx(4 / 9)


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the nominal example:
# four observers, twelve units, missing values left out. The paper reports alpha = 0.743.
PAPER_UNITS = [
    ["1", "1", "1"],
    ["2", "2", "3", "2"],
    ["3", "3", "3", "3"],
    ["3", "3", "3", "3"],
    ["2", "2", "2", "2"],
    ["1", "2", "3", "4"],
    ["4", "4", "4", "4"],
    ["1", "1", "2", "1"],
    ["2", "2", "2", "2"],
    ["5", "5", "5"],
    ["1", "1"],
    ["3"],
]


def test_alpha_matches_krippendorffs_paper() -> None:
    exact = alpha_by_definition(PAPER_UNITS)
    assert exact == Fraction(113, 152)  # recomputed here: 0.7434…
    assert round(float(exact), 3) == 0.743  # the paper's figure
    assert krippendorff_alpha(PAPER_UNITS) == pytest.approx(float(exact))


def test_alpha_perfect_agreement_and_edge_cases() -> None:
    assert krippendorff_alpha([["a", "a"], ["b", "b", "b"], ["c", "c"]]) == pytest.approx(1.0)
    assert krippendorff_alpha([["a", "a"], ["a", "a"]]) == 1.0  # one value: 0/0 otherwise
    assert math.isnan(krippendorff_alpha([["a"], ["b"]]))  # nothing pairable
    assert math.isnan(krippendorff_alpha([]))
    # Units with one label do not count.
    units = [["a", "a"], ["a", "b"], ["b", "b"]]
    assert krippendorff_alpha([*units, ["c"]]) == pytest.approx(4 / 9)


def test_per_team_alpha_is_one_vs_rest() -> None:
    units = [["a", "a"], ["a", "b"], ["b", "b"], ["c", "c"]]
    result = per_team_alpha(units)
    assert set(result) == {"a", "b", "c"}
    assert result["c"] == pytest.approx(1.0)
    yes_no = [["yes" if v == "a" else "no" for v in unit] for unit in units]
    assert result["a"] == pytest.approx(float(alpha_by_definition(yes_no)))


# Label resolution (pure) -----------------------------------------------------------------


def test_resolution_order() -> None:
    weak = Vote("archive-folder", "claims", 1)
    assert resolve_label([weak]) is None
    assert resolve_label([weak], include_weak=True) == Resolution("claims", ("archive-folder",))
    review = Vote("review", "sales", 2)
    assert resolve_label([weak, review]) == Resolution("sales", ("review",))
    humans = [Vote("human", "claims", 3), Vote("human", "sales", 4)]
    assert resolve_label([weak, review, *humans]) is None  # tie: wait for adjudication
    third = Vote("human", "claims", 5)
    assert resolve_label([weak, review, *humans, third]) == Resolution(
        "claims", ("human", "archive-folder")
    )
    adjudication = Vote("adjudication", "sales", 6)
    assert resolve_label([weak, review, *humans, adjudication]) == Resolution(
        "sales", ("adjudication", "human", "review")
    )
    assert resolve_label([Vote("model", "claims", 7)], include_weak=True) is None
