"""The TF-IDF baseline learns a separable toy set and survives a save/load round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.baseline import TfidfBaseline
from labeling.errors import ModelError

TEXTS = {
    "schade": [
        "aanrijding met mijn auto, schade aan de bumper",
        "waterschade in de keuken na lekkage",
        "mijn fiets is gestolen, ik wil schade melden",
        "storm heeft het dak beschadigd",
    ],
    "opzeggingen": [
        "ik wil mijn verzekering opzeggen per volgende maand",
        "graag beëindigen van de polis, ik ga verhuizen naar het buitenland",
        "opzegging van mijn reisverzekering",
        "stop alstublieft de inboedelverzekering",
    ],
}


def _data() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for team, examples in TEXTS.items():
        texts += examples
        labels += [team] * len(examples)
    return texts, labels


def test_learns_a_separable_toy_set_and_round_trips(tmp_path: Path) -> None:
    texts, labels = _data()
    model = TfidfBaseline().fit(texts, labels)
    assert model.predict(texts) == labels
    assert model.predict(["schade aan mijn auto door een aanrijding"]) == ["schade"]
    probs = model.predict_proba(texts)
    assert probs.shape == (8, 2)
    model.save(tmp_path / "tfidf.pkl")
    again = TfidfBaseline.load(tmp_path / "tfidf.pkl")
    assert again.predict(texts) == labels
    assert again.classes == ["opzeggingen", "schade"]


def test_one_team_is_not_enough() -> None:
    with pytest.raises(ModelError, match="at least two teams"):
        TfidfBaseline().fit(["a", "b"], ["x", "x"])


def test_unfitted_and_corrupt_models_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not fitted"):
        TfidfBaseline().predict(["x"])
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot load"):
        TfidfBaseline.load(tmp_path / "bad.pkl")
