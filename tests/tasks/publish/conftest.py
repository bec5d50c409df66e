"""Fixtures of the publishing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tasks.publish import git


@pytest.fixture
def git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private global git config holding only the git-lfs filter; no system config."""
    config = tmp_path / "gitconfig"
    config.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git("lfs", "install", "--skip-repo")
    assert "filter.lfs.process" in git("config", "--global", "--list")
    return config
