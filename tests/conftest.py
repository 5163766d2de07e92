"""Fixtures shared by all tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def bentoml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point BENTOML_HOME at a fresh directory so no test sees another's models."""
    home = tmp_path / "bentoml_home"
    home.mkdir()
    monkeypatch.setenv("BENTOML_HOME", str(home))
    return home
