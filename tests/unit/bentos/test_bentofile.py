"""bentofile.yaml: classic's keys accepted, a wrong one named, what the file may point at."""

from __future__ import annotations

from pathlib import Path

import pytest

from bentoml_classic.bentos.bentofile import description_text, load_bentofile, parse_bentofile
from bentoml_classic.exceptions import InvalidArgument

CLASSIC = """
service: "service:svc"
name: my_bento
description: "file:./README.md"
labels: {owner: ml-team}
include: ["*.py", "data/"]
exclude: ["tests/"]
python:
  packages: [scikit-learn, pandas]
  requirements_txt: ./requirements.txt
  lock_packages: false
  index_url: https://example.invalid/simple
  extra_index_url: [https://a.invalid/simple]
  find_links: [./wheels]
  wheels: [./dist/x.whl]
  pip_args: --no-deps
docker:
  distro: debian
  python_version: "3.11"
  base_image: python:3.11-slim
  system_packages: [libgomp1]
  env: ["A=1", "B=two"]
  setup_script: ./setup.sh
  dockerfile_template: ./Dockerfile.template
models:
  - iris_clf:latest
  - {tag: "other:abc", alias: other}
"""


def test_every_classic_key_is_read() -> None:
    config = parse_bentofile(__import__("yaml").safe_load(CLASSIC), "bentofile.yaml")
    assert config.name == "my_bento"
    assert config.python.packages == ["scikit-learn", "pandas"]
    assert config.docker.env_mapping() == {"A": "1", "B": "two"}
    assert [(m.tag, m.alias) for m in config.model_specs()] == [
        ("iris_clf:latest", None),
        ("other:abc", "other"),
    ]
    assert config.python_version() == "3.11"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("service: s:svc\nservices: x\n", "unknown key 'services'"),
        ("service: s:svc\npython: {pakages: [a]}\n", "unknown key 'python.pakages'"),
        ("name: x\n", "missing required key 'service'"),
        ("service: s:svc\ninclude: ['../secrets']\n", "'../'"),
        ("service: s:svc\ndocker: {python_version: '3'}\n", "python_version"),
        ("service: s:svc\nmodels: ['a:b:c']\n", "more than one ':'"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_a_wrong_file_is_named_with_what_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "bentofile.yaml").write_text(text)
    with pytest.raises(InvalidArgument, match=r"bentofile\.yaml") as info:
        load_bentofile(tmp_path / "bentofile.yaml")
    assert named in info.value.message


def test_description_from_a_file_stays_inside_the_build_directory(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Hello\n")
    config = parse_bentofile({"service": "s:svc", "description": "file:./README.md"}, "f")
    assert description_text(config, str(tmp_path)) == "# Hello\n"
    outside = parse_bentofile({"service": "s:svc", "description": "file:../../etc/passwd"}, "f")
    with pytest.raises(InvalidArgument, match="outside"):
        description_text(outside, str(tmp_path))
