"""The urgency and churn heads: trained from people's flags, thresholded on cross-fitted
scores, stored with the model version, and the cue list standing in until then."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from classifier.arguments import FlagArguments
from classifier.flag_training import FlagExample, train_flag_head, train_flag_heads
from classifier.flags import FlagHead, FlagHeads, flag_sources
from classifier.version_files import ACTIVE_FILE, FLAG_HEAD_FILES, MANIFEST_FILE
from labeling.rules.cues import cue_flags
from labeling.rules.flags import LearnedFlag, MailFlags, flag_words
from worker.model_cache import ModelCache

TOPICS = (
    "Graag wil ik mijn adres wijzigen naar de nieuwe woning.",
    "Hierbij stuur ik de foto's van de schade aan mijn auto.",
    "Kunt u mij een offerte sturen voor een reisverzekering?",
    "Ik heb een vraag over de premie van dit jaar.",
    "Mijn fiets is gestolen, hoe meld ik dat?",
    "Wanneer wordt het bedrag van de claim overgemaakt?",
)
# Words the organisation calls urgent that the cue list does not know.
ANGRY = (
    "Ik ben het helemaal zat, dit moet nu eindelijk geregeld worden.",
    "Dit is de derde keer dat ik bel en er gebeurt niets, ik wacht al weken.",
    "Onacceptabel dat ik nog steeds zonder auto zit, regel het nu.",
)


def _mails(n: int, positive_share: float, seed: int) -> tuple[list[str], list[bool]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        flagged = rng.random() < positive_share
        text = rng.choice(TOPICS) + f" Polis PZ-{rng.randrange(10**6):06d}."
        if flagged:
            text = rng.choice(ANGRY) + " " + text
        texts.append(text + f" Groet, klant {i}")
        labels.append(flagged)
    return texts, labels


def test_too_few_labels_leave_the_flag_to_the_cue_list_and_say_why() -> None:
    texts, labels = _mails(120, 0.15, seed=1)
    assert 10 < sum(labels) < 30
    outcome = train_flag_head("urgent", texts, labels, FlagArguments())
    assert outcome.head is None and outcome.threshold is None
    assert outcome.source == "cue list"
    assert f"{sum(labels)} mails labelled urgent" in outcome.reason
    assert "needs 30" in outcome.reason and "cue list stands in" in outcome.reason


def test_enough_labels_give_a_head_with_a_threshold_certified_on_cross_fitted_scores() -> None:
    texts, labels = _mails(300, 0.25, seed=2)
    args = FlagArguments(target_precision=0.8)
    outcome = train_flag_head("urgent", texts, labels, args)
    assert outcome.head is not None and outcome.threshold is not None
    assert outcome.source == "model"
    cert = outcome.certificate
    assert cert is not None and cert.certified and cert.target == 0.8
    assert cert.precision_bound is not None and cert.precision_bound >= 0.8
    assert outcome.precision is not None and outcome.precision >= 0.8
    assert outcome.recall is not None and outcome.recall > 0.5
    # The head reads tone the cue list does not list.
    fresh_angry = "Ik ben het zat, ik wacht al weken. Mijn fiets is gestolen."
    assert cue_flags("", fresh_angry).urgent == ()
    heads = FlagHeads("v0001", {"urgent": FlagHead("urgent", outcome.head, outcome.threshold)})
    angry, calm = heads.judge([fresh_angry, "Mijn fiets is gestolen, hoe meld ik dat?"])
    assert angry["urgent"].on and not calm["urgent"].on
    assert angry["urgent"].model_version == "v0001"


def test_labels_without_signal_certify_no_threshold_and_the_cue_list_stands_in() -> None:
    texts, _ = _mails(300, 0.0, seed=3)
    rng = random.Random(4)
    labels = [rng.random() < 0.3 for _ in texts]  # flags no text explains
    outcome = train_flag_head("churn", texts, labels, FlagArguments(target_precision=0.8))
    assert outcome.head is None and outcome.source == "cue list"
    assert outcome.certificate is not None and not outcome.certificate.certified
    assert "no score threshold" in outcome.reason


def test_only_mail_a_person_answered_counts_and_near_duplicates_share_a_fold() -> None:
    texts, labels = _mails(300, 0.25, seed=5)
    examples = [
        FlagExample(text, i // 2, {"urgent": label, "churn": None})
        for i, (text, label) in enumerate(zip(texts, labels, strict=True))
    ]
    outcomes = train_flag_heads(examples, FlagArguments())
    assert outcomes["urgent"].positives == sum(labels)
    assert outcomes["urgent"].head is not None
    # No one was asked about churn: nothing to learn from, not 300 "no"s.
    assert (outcomes["churn"].positives, outcomes["churn"].negatives) == (0, 0)
    assert outcomes["churn"].head is None


def _save_version(root: Path, version: str, flags: dict[str, object], heads: dict) -> Path:
    folder = root / version
    folder.mkdir(parents=True)
    for flag, head in heads.items():
        head.save(folder / FLAG_HEAD_FILES[flag])
    manifest = {"version": version, "flags": flags, "policy": {}}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    (root / ACTIVE_FILE).write_text(json.dumps({"version": version, "history": []}))
    return folder


def test_a_version_keeps_its_heads_and_thresholds_and_the_worker_judges_with_them(
    tmp_path: Path,
) -> None:
    texts, labels = _mails(300, 0.25, seed=6)
    outcomes = train_flag_heads(
        [
            FlagExample(t, i, {"urgent": label, "churn": False})
            for i, (t, label) in enumerate(zip(texts, labels, strict=True))
        ]
    )
    urgent = outcomes["urgent"]
    assert urgent.head is not None and outcomes["churn"].head is None
    folder = _save_version(
        tmp_path,
        "v0001",
        {flag: o.to_json() for flag, o in outcomes.items()},
        {"urgent": urgent.head},
    )
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert flag_sources(manifest) == {"urgent": "model", "churn": "cue list"}
    assert manifest["flags"]["urgent"]["threshold"] == pytest.approx(urgent.threshold)
    assert "cue list stands in" in manifest["flags"]["churn"]["reason"]

    cache = ModelCache(tmp_path, tmp_path / "cache")
    calm = "Graag wil ik mijn adres wijzigen naar de nieuwe woning. Polis PZ-123456. Groet"
    judged = cache.flags(["Onacceptabel, regel het nu. Ik wacht al weken.", calm])
    assert set(judged[0]) == {"urgent"}  # churn has no head: the cue list's job
    assert judged[0]["urgent"].on and not judged[1]["urgent"].on
    assert judged[0]["urgent"].threshold == pytest.approx(urgent.threshold)


def test_a_version_without_heads_judges_nothing(tmp_path: Path) -> None:
    _save_version(tmp_path, "v0001", {}, {})
    assert ModelCache(tmp_path, tmp_path / "cache").flags(["x", "y"]) == [{}, {}]
    assert ModelCache(tmp_path / "none", tmp_path / "cache").flags(["x"]) == [{}]


def test_every_display_says_where_a_flag_came_from() -> None:
    learned = MailFlags(
        cues=cue_flags("SPOED", "ik wil opzeggen"),
        learned={"urgent": LearnedFlag(0.913, 0.6, "v0003")},
    )
    details = learned.details()
    assert details["urgent"] == {
        "source": "model",
        "score": 0.913,
        "threshold": 0.6,
        "model_version": "v0003",
    }
    assert details["churn"] == {"source": "cue list", "cues": ["opzeggen"]}
    assert flag_words("urgent", details["urgent"]) == "urgent: 0.91 (model)"
    assert flag_words("churn", details["churn"]) == "wants to leave (cue list: 'opzeggen')"
    # The head overrules the cue list both ways: below its threshold, "spoed" is not urgent.
    calm = MailFlags(cues=cue_flags("SPOED", ""), learned={"urgent": LearnedFlag(0.2, 0.6, "v3")})
    assert calm.names == () and calm.details() == {}
    # Older decisions recorded a list of cues.
    assert flag_words("urgent", ["spoed*"]) == "urgent (cue list: 'spoed*')"
