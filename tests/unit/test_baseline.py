"""The TF-IDF baseline learns a separable toy set and survives a save/load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
    model.save(tmp_path / "tfidf.npz")
    again = TfidfBaseline.load(tmp_path / "tfidf.npz")
    assert again.predict(texts) == labels
    assert again.classes == ["opzeggingen", "schade"]
    np.testing.assert_allclose(again.predict_proba(texts), probs, rtol=1e-12)
    # No pickle inside, and only the owner reads it.
    with np.load(tmp_path / "tfidf.npz", allow_pickle=False) as data:
        assert {data[name].dtype.kind for name in data.files} <= {"U", "f"}
    assert (tmp_path / "tfidf.npz").stat().st_mode & 0o777 == 0o600


def test_three_teams_round_trip(tmp_path: Path) -> None:
    texts, labels = _data()
    texts = [*texts, "premie te hoog dit jaar", "mijn premie is verhoogd"]
    labels = [*labels, "premie", "premie"]
    model = TfidfBaseline().fit(texts, labels)
    model.save(tmp_path / "tfidf.npz")
    again = TfidfBaseline.load(tmp_path / "tfidf.npz")
    probe = [*texts, "iets heel anders", ""]
    np.testing.assert_allclose(again.predict_proba(probe), model.predict_proba(probe), rtol=1e-12)


def test_one_team_is_not_enough() -> None:
    with pytest.raises(ModelError, match="at least two teams"):
        TfidfBaseline().fit(["a", "b"], ["x", "x"])


def test_unfitted_and_corrupt_models_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not fitted"):
        TfidfBaseline().predict(["x"])
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        TfidfBaseline.load(tmp_path / "bad.npz")
    (tmp_path / "tfidf.pkl").write_bytes(b"an old pickled model")
    with pytest.raises(ModelError, match="saved with pickle"):
        TfidfBaseline.load(tmp_path / "tfidf.npz")
