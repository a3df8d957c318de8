"""``mailroom retrain`` fine-tunes within a time budget unless told otherwise: the setting
``MAILROOM_RETRAIN_TIME_BUDGET`` is the default, ``--time-budget`` overrides it, 0 lifts it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from classifier.arguments import PipelineArguments
from classifier.retraining import RetrainCheck
from labeling.errors import ConfigError
from labeling.settings import Settings, load_settings
from mailroom.cli import cli, register_commands
from mailroom.commands import models as models_commands


def _settings(tmp_path: Path, **environ: str) -> Settings:
    return load_settings({"MAILROOM_INSTANCE_PATH": str(tmp_path), **environ})


def _retrain(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, *options: str
) -> tuple[str, PipelineArguments]:
    """Run the command with the store and the trainer replaced; what it trained with."""
    import classifier.retraining
    import classifier.store_training
    import labeling.store.db

    # Every command module is imported before the store is replaced: a module that binds
    # open_database at import must keep the real one for the tests after this.
    register_commands()
    trained: list[PipelineArguments] = []

    @contextmanager
    def no_database(_settings: Settings, **_: Any) -> Iterator[None]:
        yield None

    def train(_settings: Settings, args: PipelineArguments, **_: Any) -> str:
        trained.append(args)
        return "outcome"

    monkeypatch.setattr(labeling.store.db, "open_database", no_database)
    monkeypatch.setattr(
        classifier.retraining,
        "retrain_check",
        lambda *_, **__: RetrainCheck(True, 60, 50, None),
    )
    monkeypatch.setattr(classifier.store_training, "train_from_store", train)
    monkeypatch.setattr(models_commands, "describe_outcome", lambda outcome: [outcome])
    result = CliRunner().invoke(cli, ["retrain", *options], obj=settings)
    assert result.exit_code == 0, result.output
    assert len(trained) == 1
    return result.output, trained[0]


def test_without_a_budget_retrain_uses_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output, args = _retrain(_settings(tmp_path), monkeypatch)
    default = Settings.model_fields["retrain_time_budget"].default
    assert args.training.max_train_seconds == default == 1200
    assert "fine-tuning for at most 1200 s" in output

    _, args = _retrain(
        _settings(tmp_path, MAILROOM_RETRAIN_TIME_BUDGET="450"), monkeypatch, "--if-due"
    )
    assert args.training.max_train_seconds == 450


def test_the_command_line_overrides_the_setting_and_zero_lifts_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, args = _retrain(_settings(tmp_path), monkeypatch, "--time-budget", "90")
    assert args.training.max_train_seconds == 90
    output, args = _retrain(_settings(tmp_path), monkeypatch, "--time-budget", "0")
    assert args.training.max_train_seconds is None
    assert "without a time budget" in output
    _, args = _retrain(_settings(tmp_path, MAILROOM_RETRAIN_TIME_BUDGET="0"), monkeypatch)
    assert args.training.max_train_seconds is None


def test_help_names_the_setting_and_its_default(tmp_path: Path) -> None:
    register_commands()
    result = CliRunner().invoke(cli, ["retrain", "--help"], obj=_settings(tmp_path))
    shown = " ".join(result.output.split())
    assert "MAILROOM_RETRAIN_TIME_BUDGET, 1200 s" in shown


def test_a_budget_that_leaves_no_room_in_the_timeout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="retrain_time_budget"):
        _settings(tmp_path, MAILROOM_RETRAIN_TIME_BUDGET="4000")
    with pytest.raises(ConfigError, match="retrain_time_budget"):
        _settings(tmp_path, MAILROOM_RETRAIN_TIMEOUT="1800")  # the default budget is 1200 s
    assert _settings(tmp_path, MAILROOM_RETRAIN_TIMEOUT="2400").retrain_time_budget == 1200
