"""A built bento: ``bento.yaml`` (what it serves and what it was built from) and its folder.

A bento folder holds ``bento.yaml``, ``src/`` (the service's files), ``models/`` (a model store
holding exactly the versions the bento was built with, ``latest`` pointing at them), ``apis/``,
``env/python/``, ``env/docker/`` and ``README.md``. ``bento.yaml`` is plain YAML read with
``safe_load``: nothing in a bento runs when it is listed or imported, only when it is served.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ..exceptions import BentoMLException
from ..tag import Tag

BENTO_YAML = "bento.yaml"
SRC_DIR = "src"
MODELS_DIR = "models"


class BentoModelRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tag: str
    module: str
    alias: str | None = None
    creation_time: datetime


class BentoRunnerRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    runnable_type: str
    embedded: bool = False
    models: list[str] = []
    #: ``runners.<name>.resources`` of the configuration in force at build time
    resources: dict[str, Any] | None = None


class BentoApiRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    route: str
    input_type: str
    output_type: str


class BentoInfo(BaseModel):
    """``bento.yaml``. Keys this version does not know are ignored when read, so a bento built
    by a newer version still lists."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    service: str
    name: str
    version: str
    bentoml_version: str
    creation_time: datetime
    description: str | None = None
    labels: dict[str, str] = {}
    models: list[BentoModelRecord] = []
    runners: list[BentoRunnerRecord] = []
    apis: list[BentoApiRecord] = []
    #: the services a composed service depends on, each as ``{name, service, ...}``; empty for
    #: a single service (the seam for service graphs)
    services: list[dict[str, Any]] = []
    python: dict[str, Any] = {}
    docker: dict[str, Any] = {}
    conda: dict[str, Any] = {}

    @property
    def tag(self) -> Tag:
        return Tag(self.name, self.version)

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json")
        text: str = yaml.safe_dump(data, sort_keys=False)
        return text


class Bento:
    """A bento folder and its ``bento.yaml``."""

    def __init__(self, path: str, info: BentoInfo) -> None:
        self.path = path
        self.info = info

    @property
    def tag(self) -> Tag:
        return self.info.tag

    @property
    def src_dir(self) -> str:
        return os.path.join(self.path, SRC_DIR)

    @property
    def models_dir(self) -> str:
        return os.path.join(self.path, MODELS_DIR)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Bento:
        path = os.path.abspath(os.fspath(path))
        return cls(path, read_bento_yaml(os.path.join(path, BENTO_YAML)))

    def __repr__(self) -> str:
        return f"Bento(tag={str(self.tag)!r}, path={self.path!r})"


def read_bento_yaml(file: str) -> BentoInfo:
    try:
        with open(file, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except FileNotFoundError:
        raise BentoMLException(f"no {BENTO_YAML} at {file}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise BentoMLException(f"cannot read {file}: {exc}") from exc
    try:
        return BentoInfo.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}" for e in exc.errors()
        )
        raise BentoMLException(f"{file} is not a valid {BENTO_YAML}: {problems}") from None
