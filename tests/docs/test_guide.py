"""Every page of docs/guide runs as written (``guide_page.py`` says how), so the guide cannot
drift from the code: a renamed argument, a changed response or a new error message fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
import yaml
from pydantic import BaseModel

from bentoml_classic.config import ApiServerConfig, BentoMLConfig, RunnerConfig, ServiceConfig
from tests.docs.guide_page import GuidePage
from tests.docs.markdown_blocks import parse_blocks

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_page_runs_as_written(page: Path, tmp_path: Path) -> None:
    GuidePage(page, tmp_path).run()


def _documented_keys(page: Path) -> dict[str, object]:
    """The ``| `key` | `default` | ... |`` rows of a page's tables, defaults read as YAML."""
    keys: dict[str, object] = {}
    for line in page.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([^`]+)` \| `([^`]*)` \|", line)
        if match:
            keys[match[1]] = yaml.safe_load(match[2])
    return keys


def _config_keys(model: type[BaseModel], prefix: str) -> dict[str, object]:
    """Every leaf key of a configuration section and its default, as a user writes the key."""
    keys: dict[str, object] = {}
    for name, info in model.model_fields.items():
        written = info.alias or name
        key = f'{prefix}."{written}"' if "." in written else f"{prefix}.{written}"
        sections = [
            arg
            for arg in (info.annotation, *get_args(info.annotation))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        if sections:
            keys.update(_config_keys(sections[0], key))
        else:
            keys[key] = info.default
    return keys


def test_configuration_page_lists_every_key_with_its_default() -> None:
    documented = _documented_keys(GUIDE / "configuration.md")
    actual = {
        **_config_keys(ApiServerConfig, "api_server"),
        **_config_keys(RunnerConfig, "runners"),
        **_config_keys(ServiceConfig, "services.<name>"),
    }
    assert set(documented) == set(actual), "keys in the table but not in config/, or the reverse"
    for key, default in actual.items():
        assert documented[key] == default, f"{key}: the page says {documented[key]!r}"
    assert set(BentoMLConfig.model_fields) == {
        "api_server",
        "runners",
        "runner_overrides",
        "services",
    }


def test_only_the_index_shows_untested_blocks() -> None:
    untested = [b.where for page in PAGES for b in parse_blocks(page) if b.untested]
    assert untested, "the index shows the set-up commands as untested blocks"
    assert all(where.startswith("index.md:") for where in untested), untested


def test_every_page_is_in_the_index() -> None:
    index = (GUIDE / "index.md").read_text(encoding="utf-8")
    missing = [
        page.name for page in PAGES if page.name != "index.md" and f"({page.name})" not in index
    ]
    assert not missing, f"pages the index does not link: {missing}"
