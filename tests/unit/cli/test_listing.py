"""``bentoml models list|get`` output, ``--version``, ``--access-log``, and that rich (the
table's library) is loaded only by a command that prints a table."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bentoml_classic.frameworks import picklable_model
from click.testing import CliRunner

from bentoml_classic import __version__
from bentoml_classic.cli import cli
from bentoml_classic.cli.options import with_access_log
from bentoml_classic.cli.output import human_size
from bentoml_classic.config import BentoMLConfig

TITLES = ["Tag", "Module", "Size", "Creation Time"]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), prog_name="bentoml", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def two_models(bentoml_home: Path) -> list[str]:
    """Tags of two saved models, the newest first."""
    older = picklable_model.save_model("doubler", {"factor": 2}, signatures={"get": {}})
    newer = picklable_model.save_model(
        "a_much_longer_model_name", list(range(1000)), signatures={"index": {}}
    )
    return [str(newer.tag), str(older.tag)]


def test_models_list_is_a_table_whose_columns_line_up(two_models: list[str]) -> None:
    header, *rows = invoke("models", "list").splitlines()
    assert header.split() == ["Tag", "Module", "Size", "Creation", "Time"]
    starts = [header.index(title) for title in TITLES]
    assert len(rows) == 2
    for row, tag in zip(rows, two_models, strict=True):  # newest first
        ends = [*starts[1:], None]
        cells = [row[start:end].strip() for start, end in zip(starts, ends, strict=True)]
        assert cells[0] == tag
        assert cells[1] == "bentoml_classic.frameworks.picklable_model"
        assert cells[2].endswith(("B", "KiB"))
        assert all(row[start - 1] == " " for start in starts[1:])  # each cell starts its column
    assert rows[0] == rows[0].rstrip() and header == header.rstrip()


def test_models_list_as_json_and_yaml_for_scripts(
    two_models: list[str], bentoml_home: Path
) -> None:
    records = json.loads(invoke("models", "list", "-o", "json"))
    assert [r["tag"] for r in records] == two_models
    assert set(records[0]) == {"tag", "module", "size", "creation_time"}
    name, version = two_models[0].split(":")
    files = Path(bentoml_home, "models", name, version)
    size = sum(f.stat().st_size for f in files.rglob("*") if f.is_file())
    assert records[0]["size"] == human_size(size)
    assert yaml.safe_load(invoke("models", "list", "--output", "yaml")) == records


def test_models_list_of_one_name_and_of_an_empty_store(two_models: list[str]) -> None:
    only = json.loads(invoke("models", "list", "doubler", "-o", "json"))
    assert [r["tag"] for r in only] == [two_models[1]]
    assert json.loads(invoke("models", "list", "nothing_here", "-o", "json")) == []
    assert invoke("models", "list", "nothing_here") == "no models saved under 'nothing_here'\n"


def test_models_get_as_yaml_json_or_path(two_models: list[str], bentoml_home: Path) -> None:
    tag = two_models[1]
    info = json.loads(invoke("models", "get", tag, "-o", "json"))
    assert f"{info['name']}:{info['version']}" == tag
    assert yaml.safe_load(invoke("models", "get", tag)) == info
    path = invoke("models", "get", tag, "-o", "path").strip()
    assert Path(path, "model.yaml").is_file() and Path(path).is_relative_to(bentoml_home)


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version_as_classic_prints_it(flag: str) -> None:
    assert invoke(flag) == (
        f"bentoml, version {__version__} (bentoml_classic, Python {platform.python_version()})\n"
    )


def test_access_log_flags_write_their_key() -> None:
    config = BentoMLConfig()
    assert with_access_log(config, None) is config
    assert not with_access_log(config, False).api_server.logging.access.enabled
    assert with_access_log(config, True).api_server.logging.access.enabled
    for command in ("serve", "start-http-server"):
        assert "--access-log / --no-access-log" in invoke(command, "--help")


def test_rich_is_loaded_only_to_print_a_table(two_models: list[str]) -> None:
    probe = (
        "import sys\n"
        "import bentoml_classic.cli, bentoml_classic.serving.api_worker\n"
        "import bentoml_classic.serving.runner_worker, bentoml_classic.http.app\n"
        "from bentoml_classic.cli import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:], prog_name='bentoml')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('rich' in sys.modules)\n"
    )

    def loads_rich(*args: str) -> bool:
        done = subprocess.run(
            [sys.executable, "-c", probe, *args],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
            check=True,
        )
        return done.stdout.splitlines()[-1] == "True"

    assert not loads_rich("models", "list", "-o", "json")
    assert not loads_rich("serve", "--help")
    assert loads_rich("models", "list")


def test_human_size_as_classic_wrote_it() -> None:
    assert human_size(0) == "0.00 B"
    assert human_size(1023) == "1023.00 B"
    assert human_size(5461) == "5.33 KiB"
    assert human_size(3 * 1024**3) == "3.00 GiB"
