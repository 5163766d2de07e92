"""``bentoml build``: a build directory and its bentofile.yaml in, a bento in the store out.

The bento is written into a temporary directory of the bento store and renamed into place only
once complete (``models/versioned.py``), so a failed build (a bad bentofile, a service that does
not import, a missing model) leaves nothing behind. The models go in as hard links where the
filesystem allows (a model's files never change once saved), else as copies.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import yaml

from .. import __version__
from ..classic_service import Service
from ..exceptions import InvalidArgument, ModelNotFound
from ..models.model import Model
from ..models.store import ModelStore, get_default_store, new_version
from ..models.versioned import LATEST, write_atomic
from ..runner.runner import Runner
from ..tag import Tag, validate_name
from .bento import (
    BENTO_YAML,
    MODELS_DIR,
    SRC_DIR,
    Bento,
    BentoApiRecord,
    BentoInfo,
    BentoModelRecord,
    BentoRunnerRecord,
)
from .bentofile import BENTOFILE, BentoBuildConfig, description_text, load_bentofile
from .environment import write_docker_env, write_python_env
from .files import copy_files, select_files
from .store import BentoStore, get_default_bento_store

logger = logging.getLogger(__name__)


def build_bento(
    build_ctx: str | os.PathLike[str] = ".",
    bentofile: str | os.PathLike[str] | None = None,
    version: str | None = None,
    *,
    store: BentoStore | None = None,
    model_store: ModelStore | None = None,
    show_progress: bool = False,
) -> Bento:
    """Build the bento that ``bentofile`` (default ``<build_ctx>/bentofile.yaml``) describes.

    The service is imported here, from ``build_ctx``, to learn its name, runners, models and
    APIs: a service that fails to import fails the build, naming it.
    """
    from ..loader import import_service

    build_ctx = os.path.abspath(os.fspath(build_ctx))
    if not os.path.isdir(build_ctx):
        raise InvalidArgument(f"build directory {build_ctx} does not exist")
    config = load_bentofile(bentofile or os.path.join(build_ctx, BENTOFILE))
    with contextlib.chdir(build_ctx):  # as `bentoml serve` imports it: relative paths work
        svc = import_service(config.service, build_ctx)
    tag = Tag(
        validate_name(config.name or svc.name, "bento name"),
        validate_name(version, "bento version") if version else new_version(),
    )
    model_store = model_store or get_default_store()
    models = _collect_models(svc, config, model_store)
    files = select_files(build_ctx, config.include, config.exclude)
    store = store or get_default_bento_store()
    if os.path.isdir(os.path.join(store.root, tag.name, tag.version or "")):
        raise InvalidArgument(f"bento {tag} already exists: give another --version")
    tmp = store.new_directory(tag)
    try:
        copy_files(build_ctx, files, os.path.join(tmp, SRC_DIR), show_progress)
        os.makedirs(os.path.join(tmp, SRC_DIR), exist_ok=True)
        _copy_models([model for model, _ in models], os.path.join(tmp, MODELS_DIR))
        description = description_text(config, build_ctx)
        info = _bento_info(svc, config, tag, models, description)
        _write_apis(svc, tag, os.path.join(tmp, "apis"))
        _write_readme(info, os.path.join(tmp, "README.md"))
        write_python_env(config, build_ctx, os.path.join(tmp, "env"))
        write_docker_env(config, build_ctx, os.path.join(tmp, "env"))
        with open(os.path.join(tmp, BENTO_YAML), "w", encoding="utf-8") as f:
            f.write(info.to_yaml())
        path = store.commit_directory(tmp, tag)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Bento(path, info)


def _collect_models(
    svc: Service, config: BentoBuildConfig, model_store: ModelStore
) -> list[tuple[Model, str | None]]:
    """The runners' and the service's models, then bentofile's ``models:`` (each resolved to a
    version now; one missing is an error naming it); each tag once."""
    found: dict[Tag, tuple[Model, str | None]] = {}
    for service in svc.all_services().values():  # a composed service's dependencies too
        for runner in service.runners:
            for model in runner.models:
                found.setdefault(model.tag, (model, None))
        for model in service.models:
            found.setdefault(model.tag, (model, None))
    for spec in config.model_specs():
        try:
            model = model_store.get(spec.tag)
        except ModelNotFound as exc:
            raise InvalidArgument(
                f"bentofile.yaml names model {spec.tag!r}, which is not in the model store "
                f"({exc.message})"
            ) from exc
        found[model.tag] = (model, spec.alias)
    return list(found.values())


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _copy_models(models: list[Model], models_dir: str) -> None:
    """A model store holding exactly these models, ``latest`` of each name its newest one here,
    so that ``get("name:latest")`` in the service finds the version built with."""
    os.makedirs(models_dir, exist_ok=True)
    newest: dict[str, str] = {}
    for model in models:
        assert model.tag.version is not None
        target = os.path.join(models_dir, model.tag.name, model.tag.version)
        shutil.copytree(model.path, target, copy_function=_link_or_copy, symlinks=True)
        newest[model.tag.name] = max(newest.get(model.tag.name, ""), model.tag.version)
    for name, version in newest.items():
        write_atomic(os.path.join(models_dir, name, LATEST), version + "\n")


def _graph_runners(services: Iterable[Service]) -> list[Runner]:
    """Every runner of the graph once, however many of its services use it."""
    seen: dict[str, Runner] = {}
    for service in services:
        for runner in service.runners:
            seen.setdefault(runner.name, runner)
    return list(seen.values())


def _bento_info(
    svc: Service,
    config: BentoBuildConfig,
    tag: Tag,
    models: list[tuple[Model, str | None]],
    description: str | None,
) -> BentoInfo:
    from ..config import load_config

    settings = load_config()
    services = svc.all_services()
    graph = svc.graph()
    runners = []
    for runner in _graph_runners(services.values()):
        resources = settings.runner(runner.name).resources
        runners.append(
            BentoRunnerRecord(
                name=runner.name,
                runnable_type=runner.runnable_class.__name__,
                embedded=runner.embedded,
                models=[str(m.tag) for m in runner.models],
                resources=resources.model_dump(by_alias=True, exclude_none=True)
                if resources
                else None,
            )
        )
    assert tag.version is not None
    return BentoInfo(
        service=config.service,
        name=tag.name,
        version=tag.version,
        bentoml_version=__version__,
        creation_time=datetime.now(UTC),
        description=description,
        labels=config.labels,
        models=[
            BentoModelRecord(
                tag=str(m.tag), module=m.info.module, alias=alias, creation_time=m.creation_time
            )
            for m, alias in models
        ],
        runners=runners,
        # the whole graph of a composed service, the entry first; empty for a single service
        services=[
            {
                "name": node.name,
                "depends_on": list(node.depends_on),
                "runners": list(node.runners),
                "apis": list(services[node.name].apis),
            }
            for node in graph.services
        ]
        if len(graph.services) > 1
        else [],
        apis=[
            BentoApiRecord(
                name=api.name,
                route=api.route,
                input_type=type(api.input).__name__,
                output_type=type(api.output).__name__,
            )
            for api in svc.apis.values()
        ],
        python=config.python.model_dump(exclude_none=True),
        docker=config.docker.model_dump(exclude_none=True),
        conda=config.conda.model_dump(exclude_none=True),
    )


def _write_apis(svc: Service, tag: Tag, apis_dir: str) -> None:
    from ..http.openapi import build_openapi

    os.makedirs(apis_dir)
    document: dict[str, Any] = build_openapi(svc, version=tag.version or "0.0.0")
    with open(os.path.join(apis_dir, "openapi.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(document, f, sort_keys=False)


def _write_readme(info: BentoInfo, path: str) -> None:
    text = info.description
    if text is None:
        apis = "\n".join(
            f"- `POST {a.route}`: {a.input_type} -> {a.output_type}" for a in info.apis
        )
        text = f"# {info.name}\n\nA bento of service `{info.service}`.\n\n{apis}\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
