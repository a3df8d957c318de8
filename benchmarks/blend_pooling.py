"""How the way the two members are blended decides what a demo instance certifies (issue 10).

    MAILROOM_INSTANCE_PATH=/tmp/demo/instance .venv/bin/python benchmarks/blend_pooling.py

Run it after ``mailroom demo --no-serve`` on that instance. It takes the active version's
two members (the fine-tuned transformer's logits, the TF-IDF model's probabilities) on
three sets of mail, each read as routing reads it: the validation carve (rebuilt as the
training run split it: the labelled pool less the verified sample's groups and the suspect
labels), the verified sample, and the demo inbox (truth from the generator). For each way
of blending them — the product of their probabilities (log-linear; weight by validation
macro-F1 or fixed, temperature by validation NLL), their mean (weight by validation risk
alone, or fixed), and what training chooses (:func:`classifier.recipe.fit_blend`: the
pooling, its weight by the one-SE rule, its calibration) — it prints the threshold
certified for 0.98 and 0.97 on the verified sample and what that threshold routes of the
inbox, at what realised precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import f1_score

from classifier.arguments import PipelineArguments
from classifier.calibration import fit_temperature
from classifier.certify import certify
from classifier.recipe import WEIGHT_GRID, fit_blend, routing_risk
from classifier.scoring import combine, combined_logits
from labeling.annotation.export import split_examples, training_examples
from labeling.annotation.suspects import unconfirmed_suspects
from labeling.annotation.verify import verified_mail
from labeling.settings import load_settings
from labeling.store.db import open_database, session_scope
from mailroom.commands.demo import active_router, inbox_texts, truth_by_message_id

Members = tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.int64]]
Blend = Callable[[Members], NDArray[np.float64]]


def main() -> None:
    settings = load_settings()
    args = PipelineArguments()
    truth = truth_by_message_id(settings.instance_path / "demo-corpus")
    router = active_router(settings)
    labels = list(router.labels)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        pseudonymiser = settings.pseudonymiser()
        examples = training_examples(session, include_weak=True, pseudonymiser=pseudonymiser)
        verified = verified_mail(session, pseudonymiser=pseudonymiser)
        suspects = unconfirmed_suspects(session)
        inbox = inbox_texts(session, settings)
    groups = {v.group for v in verified}
    pool = [
        e
        for e in examples
        if (e.group or e.message_id) not in groups and e.message_id not in suspects
    ]
    _, validation = split_examples(pool, validation_share=args.validation_share, seed=args.seed)

    def members(texts: Sequence[str], gold: Sequence[str | None]) -> Members:
        logits, _, _, _ = router.transformer_outputs(texts)
        if logits is None:
            raise SystemExit("the active version has no transformer: nothing to blend")
        tfidf = router.c.tfidf.predict_proba(texts)
        y = np.array([labels.index(g) if g in labels else -1 for g in gold])
        return logits, tfidf, y

    val = members([e.text for e in validation], [e.label for e in validation])
    ver = members([v.text for v in verified], [v.team for v in verified])
    box = members([text for _, text in inbox], [truth[message_id] for message_id, _ in inbox])

    def product(weight: float) -> tuple[str, Blend]:
        t = fit_temperature(combined_logits(val[0], val[1], weight), val[2])
        return f"product, weight {weight:.1f}, T {t:.2f}", lambda m: combine(
            m[0], m[1], weight, t, "product"
        )

    def mean(weight: float, how: str) -> tuple[str, Blend]:
        return f"mean, weight {weight:.1f} ({how})", lambda m: combine(
            m[0], m[1], weight, 1.0, "mean"
        )

    def f1_weight() -> float:
        def score(w: float) -> float:
            pred = combined_logits(val[0], val[1], w).argmax(axis=1)
            return float(f1_score(val[2], pred, average="macro", zero_division=0))

        return max(WEIGHT_GRID, key=lambda w: (round(score(w), 4), -w))

    def risk_weight() -> float:
        def risk(w: float) -> float:
            p = combine(val[0], val[1], w, 1.0, "mean")
            return routing_risk(p.max(axis=1), p.argmax(axis=1) == val[2])

        return min(WEIGHT_GRID, key=lambda w: (risk(w), abs(w - 0.5)))

    chosen = fit_blend(labels, [labels[i] for i in val[2]], val[0], val[1], True)
    one_se = chosen.weight
    blends = [
        product(f1_weight()),
        product(0.5),
        mean(risk_weight(), "validation risk alone"),
        mean(0.5, "fixed"),
        (
            f"{chosen.pooling}, weight {one_se:.1f}, T {chosen.temperature:.2f}"
            + (", top label calibrated" if chosen.top_label else "")
            + " (what training does: fit_blend)",
            lambda m: combine(
                m[0], m[1], one_se, chosen.temperature, chosen.pooling, chosen.top_label
            ),
        ),
    ]
    print(
        f"version {router.version}: validation {len(val[2])}, verified {len(ver[2])}, "
        f"inbox {len(box[2])}"
    )
    for name, blend in blends:
        p_ver, p_box = blend(ver), blend(box)
        ok_ver = p_ver.argmax(axis=1) == ver[2]
        ok_box = p_box.argmax(axis=1) == box[2]
        cells = []
        for target in (0.98, 0.97):
            c = certify(p_ver.max(axis=1), ok_ver, np.zeros(len(ok_ver), bool), target, args.delta)
            routed = p_box.max(axis=1) >= c.threshold
            precision = f"{ok_box[routed].mean():.3f}" if routed.any() else "n/a"
            cells.append(
                f"{target}: verified {c.coverage:.0%}, inbox {routed.mean():.0%} at {precision}"
            )
        print(f"{name}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
