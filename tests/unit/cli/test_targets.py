"""Which service a command serves: MODULE:SVC as given, or bentofile.yaml's ``service:``."""

from __future__ import annotations

from pathlib import Path

import pytest

from bentoml_classic.cli.targets import resolve_target
from bentoml_classic.exceptions import InvalidArgument


def bentofile(directory: Path, text: str = 'service: "service:svc"\n') -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bentofile.yaml").write_text(text)
    return directory


def test_a_module_target_is_served_as_given(tmp_path: Path) -> None:
    assert resolve_target("service:svc", str(tmp_path)) == ("service:svc", str(tmp_path))


@pytest.mark.parametrize("target", [None, "."])
def test_no_target_or_dot_reads_the_working_directorys_bentofile(
    tmp_path: Path, target: str | None
) -> None:
    bentofile(tmp_path, "service: 'iris:svc'\nlabels: {owner: me}\n")
    assert resolve_target(target, str(tmp_path)) == ("iris:svc", str(tmp_path))


def test_a_directory_with_a_bentofile_is_served_from_there(tmp_path: Path) -> None:
    project = bentofile(tmp_path / "project")
    assert resolve_target("project", str(tmp_path)) == ("service:svc", str(project))
    assert resolve_target(str(project), "/") == ("service:svc", str(project))


def test_a_module_named_like_a_directory_without_a_bentofile_stays_a_module(
    tmp_path: Path,
) -> None:
    (tmp_path / "service").mkdir()
    assert resolve_target("service", str(tmp_path)) == ("service", str(tmp_path))


def test_without_a_bentofile_the_error_explains_usage(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="MODULE:SVC") as info:
        resolve_target(None, str(tmp_path))
    assert "bentofile.yaml" in info.value.message


@pytest.mark.parametrize("text", ["labels: {a: b}\n", "service: ''\n", "- a list\n"])
def test_a_bentofile_without_a_service_entry_says_so(tmp_path: Path, text: str) -> None:
    bentofile(tmp_path, text)
    with pytest.raises(InvalidArgument, match="no 'service:' entry"):
        resolve_target(".", str(tmp_path))


def test_a_bentofile_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    bentofile(tmp_path, "service: [unclosed\n")
    with pytest.raises(InvalidArgument, match="not valid YAML"):
        resolve_target(".", str(tmp_path))
