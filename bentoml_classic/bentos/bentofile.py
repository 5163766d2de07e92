"""``bentofile.yaml``: what ``bentoml build`` puts in a bento, in classic BentoML 1.1's schema.

Every section is a strict pydantic model, so a misspelt key is an error that names it (classic
accepted the same keys; ``conda`` is read and recorded, but no conda environment is built).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..exceptions import InvalidArgument
from ..tag import Tag, validate_name

logger = logging.getLogger(__name__)

BENTOFILE = "bentofile.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PythonOptions(_Section):
    requirements_txt: str | None = None
    packages: list[str] | None = None
    lock_packages: bool | None = None
    index_url: str | None = None
    no_index: bool | None = None
    trusted_host: list[str] | None = None
    find_links: list[str] | None = None
    extra_index_url: list[str] | None = None
    pip_args: str | None = None
    wheels: list[str] | None = None


class DockerOptions(_Section):
    distro: str | None = None
    python_version: str | None = None
    cuda_version: str | None = None
    #: a mapping, or classic's list of ``KEY=VALUE`` strings
    env: dict[str, str] | list[str] | None = None
    system_packages: list[str] | None = None
    setup_script: str | None = None
    base_image: str | None = None
    dockerfile_template: str | None = None

    @field_validator("python_version")
    @classmethod
    def _major_minor(cls, value: str | None) -> str | None:
        if value is not None and not _is_major_minor(value):
            raise ValueError(f"python_version must look like '3.11', got {value!r}")
        return value

    def env_mapping(self) -> dict[str, str]:
        if self.env is None:
            return {}
        if isinstance(self.env, dict):
            return dict(self.env)
        pairs: dict[str, str] = {}
        for item in self.env:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InvalidArgument(f"docker.env item {item!r} is not KEY=VALUE")
            pairs[key] = value
        return pairs


def _is_major_minor(value: str) -> bool:
    major, sep, minor = value.partition(".")
    return bool(sep) and major.isdigit() and minor.isdigit()


class CondaOptions(_Section):
    environment_yml: str | None = None
    channels: list[str] | None = None
    dependencies: list[str] | None = None
    pip: list[str] | None = None


class ModelSpec(_Section):
    tag: str
    alias: str | None = None
    filter: str | None = None


class BentoBuildConfig(_Section):
    """The whole file; ``service`` is the only required key."""

    service: str = Field(min_length=1)
    name: str | None = None
    description: str | None = None
    labels: dict[str, str] = {}
    include: list[str] = ["*"]
    exclude: list[str] = []
    python: PythonOptions = PythonOptions()
    docker: DockerOptions = DockerOptions()
    conda: CondaOptions = CondaOptions()
    models: list[ModelSpec | str] = []

    @field_validator("include")
    @classmethod
    def _inside(cls, patterns: list[str]) -> list[str]:
        outside = [p for p in patterns if p.lstrip("/").startswith("../") or p == ".."]
        if outside:
            raise ValueError(
                f"include patterns must stay inside the build directory: {outside} start with '../'"
            )
        return patterns

    def model_specs(self) -> list[ModelSpec]:
        return [ModelSpec(tag=m) if isinstance(m, str) else m for m in self.models]

    def python_version(self) -> str:
        return self.docker.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"


def load_bentofile(path: str | os.PathLike[str]) -> BentoBuildConfig:
    """Read and check ``path``; an error names the file and each key that is wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidArgument(f"no build file at {path}") from None
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{path} is not valid YAML: {exc}") from exc
    return parse_bentofile(raw, str(path))


def parse_bentofile(raw: Any, source: str) -> BentoBuildConfig:
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{source} must be a mapping with at least 'service:'")
    try:
        config = BentoBuildConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidArgument(f"{source}: " + "; ".join(_explain(exc))) from None
    if config.name is not None:
        validate_name(config.name, f"bento name in {source}")
    for spec in config.model_specs():
        try:
            Tag.from_str(spec.tag)  # a malformed tag is named now; a missing one at build
        except InvalidArgument as exc:
            raise InvalidArgument(f"{source}: models: {exc.message}") from None
    if any(config.conda.model_dump(exclude_none=True).values()):
        logger.warning(
            "%s: 'conda' is recorded in bento.yaml, but no conda environment is built", source
        )
    return config


def _explain(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {key!r}")
        elif error["type"] == "missing":
            problems.append(f"missing required key {key!r}")
        else:
            problems.append(f"{key!r}: {error['msg']}")
    return problems


def description_text(config: BentoBuildConfig, build_ctx: str) -> str | None:
    """``description``, or the file it names with ``file:./README.md`` (inside the build
    directory)."""
    text = config.description
    if text is None or not text.startswith("file:"):
        return text
    root = Path(build_ctx).resolve()
    target = (root / text[len("file:") :].strip()).resolve()
    if not target.is_relative_to(root):
        raise InvalidArgument(f"description {text!r} points outside the build directory")
    try:
        return target.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"description {text!r}: cannot read {target}: {exc}") from exc
