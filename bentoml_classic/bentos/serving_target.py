"""What every entry point serves: a bento tag, a bento folder, a directory with bentofile.yaml,
or ``MODULE:ATTR``, resolved to one ``ServingTarget`` (service, working directory, model store).

``bentoml serve``, ``start-runner-server``, ``start-http-server``, the ``start_*`` functions
(and, when they land, ``serve-grpc`` and a composed service's dependencies) all call
``resolve_serving_target`` and then ``ServingTarget.apply_environment``, so that a bento is
served from its own ``src/`` with its own ``models/``, whatever the working directory. As in
classic BentoML, a name that is both a bento in the store and an import string is the bento.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import BentoNotFound, InvalidArgument
from ..models.store import MODEL_STORE_ENV
from ..tag import Tag
from .bento import BENTO_YAML, Bento
from .bentofile import BENTOFILE
from .store import get_default_bento_store


@dataclass(frozen=True)
class ServingTarget:
    #: ``MODULE:ATTR``, imported with ``working_dir`` first on ``sys.path``
    service: str
    working_dir: str
    #: the bento's own model store, or None for ``$BENTOML_HOME/models``
    model_store: str | None = None
    bento: Bento | None = None

    def apply_environment(self) -> None:
        """Point this process, and the workers it starts (they inherit the environment), at
        the bento's models. A no-op for a service that is not a bento."""
        if self.model_store is not None:
            os.environ[MODEL_STORE_ENV] = self.model_store


def resolve_serving_target(identifier: str | None, working_dir: str = ".") -> ServingTarget:
    """Resolve ``identifier`` as given in ``working_dir``: None or ``.`` is the working
    directory (a bento folder, or one with bentofile.yaml); a directory likewise; then a bento
    tag in ``$BENTOML_HOME/bentos``; else an import string."""
    working_dir = os.path.abspath(working_dir)
    if identifier is None or identifier == ".":
        found = _from_directory(working_dir)
        if found is None:
            raise InvalidArgument(
                f"no service given and no {BENTOFILE} (nor a built bento's {BENTO_YAML}) in "
                f"{working_dir}: run `bentoml serve MODULE:SVC`, e.g. `bentoml serve "
                "service:svc`, or name a bento, e.g. `bentoml serve iris_classifier:latest`"
            )
        return found
    directory = Path(working_dir, identifier)
    if directory.is_dir():
        found = _from_directory(str(directory.resolve()))
        if found is not None:
            return found
    bento = _bento_in_store(identifier)
    if bento is not None:
        return from_bento(bento)
    return ServingTarget(identifier, working_dir)


def from_bento(bento: Bento) -> ServingTarget:
    return ServingTarget(bento.info.service, bento.src_dir, bento.models_dir, bento)


def _bento_in_store(identifier: str) -> Bento | None:
    try:
        # lower-cased here, without the tag's warning: ``service:ControlNet`` (a class service)
        # is only looked for among the bentos, and is most likely an import string
        tag = Tag.from_str(identifier.lower())
    except InvalidArgument:
        return None
    try:
        return get_default_bento_store().get(tag)
    except (BentoNotFound, InvalidArgument):
        return None


def _from_directory(directory: str) -> ServingTarget | None:
    if Path(directory, BENTO_YAML).is_file():
        return from_bento(Bento.from_path(directory))
    if Path(directory, BENTOFILE).is_file():
        return ServingTarget(service_in_bentofile(directory), directory)
    return None


def service_in_bentofile(directory: str) -> str:
    """The ``service:`` of ``<directory>/bentofile.yaml``, read leniently: serving needs only
    that key, and ``bentoml build`` checks the rest."""
    import yaml

    bentofile = Path(directory, BENTOFILE)
    try:
        content = yaml.safe_load(bentofile.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{bentofile} is not valid YAML: {exc}") from exc
    service = content.get("service") if isinstance(content, dict) else None
    if isinstance(service, str) and service:
        return service
    raise InvalidArgument(
        f"{bentofile} has no 'service:' entry (e.g. service: \"service:svc\"): add one, "
        "or name the service, e.g. `bentoml serve service:svc`"
    )
