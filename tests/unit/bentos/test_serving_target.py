"""What an identifier resolves to, for every entry point: a bento folder, a bento tag, a
bentofile directory, or an import string, in classic's order."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bentoml_classic.bentos.bento import BentoInfo
from bentoml_classic.bentos.serving_target import resolve_serving_target
from bentoml_classic.bentos.store import get_default_bento_store
from bentoml_classic.cli import cli
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.models.store import MODEL_STORE_ENV, get_default_store


@pytest.fixture(autouse=True)
def restored_model_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """``apply_environment`` writes os.environ; monkeypatch puts it back after each test."""
    monkeypatch.setenv(MODEL_STORE_ENV, "")


def hand_made_bento(name: str = "svc_bento", version: str = "v1") -> str:
    store = get_default_bento_store()
    info = BentoInfo(
        service="my_module:svc",
        name=name,
        version=version,
        bentoml_version="0",
        creation_time=datetime.now(UTC),
    )
    tmp = store.new_directory(info.tag)
    Path(tmp, "src").mkdir()
    Path(tmp, "models").mkdir()
    Path(tmp, "bento.yaml").write_text(info.to_yaml())
    return store.commit_directory(tmp, info.tag)


def test_a_bento_tag_is_served_from_its_own_src_and_models(
    bentoml_home: Path, tmp_path: Path
) -> None:
    path = hand_made_bento()
    for identifier in ("svc_bento:v1", "svc_bento:latest", "svc_bento"):
        target = resolve_serving_target(identifier, str(tmp_path))
        assert (target.service, target.working_dir) == ("my_module:svc", f"{path}/src")
        assert target.model_store == f"{path}/models"
    target.apply_environment()
    assert get_default_store().root == f"{path}/models"


def test_a_bento_folder_and_the_working_directory_inside_one(
    bentoml_home: Path, tmp_path: Path
) -> None:
    path = hand_made_bento()
    assert resolve_serving_target(path, str(tmp_path)).working_dir == f"{path}/src"
    assert resolve_serving_target(None, path).working_dir == f"{path}/src"
    assert resolve_serving_target(".", path).service == "my_module:svc"


def test_an_import_string_stays_one(bentoml_home: Path, tmp_path: Path) -> None:
    hand_made_bento(name="service", version="other")  # a bento that does not match
    target = resolve_serving_target("service:svc", str(tmp_path))
    assert (target.service, target.working_dir, target.model_store) == (
        "service:svc",
        str(tmp_path),
        None,
    )
    target.apply_environment()  # nothing to apply
    with pytest.raises(InvalidArgument, match=r"bento\.yaml"):
        resolve_serving_target(None, str(tmp_path))


def test_models_export_and_import_commands(bentoml_home: Path, tmp_path: Path) -> None:
    with get_default_store().create("cli_model", module="tests.fake") as model:
        Path(model.path, "w").write_text("weights")
    runner = CliRunner()
    exported = runner.invoke(cli, ["models", "export", str(model.tag), str(tmp_path)])
    assert exported.exit_code == 0, exported.output
    archive = tmp_path / f"cli_model-{model.tag.version}.bentomodel"
    assert str(archive) in exported.output
    refused = runner.invoke(cli, ["models", "import", str(archive)])
    assert refused.exit_code == 1 and "already exists" in refused.output
    forced = runner.invoke(cli, ["models", "import", str(archive), "--force"])
    assert forced.exit_code == 0 and f"imported model {model.tag}" in forced.output
    names = sorted(os.listdir(Path(bentoml_home, "models", "cli_model")))
    assert names == sorted([model.tag.version or "", "latest"])


def test_list_get_and_delete_commands(bentoml_home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["list"]).output == "no bentos built\n"
    first, second = hand_made_bento(version="v1"), hand_made_bento(version="v2")
    listing = runner.invoke(cli, ["list"]).output.splitlines()
    assert listing[0].split() == ["Tag", "Size", "Creation", "Time"]
    assert [line.split()[0] for line in listing[1:]] == ["svc_bento:v2", "svc_bento:v1"]
    assert runner.invoke(cli, ["get", "svc_bento", "-o", "path"]).output.strip() == second
    deleted = runner.invoke(cli, ["delete", "svc_bento:v2", "-y"])
    assert deleted.exit_code == 0 and not Path(second).exists()
    assert runner.invoke(cli, ["get", "svc_bento:latest", "-o", "path"]).output.strip() == first
    missing = runner.invoke(cli, ["get", "svc_bento:v2"])
    assert missing.exit_code == 1 and "bento svc_bento:v2 not found" in missing.output
