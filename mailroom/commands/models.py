"""Model commands: train, evaluate, models list|promote|rollback, benchmark."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from labeling.settings import Settings

if TYPE_CHECKING:
    from classifier.certify import CalibrationSet, UnknownShareUsed
    from classifier.store_training import TrainOutcome

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
_top_layers_option = click.option(
    "--top-layers",
    type=click.IntRange(min=1),
    default=None,
    help="Fine-tune only the top N transformer layers (and the head): each step costs about "
    "half, so more epochs fit a time budget. Default: every layer.",
)


@click.command("train")
@_model_option
@_epochs_option
@_length_option
@_budget_option
@_top_layers_option
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
    top_layers: int | None,
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
        top_layers=top_layers,
        seed=seed,
    )
    outcome = train_from_store(
        settings,
        args,
        include_weak=include_weak,
        progress=sys.stderr.isatty(),
        force_promote=force,
    )
    for line in describe_outcome(outcome):
        click.echo(line)


def describe_outcome(outcome: TrainOutcome) -> list[str]:
    """What a training run did, for people: data, gate figures, the certificate."""
    lines = [
        f"{outcome.version}: {outcome.kind}, {outcome.n_train} train / "
        f"{outcome.n_validation} validation mails, {outcome.train_seconds:.0f} s"
        + (
            f"; {outcome.suspects_held_back} suspect folder labels kept out"
            if outcome.suspects_held_back
            else ""
        )
    ]
    if outcome.holdout:
        h, b = outcome.holdout, outcome.baseline_holdout
        lines.append(
            f"{outcome.holdout_kind} ({outcome.n_holdout} mails): accuracy "
            f"{h['accuracy']:.3f} (TF-IDF {b.get('accuracy', 0):.3f}), macro-F1 "
            f"{h['macro_f1']:.3f} (TF-IDF {b.get('macro_f1', 0):.3f})"
        )
    cert = outcome.certificate
    if cert is not None:
        source = (
            f"the verified sample ({cert.n} mails)"
            if outcome.calibration_source == "verified"
            else f"a validation carve of unverified labels ({cert.n} mails; verify a "
            "sample to certify against labels people checked)"
        )
        if cert.certified:
            lines.append(
                f"certified on {source}: precision ≥ {cert.target} with probability "
                f"{1 - cert.delta:.0%} at threshold {cert.threshold:.3f}, routing "
                f"{cert.coverage:.0%} of that mail by itself"
            )
        else:
            lines.append(
                f"nothing certified at precision {cert.target} on {source}: all mail goes to review"
            )
    if outcome.labels_needed is not None and outcome.calibration_source == "verified":
        more = max(0, outcome.labels_needed - outcome.n_verified)
        if more:
            lines.append(
                f"about {more} more verified labels would certify {cert.target if cert else ''}"
                " at 70 % coverage"
            )
    for flag in (outcome.flags or {}).values():
        name = "wants to leave" if flag.flag == "churn" else flag.flag
        lines.append(f"{name}: {flag.source} — {flag.reason}")
    verdict = "promoted" if outcome.promoted else "kept, not promoted"
    lines.append(f"{verdict}: {outcome.reason}")
    lines.append(f"scored {outcome.scored} unlabelled mails for the labelling queue")
    return lines


# The setting is the one source of the default; --help quotes it from there.
_RETRAIN_BUDGET_DEFAULT = float(Settings.model_fields["retrain_time_budget"].default)


def retrain_budget(settings: Settings, time_budget: float | None) -> float | None:
    """Seconds of fine-tuning for a retrain: the command line's, else the setting's; None
    (0 given or set) trains every epoch."""
    chosen = settings.retrain_time_budget if time_budget is None else time_budget
    return chosen or None


@click.command("retrain")
@click.option(
    "--if-due",
    is_flag=True,
    help="Only when MAILROOM_RETRAIN_MIN_NEW_LABELS person labels arrived since the last "
    "training (what the worker's schedule runs).",
)
@click.option("--min-new-labels", type=int, default=None, help="Override the setting.")
@_model_option
@click.option(
    "--time-budget",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds of fine-tuning, the steps planned to fit; 0: no budget, every epoch "
    f"(default: MAILROOM_RETRAIN_TIME_BUDGET, {_RETRAIN_BUDGET_DEFAULT:.0f} s unless set).",
)
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
    budget = retrain_budget(settings, time_budget)
    click.echo(
        f"fine-tuning for at most {budget:.0f} s" if budget else "fine-tuning without a time budget"
    )
    args = from_settings(settings, model=base, time_budget=budget)
    bar = sys.stderr.isatty()
    # Without a terminal (a pipe, a log, the worker's child process) there is no bar:
    # a line per stage and per epoch says how far it is.
    outcome = train_from_store(
        settings,
        args,
        include_weak=include_weak,
        progress=bar,
        report=None if bar else lambda line: click.echo(line),
    )
    for line in describe_outcome(outcome):
        click.echo(line)


# Fewer mails than this give no headline figure: the 95 % interval of an accuracy near 0.85
# on 100 mails is about ±0.07, wider than most differences worth acting on.
MIN_EVALUATION = 100


@click.command("evaluate")
@click.option("--version", "version", default=None, help="Model version (default: active).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Report folder (default: the version's report/ folder).",
)
@click.option(
    "--include-weak",
    is_flag=True,
    help="Without a verified sample: count archive-folder labels of the frozen holdout as truth.",
)
@click.pass_obj
def evaluate_command(
    settings: Settings, version: str | None, out: Path | None, include_weak: bool
) -> None:
    """Write an HTML report of a version next to the TF-IDF baseline, on the verified
    sample (mail it never learnt from), or else on the frozen holdout."""
    from classifier.recipe import evaluate_router
    from classifier.registry import Registry
    from classifier.report import write_report
    from classifier.router import Router
    from classifier.store_training import split_holdout
    from labeling.annotation.export import training_examples
    from labeling.annotation.verify import verified_mail
    from labeling.errors import ModelError
    from labeling.store.db import open_database, session_scope

    registry = Registry(settings.models_path)
    info = registry.get(version) if version else registry.active()
    if info is None:
        raise ModelError("no active model: run `mailroom train` first")
    router = Router.load(info.path, settings.cache_path)
    known = set(router.labels)
    seen = registry.trained_on(info.version)
    with open_database(settings) as sessions, session_scope(sessions) as session:
        pseudonymiser = settings.pseudonymiser()
        verified = [
            v
            for v in verified_mail(session, pseudonymiser=pseudonymiser)
            if v.team in known and v.message_id not in seen
        ]
        examples = (
            []
            if verified
            else training_examples(session, include_weak=include_weak, pseudonymiser=pseudonymiser)
        )
    if verified:
        where = "the verified sample"
        texts, gold = [v.text for v in verified], [str(v.team) for v in verified]
    else:
        where = "the frozen holdout"
        holdout = [e for e in split_holdout(examples)[1] if e.label in known]
        texts, gold = [e.text for e in holdout], [e.label for e in holdout]
    if not texts:
        raise ModelError(
            "nothing to evaluate on: verify a sample in the labelling page (order 'verify a "
            "random sample')" + ("" if include_weak else ", or pass --include-weak")
        )
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
        "evaluated on": f"{where}: {len(texts)} mails",
        "labels": "verified by people"
        if verified
        else ("people and archive folders" if include_weak else "people only"),
    }
    if tokens:
        facts["inference speed"] = f"{tokens / seconds:.0f} tokens/s"
    path = write_report(
        out or info.path / "report",
        [result, baseline],
        title=f"Mailroom model {info.version} on {where}",
        facts=facts,
    )
    if len(texts) < MIN_EVALUATION:
        click.echo(
            f"only {len(texts)} mails in {where}: too few for a figure to act on (at least "
            f"{MIN_EVALUATION}); verify more of the sample. The report shows them anyway."
        )
    else:
        click.echo(
            f"on {where} ({len(texts)} mails): accuracy {result.accuracy():.3f} (TF-IDF "
            f"{baseline.accuracy():.3f}), macro-F1 {result.macro_f1():.3f} (TF-IDF "
            f"{baseline.macro_f1():.3f})"
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
        kind = info.manifest.get("holdout_kind", "frozen holdout")
        figures = (
            f"{kind} ({h.get('n', '?')} mails) acc {h['accuracy']:.3f} macro-F1 {h['macro_f1']:.3f}"
            if h
            else "not evaluated"
        )
        cert = info.manifest.get("certificate") or {}
        if cert:
            on = info.manifest.get("calibration_source", "validation")
            routed = (
                f"routes {cert['coverage']:.0%} at ≥ {cert['target']}"
                if cert.get("threshold") is not None
                else f"nothing certified at {cert['target']}"
            )
            figures += f"; {routed} (certified on {on}, {cert['n']} mails)"
        marker = "*" if info.version == active else " "
        reason = info.manifest.get("status_reason", "")
        click.echo(
            f"{marker} {info.version}  {info.status:<11} {info.manifest['kind']:<11} "
            f"{info.manifest.get('base_model', ''):<9} {figures}  {info.created_at}"
        )
        if reason:
            click.echo(f"      {info.status}: {reason}")
        flags = info.manifest.get("flags") or {}
        if flags:
            said = [
                f"{'wants to leave' if name == 'churn' else name}: "
                + (
                    f"model (threshold {entry['threshold']:.3f})"
                    if entry.get("source") == "model"
                    else f"cue list ({entry.get('positives', 0)} flagged labels)"
                )
                for name, entry in flags.items()
            ]
            click.echo(f"      flags: {'; '.join(said)}")


@models.command("thresholds")
@click.option("--version", "version", default=None, help="Model version (default: active).")
@click.option(
    "--target",
    type=click.FloatRange(0.5, 0.999),
    default=None,
    help="Certify and use this target precision now (no training).",
)
@click.option(
    "--max-unknown-share",
    type=click.FloatRange(0.0, 0.49),
    default=None,
    help="Largest live share of mail for no team the precision must hold for.",
)
@click.pass_obj
def models_thresholds(
    settings: Settings,
    version: str | None,
    target: float | None,
    max_unknown_share: float | None,
) -> None:
    """What each target precision costs: the share of mail the version would route by
    itself, certified on its calibration set; with --target, use that target from now on
    (workers pick it up with the next mail; the change is audited)."""
    from classifier.certify import labels_needed, precision_curve
    from classifier.registry import Registry
    from labeling.errors import ModelError
    from labeling.live.stats import unknown_share
    from labeling.store import audit
    from labeling.store.db import open_database, session_scope

    registry = Registry(settings.models_path)
    info = registry.get(version) if version else registry.active()
    if info is None:
        raise ModelError("no active model: run `mailroom train` first")
    calibration = registry.calibration(info.version)
    if calibration is None:
        raise ModelError(f"{info.version} kept no calibration set: retrain to re-threshold it")
    current = info.manifest.get("certificate", {})
    delta = float(current.get("delta", 0.1))
    with open_database(settings) as sessions, session_scope(sessions) as session:
        live = unknown_share(session)
    used = calibration.unknown_share_used(
        max_unknown_share if max_unknown_share is not None else settings.max_unknown_share,
        live.no_team,
        live.settled,
        delta,
    )
    share = used.share
    now_target = float(info.manifest.get("policy", {}).get("target_precision", 0.98))
    if target is None:
        click.echo(
            f"{info.version}: certified on {calibration.source} ({len(calibration)} mails, "
            f"delta {current.get('delta', 0.1)}); now at target "
            f"{info.manifest.get('policy', {}).get('target_precision')}"
        )
        click.echo(
            "target   routes by itself   threshold   precision on calibration   "
            "verified mails 70 % would take"
        )
        for cert in precision_curve(
            calibration.confidence,
            calibration.correct,
            calibration.unknown,
            delta=delta,
            max_unknown_share=share,
        ):
            needed = labels_needed(calibration.confidence, calibration.correct, cert.target, delta)
            more = (
                "not reachable at this model's error rate"
                if needed is None
                else f"about {needed}"
                + (f" ({needed - len(calibration)} more)" if needed > len(calibration) else "")
            )
            if cert.certified:
                click.echo(
                    f"{cert.target:<8} {cert.coverage:>15.1%}   {cert.threshold:>9.4f}   "
                    f"{cert.precision:>23.3f}   {more}"
                )
            else:
                click.echo(f"{cert.target:<8} {'nothing':>15}   {'–':>9}   {'–':>23}   {more}")
        click.echo(
            describe_threads(info.manifest, len(calibration.follow_score), calibration.source)
        )
        click.echo(describe_cases(info.manifest))
        click.echo(describe_unknown_share(used))
        if share > 0:
            click.echo(describe_unknown_needed(calibration, now_target, delta, share))
        return
    old = info.manifest.get("policy", {}).get("target_precision")
    cert = registry.set_target(info.version, target, max_unknown_share=share)
    click.echo(describe_unknown_share(used))
    with open_database(settings) as sessions, session_scope(sessions) as session:
        audit.record(
            session,
            "cli",
            "set-target",
            version=info.version,
            old=old,
            new=target,
            coverage=cert.coverage,
            certified=cert.certified,
        )
    if cert.certified:
        click.echo(
            f"{info.version} now routes at precision ≥ {target}: threshold "
            f"{cert.threshold:.4f}, {cert.coverage:.0%} of its calibration mail by itself"
        )
    else:
        click.echo(f"{info.version}: nothing can be certified at {target}; all mail goes to review")


@models.command("promote")
@click.argument("version")
@click.pass_obj
def models_promote(settings: Settings, version: str) -> None:
    """Make VERSION active (a person's decision; the train-time gate is bypassed)."""
    from classifier.registry import Registry

    if Registry(settings.models_path).promote(version, "promoted by hand"):
        click.echo(f"{version} is active")
    else:
        click.echo(f"{version} is already active; its reason is kept")


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
@click.option(
    "--max-unknown-share",
    type=click.FloatRange(0.0, 0.9),
    default=None,
    help="Certify the precision for any live share of out-of-scope mail up to this "
    "(default: MAILROOM_MAX_UNKNOWN_SHARE).",
)
@_model_option
@_epochs_option
@_length_option
@_budget_option
@_top_layers_option
@_seed_option
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Result JSON.")
@click.pass_obj
def benchmark(
    settings: Settings,
    train_csv: Path,
    test_csv: Path,
    oos_label: str | None,
    per_class: int | None,
    max_unknown_share: float | None,
    model: str | None,
    epochs: int | None,
    max_length: int | None,
    time_budget: float | None,
    top_layers: int | None,
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
        top_layers=top_layers,
        seed=seed,
    )
    if max_unknown_share is not None:
        args = replace(args, max_unknown_share=max_unknown_share)
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


def describe_unknown_share(used: UnknownShareUsed) -> str:
    """What the certificate assumes of live mail for no team, and what people saw of it."""
    from classifier.certify import MIN_SETTLED_FOR_SHARE

    seen = (
        f"people closed {used.no_team} of {used.settled} settled live mails as belonging to "
        "no team"
        + (
            f" ({used.live_estimate:.1%}, at most {used.live_upper:.1%})"
            if used.live_estimate is not None and used.live_upper is not None
            else f" (read from {MIN_SETTLED_FOR_SHARE} on)"
        )
    )
    if used.learned:
        return (
            f"Mail for no team: {seen}, more than the {used.assumed:.1%} assumed; the "
            f"certificate holds for up to {used.share:.1%}."
        )
    if used.uncovered:
        return (
            f"Mail for no team: {seen}, but the calibration set holds none: the certificate "
            "cannot bound how much of it is routed. Verify more mail (a 'no team' answer "
            "counts)."
        )
    if used.share > 0:
        return f"Mail for no team: {seen}; the certificate holds for up to {used.share:.1%}."
    return (
        f"Mail for no team: {seen}; the certificate counts it in the share the calibration "
        f"set holds ({used.assumed:.1%})."
    )


def describe_unknown_needed(
    calibration: CalibrationSet, target: float, delta: float, share: float
) -> str:
    """Whether the target holds for up to ``share`` of mail for no team, and if not, how
    many examples of such mail (verified "no team" answers) it would take."""
    holds, needed = calibration.unknown_examples_for(target, delta, share)
    if holds:
        return f"{target} holds for up to {share:.1%} of mail for no team."
    have = int(calibration.unknown.sum())
    if needed is None:
        return (
            f"{target} cannot hold for up to {share:.1%} of mail for no team at this model's "
            "error rate on known mail, however many examples of it there are."
        )
    return (
        f"{target} for up to {share:.1%} of mail for no team would take about {needed} "
        f"examples of it (verified 'no team' answers), none of them routed; there are {have}."
    )


def describe_cases(manifest: dict[str, Any]) -> str:
    """One line on how a customer's recent case weighs (manifest ``case_odds`` and
    ``cases_weighed``: :mod:`classifier.cases`)."""
    odds = manifest.get("case_odds")
    facts = manifest.get("cases_weighed") or {}
    if odds is None:
        return (
            f"customer cases: not weighed ({facts.get('validation', 0)} validation mails with "
            "a case); a case is followed as a thread is"
        )
    verified, share, how = _weighing(
        facts, "their case's team", "the text looks like mail about its case", "mails with a case"
    )
    return (
        f"customer cases: weighed {how}, fitted on {facts.get('validation', 0)} validation "
        f"mails with a case; the threshold above is certified with them, on {verified} "
        f"verified mails with a case{share}"
    )


def describe_threads(manifest: dict[str, Any], replies: int, source: str) -> str:
    """One line on how a reply's thread weighs (manifest ``thread_odds`` and
    ``threads_weighed``, as a customer's case does); a version that does not weigh threads
    follows them by its follow floor (:func:`describe_follow_floor`)."""
    if manifest.get("thread_odds") is None:
        return describe_follow_floor(manifest, replies, source)
    facts = manifest.get("threads_weighed") or {}
    verified, share, how = _weighing(
        facts,
        "their thread's team",
        "the reply reads like more of its thread's business",
        "replies",
    )
    return (
        f"threads: weighed {how}, fitted on {facts.get('validation', 0)} validation replies; "
        f"the threshold above is certified with them, on {verified} verified replies{share}"
    )


def _weighing(
    facts: dict[str, Any], about: str, looks_like: str, learnt_from: str
) -> tuple[int, str, str]:
    """(verified mails with one, how many were about it, how it weighs) in words, from a
    manifest's ``cases_weighed`` or ``threads_weighed``."""
    verified = int(facts.get("verified", 0))
    right = int(facts.get("verified_case_right", 0))
    share = f" ({right / verified:.0%} of them about {about})" if verified else ""
    how = (
        f"by how much {looks_like} (a head learnt from {facts.get('train', 0)} training "
        f"{learnt_from})"
        if facts.get("head")
        else "with one odds ratio for all"
    )
    return verified, share, how


def describe_follow_floor(manifest: dict[str, Any], replies: int, source: str) -> str:
    """One line on when a reply follows its thread without a person (the policy's
    ``follow_floor``, certified on the verified replies)."""
    floor = manifest.get("policy", {}).get("follow_floor", 0.0)
    if source != "verified":
        return "threads: not certified (no verified sample); a reply follows its thread"
    if floor is None:
        return (
            f"threads: {replies} verified replies cannot certify following a thread at this "
            "target; a reply goes where the model is sure, else to a person"
        )
    return (
        f"threads: a reply follows its thread when the model gives that team at least "
        f"{float(floor):.3f} (certified on {replies} verified replies)"
    )
