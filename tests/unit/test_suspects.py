"""Confident learning over the weak labels: a misfiled label is found, labels people gave
judge with the weak ones but are never judged themselves."""

from __future__ import annotations

import random

import pytest

from classifier.suspects import find_suspects

_WORDS = {
    "schade": "aanrijding auto deuk bumper expert taxatie schadeformulier",
    "premie": "premie incasso betaling termijn bedrag afschrijving factuur",
    "opzeggingen": "opzeggen beeindigen stoppen overstappen einde contract verlengen",
}


def _mail(team: str, rng: random.Random, extra: str = "") -> str:
    words = _WORDS[team].split()
    return " ".join(rng.sample(words, 5)) + (f" {extra}" if extra else "")


def _moving(rng: random.Random) -> str:
    return " ".join(
        rng.sample(["verhuizing", "adres", "nieuw", "woning", "sleutel", "emigratie"], 4)
    )


def _weak(rng: random.Random, per_team: int = 15) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for team in _WORDS:
        for _ in range(per_team):
            texts.append(_mail(team, rng))
            labels.append(team)
    return texts, labels


def test_a_misfiled_weak_label_is_found_with_the_team_it_belongs_to() -> None:
    rng = random.Random(3)
    texts, labels = _weak(rng)
    texts.append(_mail("schade", rng))
    labels.append("premie")  # filed in the wrong folder
    findings = find_suspects(texts, labels, folds=3)
    by_index = {f.index: f for f in findings}
    assert len(texts) - 1 in by_index
    found = by_index[len(texts) - 1]
    assert (found.given, found.likely) == ("premie", "schade")
    assert found.quality < 0.5
    assert len(findings) <= 3  # consistent labels are not flagged wholesale


def test_labels_people_gave_judge_the_weak_ones_and_are_never_judged() -> None:
    rng = random.Random(5)
    texts, labels = _weak(rng)
    # Weak labels say mail about a "verhuizing" is for premie, five times over; on the
    # weak labels alone that is consistent.
    moved = [_moving(rng) for _ in range(5)]
    texts += moved
    labels += ["premie"] * len(moved)
    first = len(texts) - len(moved)
    alone = {f.index for f in find_suspects(texts, labels, folds=3)}
    assert not alone & set(range(first, len(texts)))
    # People labelled thirty such mails as opzeggingen: now the weak ones are suspect.
    trusted = [_moving(rng) for _ in range(30)]
    findings = find_suspects(
        texts,
        labels,
        folds=3,
        trusted_texts=trusted,
        trusted_labels=["opzeggingen"] * len(trusted),
    )
    flagged = {f.index for f in findings}
    assert flagged & set(range(first, len(texts)))
    assert all(0 <= f.index < len(texts) for f in findings)  # trusted mail gets no verdict
    assert {f.likely for f in findings if f.index >= first} == {"opzeggingen"}


def test_trusted_texts_and_labels_must_pair_up() -> None:
    texts, labels = _weak(random.Random(1))
    with pytest.raises(ValueError, match="differ in length"):
        find_suspects(texts, labels, trusted_texts=["a"], trusted_labels=[])
