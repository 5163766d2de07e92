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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each of schemathesis' tests (``tests/e2e/test_fuzz.py``, one per API operation) the
    node id its name says, ``test_x[POST /path]``.

    Under pytest 9.2 an item's node id is built from its ``originalname`` and its parameters, and
    schemathesis 4 names its items ``test_x[POST /path]`` but passes ``test_x`` as the original
    name and no parameters: the twelve items shared one node id. pytest-xdist, which `make test`
    runs the suite with, tracks tests by node id, and ran two of the twelve. pytest keeps the
    id in a private attribute; should it move, ``test_fuzz.py``'s
    ``test_each_operation_is_its_own_test`` fails."""
    for item in items:
        if getattr(item, "operation_label", None) and item.name != item.originalname:
            item._id = item.parent.id.child(item.name)  # type: ignore[attr-defined,union-attr]
