"""Shared fixtures: settings on a temporary instance folder; database and server fixtures
come from the plugin modules under tests/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from labeling.settings import Settings, load_settings

pytest_plugins = ["tests.fixtures.db", "tests.fixtures.dovecot"]

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def settings(instance_path: Path) -> Settings:
    """Settings on the embedded default (SQLite) in a fresh instance folder."""
    return load_settings({}, instance_path=instance_path)
