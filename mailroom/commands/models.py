"""Model commands: train, evaluate, models list|promote|rollback, benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from labeling.settings import Settings

_model_option = click.option(
    "--model",
    default=None,
    help="Base encoder: e5-small, minilm, or a transformers folder (default: MAILROOM_MODEL).",
)
_epochs_option = click.option("--epochs", type=int, default=None, help="Most epochs to train.")
_length_option = click.option(
    "--max-length", type=int, default=None, help="Tokens kept per mail (default 128)."
)
_budget_option = click.option(
    "--time-budget",
    type=float,
    default=None,
    help="Seconds of fine-tuning: the steps are planned to fit (the learning rate still "
    "decays to zero), the last epoch may be partial.",
)
_seed_option = click.option("--seed", type=int, default=0, show_default=True)


@click.command("train")
@_model_option
@_epochs_option
@_length_option
@_budget_option
@_seed_option
@click.option(
    "--include-weak",
    is_flag=True,
    help="Also train on unconfirmed archive-folder labels (label-from-folders).",
)
@click.option("--force", is_flag=True, help="Promote even if worse than the active version.")
@click.pass_obj
def train(
    settings: Settings,
    model: str | None,
    epochs: int | None,
    max_length: int | None,
    time_budget: float | None,
    seed: int,
    include_weak: bool,
    force: bool,
) -> None:
    """Train a model version from the labels in the store; promote it if not worse."""
    from classifier.arguments import from_settings
    from classifier.store_training import train_from_store

    args = from_settings(
        settings,
        model=model,
        epochs=epochs,
        max_length=max_length,
        time_budget=time_budget,
        seed=seed,
    )
    outcome = train_from_store(
        settings,
        args,
        include_weak=include_weak,
        progress=sys.stderr.isatty(),
        force_promote=force,
    )
    click.echo(
        f"{outcome.version}: {outcome.kind}, {outcome.n_train} train / "
        f"{outcome.n_validation} validation / {outcome.n_holdout} holdout mails, "
        f"{outcome.train_seconds:.0f} s"
    )
    if outcome.holdout:
        h, b = outcome.holdout, outcome.baseline_holdout
        click.echo(
            f"holdout: accuracy {h['accuracy']:.3f} (TF-IDF {b.get('accuracy', 0):.3f}), "
            f"macro-F1 {h['macro_f1']:.3f} (TF-IDF {b.get('macro_f1', 0):.3f}), "
            f"auto-routed {h.get('coverage', 0):.1%} at precision "
            f"{h.get('auto_precision', 0):.3f}"
        )
    verdict = "promoted" if outcome.promoted else "kept, not promoted"
    click.echo(f"{verdict}: {outcome.reason}")
    click.echo(f"scored {outcome.scored} unlabelled mails for the labelling queue")


@click.command("retrain")
@click.option(
    "--if-due",
    is_flag=True,
    help="Only when MAILROOM_RETRAIN_MIN_NEW_LABELS person labels arrived since the last "
    "training (what the worker's schedule runs).",
)
@click.option("--min-new-labels", type=int, default=None, help="Override the setting.")
@_model_option
@_budget_option
@click.pass_obj
def retrain(
    settings: Settings,
    if_due: bool,
    min_new_labels: int | None,
    model: str | None,
    time_budget: float | None,
) -> None:
    """Train a new version on every label now in the store; it replaces the active one
    only if it is not worse on the frozen holdout (otherwise it is kept with the reason).

    Trains on the same kind of labels as the active version (archive-folder labels too if
    it did), on the active version's base model unless --model says otherwise.
    """
    from classifier.arguments import from_settings
    from classifier.registry import Registry
    from classifier.retraining import retrain_check
    from classifier.store_training import train_from_store
    from labeling.store.db import open_database

    with open_database(settings) as sessions:
        check = retrain_check(settings, sessions, min_new=min_new_labels)
    click.echo(check.describe())
    if if_due and not check.due:
        return
    active = Registry(settings.models_path).active()
    include_weak = bool(active.manifest.get("include_weak")) if active else False
    base = model or (str(active.manifest.get("base_model")) if active else None)
    if active is not None and active.manifest.get("kind") == "tfidf":
        base = model  # a TF-IDF version has no encoder to keep; the setting decides
    args = from_settings(settings, model=base, time_budget=time_budget)
    outcome = train_from_store(
        settings, args, include_weak=include_weak, progress=sys.stderr.isatty()
    )
    verdict = "promoted" if outcome.promoted else "kept, not promoted"
    click.echo(f"{outcome.version} ({outcome.kind}): {verdict}: {outcome.reason}")


@click.command("evaluate")
@click.option("--version", "version", default=None, help="Model version (default: active).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Report folder (default: the version's report/ folder).",
)
@click.option("--include-weak", is_flag=True, help="Count archive-folder labels as truth.")
@click.pass_obj
def evaluate_command(
    settings: Settings, version: str | None, out: Path | None, include_weak: bool
) -> None:
    """Write an HTML report of a version on the frozen holdout, next to the TF-IDF baseline."""
    from classifier.recipe import evaluate_router
    from classifier.registry import Registry
    from classifier.report import write_report
    from classifier.router import Router
    from classifier.store_training import split_holdout
    from labeling.annotation.export import training_examples
    from labeling.errors import ModelError
    from labeling.store.db import open_database, session_scope

    registry = Registry(settings.models_path)
    info = registry.get(version) if version else registry.active()
    if info is None:
        raise ModelError("no active model: run `mailroom train` first")
    with open_database(settings) as sessions, session_scope(sessions) as session:
        examples = training_examples(
            session, include_weak=include_weak, pseudonymiser=settings.pseudonymiser()
        )
    _, holdout = split_holdout(examples)
    router = Router.load(info.path, settings.cache_path)
    holdout = [e for e in holdout if e.label in set(router.labels)]
    if not holdout:
        raise ModelError(
            "the holdout holds no labelled mail of this model's teams"
            + ("" if include_weak else " (try --include-weak)")
        )
    texts, gold = [e.text for e in holdout], [e.label for e in holdout]
    result, seconds, tokens = evaluate_router(
        router, f"{info.version} ({info.manifest['kind']})", texts, gold
    )
    baseline, _, _ = evaluate_router(
        Router.load_baseline(info.path), "TF-IDF baseline", texts, gold
    )
    facts = {
        "model version": info.version,
        "base encoder": str(info.manifest.get("base_model")),
        "created": info.created_at,
        "status": info.status,
        "training-set hash": str(info.manifest.get("dataset_hash", "")),
        "holdout mails": str(len(holdout)),
        "labels": "people and archive folders" if include_weak else "people only",
    }
    if tokens:
        facts["inference speed"] = f"{tokens / seconds:.0f} tokens/s"
    path = write_report(
        out or info.path / "report",
        [result, baseline],
        title=f"Mailroom model {info.version} on the frozen holdout",
        facts=facts,
    )
    click.echo(
        f"accuracy {result.accuracy():.3f} (TF-IDF {baseline.accuracy():.3f}), "
        f"macro-F1 {result.macro_f1():.3f} (TF-IDF {baseline.macro_f1():.3f})"
    )
    click.echo(f"report: {path}")


@click.group("models")
def models() -> None:
    """List, promote and roll back model versions."""


@models.command("list")
@click.pass_obj
def models_list(settings: Settings) -> None:
    """Every version with its status and holdout figures."""
    from classifier.registry import Registry

    registry = Registry(settings.models_path)
    active = registry.active_version()
    versions = registry.versions()
    if not versions:
        click.echo("no model versions yet: run `mailroom train`")
        return
    for info in versions:
        h = info.holdout
        figures = (
            f"holdout acc {h['accuracy']:.3f} macro-F1 {h['macro_f1']:.3f}" if h else "no holdout"
        )
        marker = "*" if info.version == active else " "
        reason = info.manifest.get("status_reason", "")
        click.echo(
            f"{marker} {info.version}  {info.status:<11} {info.manifest['kind']:<11} "
            f"{info.manifest.get('base_model', ''):<9} {figures}  {info.created_at}  {reason}"
        )


@models.command("promote")
@click.argument("version")
@click.pass_obj
def models_promote(settings: Settings, version: str) -> None:
    """Make VERSION active (a person's decision; the train-time gate is bypassed)."""
    from classifier.registry import Registry

    Registry(settings.models_path).promote(version, "promoted by hand")
    click.echo(f"{version} is active")


@models.command("rollback")
@click.pass_obj
def models_rollback(settings: Settings) -> None:
    """Re-activate the version that was active before the current one."""
    from classifier.registry import Registry

    click.echo(f"{Registry(settings.models_path).rollback()} is active again")


@click.command("benchmark")
@click.option("--train", "train_csv", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--test", "test_csv", type=click.Path(path_type=Path, exists=True), required=True)
@click.option(
    "--oos-label",
    default=None,
    help="Label of out-of-scope rows: in TEST they must go to review; in TRAIN they only "
    "calibrate the out-of-scope detector.",
)
@click.option("--per-class", type=int, default=None, help="Train on N examples per label.")
@_model_option
@_epochs_option
@_length_option
@_budget_option
@_seed_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Result JSON.")
@click.pass_obj
def benchmark(
    settings: Settings,
    train_csv: Path,
    test_csv: Path,
    oos_label: str | None,
    per_class: int | None,
    model: str | None,
    epochs: int | None,
    max_length: int | None,
    time_budget: float | None,
    seed: int,
    out: Path,
) -> None:
    """Train the full pipeline on TRAIN (validation carved from it), evaluate on TEST.

    CSVs have a header with columns text,label. The TF-IDF baseline and the machine's
    matmul rate are measured in the same run.
    """
    from classifier.arguments import from_settings
    from classifier.benchmark import read_csv, run_benchmark, write_result

    args = from_settings(
        settings,
        model=model,
        epochs=epochs,
        max_length=max_length,
        time_budget=time_budget,
        seed=seed,
    )
    result = run_benchmark(
        read_csv(train_csv),
        read_csv(test_csv),
        args,
        cache_dir=settings.cache_path,
        oos_label=oos_label,
        per_class=per_class,
        progress=sys.stderr.isatty(),
    )
    write_result(result, out)
    shown = {k: v for k, v in result.items() if k not in ("history", "notes", "machine")}
    click.echo(json.dumps(shown, indent=2))


commands: list[click.Command] = [train, retrain, evaluate_command, models, benchmark]
