"""The linear member's second model family: sentence embeddings (classifier.sentence).

They read meaning the n-grams cannot (a Dutch question after English training mail), they
are bounded on huge mail, a saved model keeps which encoder it was fitted on and refuses
another, and validation decides whether the blend's linear member uses them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from classifier import sentence
from classifier.arguments import PipelineArguments
from classifier.baseline import BaselineArguments, TfidfBaseline
from classifier.recipe import linear_member
from labeling.errors import ModelError

TRAIN = {
    "claims": [
        "my car was damaged in an accident",
        "a storm broke the roof of my house",
        "water leaked and ruined the kitchen floor",
        "someone stole my bicycle last night",
    ],
    "cancellations": [
        "I want to cancel my insurance policy",
        "please end my contract next month",
        "stop my travel insurance, I am moving abroad",
        "terminate the home contents policy",
    ],
    "billing": [
        "why is my monthly premium so high",
        "I was charged twice this month",
        "the invoice amount is wrong",
        "can I pay the premium in instalments",
    ],
}
# The same business in Dutch: no word in common with the training mail.
DUTCH = {
    "claims": [
        "mijn auto is beschadigd bij een aanrijding",
        "de storm heeft het dak van ons huis vernield",
        "er is ingebroken en mijn fiets is gestolen",
    ],
    "cancellations": [
        "ik wil mijn verzekering opzeggen",
        "beëindig alstublieft mijn contract per volgende maand",
        "zeg mijn reisverzekering op, ik verhuis naar het buitenland",
    ],
    "billing": [
        "waarom is mijn maandpremie zo hoog",
        "er is deze maand twee keer geïncasseerd",
        "het bedrag op de factuur klopt niet",
    ],
}


def _flat(data: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    texts = [t for examples in data.values() for t in examples]
    labels = [team for team, examples in data.items() for _ in examples]
    return texts, labels


def test_embeddings_are_unit_rows_and_bounded_on_huge_mail() -> None:
    rows = sentence.embed(["my car was damaged", "", "mijn auto is beschadigd"])
    assert rows.shape == (3, sentence.DIMENSIONS) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-4)
    # The same meaning in two languages lies closer than a different one.
    assert rows[0] @ rows[2] > 0.6
    assert sentence.embed([]).shape == (0, sentence.DIMENSIONS)
    # Only the first MAX_CHARS characters are read: a megabyte of mail costs no more.
    head = "Geachte heer, ik wil mijn polis opzeggen. " * 40
    huge = head + "x" * 1_000_000
    np.testing.assert_array_equal(
        sentence.embed([huge]), sentence.embed([huge[: sentence.MAX_CHARS]])
    )


def test_sentence_features_carry_meaning_across_languages_and_round_trip(
    tmp_path: Path,
) -> None:
    texts, labels = _flat(TRAIN)
    dutch, dutch_labels = _flat(DUTCH)
    ngrams = TfidfBaseline().fit(texts, labels)
    both = TfidfBaseline(BaselineArguments(sentence_scale=2.0)).fit(texts, labels)
    right = np.mean(np.array(both.predict(dutch)) == np.array(dutch_labels))
    right_ngrams = np.mean(np.array(ngrams.predict(dutch)) == np.array(dutch_labels))
    assert right >= 7 / 9 and right > right_ngrams
    assert both.reads_sentences and not ngrams.reads_sentences
    both.save(tmp_path / "linear.npz")
    again = TfidfBaseline.load(tmp_path / "linear.npz")
    assert again.reads_sentences
    np.testing.assert_allclose(
        again.predict_proba(dutch), both.predict_proba(dutch), rtol=1e-5, atol=1e-7
    )
    with np.load(tmp_path / "linear.npz", allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
    assert meta["sentence"] == {
        "model": sentence.MODEL,
        "version": sentence.package_version(),
        "scale": 2.0,
    }


def test_a_model_fitted_on_another_encoder_release_is_refused(tmp_path: Path) -> None:
    texts, labels = _flat(TRAIN)
    TfidfBaseline(BaselineArguments(sentence_scale=2.0)).fit(texts, labels).save(
        tmp_path / "linear.npz"
    )
    with np.load(tmp_path / "linear.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["sentence"]["version"] = "0.0.1"
    arrays["meta"] = np.asarray(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    (tmp_path / "linear.npz").write_bytes(buffer.getvalue())
    with pytest.raises(ModelError, match="train a new version"):
        TfidfBaseline.load(tmp_path / "linear.npz")


def test_validation_decides_whether_the_linear_member_reads_sentences() -> None:
    texts, labels = _flat(TRAIN)
    dutch, dutch_labels = _flat(DUTCH)
    ngrams = TfidfBaseline().fit(texts, labels)
    args = PipelineArguments()
    member, probs, note = linear_member(
        ngrams, ngrams.predict_proba(dutch), texts, labels, dutch, dutch_labels, args
    )
    assert member is not ngrams and "→ with sentence embeddings" in (note or "")
    np.testing.assert_allclose(probs, member.predict_proba(dutch), rtol=1e-5, atol=1e-7)
    # Validation in the training mail's own words: the n-grams rank it at least as well
    # (every answer right and sure), and they serve alone.
    member, _, note = linear_member(
        ngrams, ngrams.predict_proba(texts), texts, labels, texts, labels, args
    )
    assert member is ngrams and "→ TF-IDF alone" in (note or "")
    # Switched off, or nothing to decide on: the n-grams, without a word said.
    off = PipelineArguments(sentence_scale=0.0)
    assert (
        linear_member(ngrams, ngrams.predict_proba(dutch), texts, labels, dutch, dutch_labels, off)[
            0
        ]
        is ngrams
    )
    nothing = linear_member(ngrams, np.zeros((0, 3)), texts, labels, [], [], args)
    assert nothing[0] is ngrams and nothing[2] is None
