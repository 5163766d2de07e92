"""A saved model: its tag, its directory in the store, and the metadata kept in ``model.yaml``.

``model.yaml`` is plain YAML (``yaml.safe_dump``), so people can read it and no loader ever runs
code from it. The framework that saved a model is recorded by module name only; ``to_runner()``
imports that module at call time, which keeps the core free of any framework import.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata as importlib_metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import yaml

from ..exceptions import BentoMLException, InvalidArgument
from ..tag import Tag, validate_name

if TYPE_CHECKING:
    from ..runner import Runner

MODEL_YAML = "model.yaml"
CUSTOM_OBJECTS_FILE = "custom_objects.pkl"
# Bumped only if the layout of model.yaml changes incompatibly; readers refuse what they don't know.
MODEL_YAML_API_VERSION = "v1"

BatchDim = int | tuple[int, int]


def _check_batch_dim(value: Any, where: str) -> BatchDim:
    if isinstance(value, bool):
        raise InvalidArgument(f"{where}: batch_dim must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        return value
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return (value[0], value[1])
    raise InvalidArgument(f"{where}: batch_dim must be an int or a pair of ints, got {value!r}")


@dataclass(frozen=True)
class ModelSignature:
    """How one method of a saved model may be called: whether calls may be batched, and along
    which dimension (an int, or ``(input_dim, output_dim)``)."""

    batchable: bool = False
    batch_dim: BatchDim = 0

    def __post_init__(self) -> None:
        if not isinstance(self.batchable, bool):
            raise InvalidArgument(f"batchable must be True or False, got {self.batchable!r}")
        object.__setattr__(self, "batch_dim", _check_batch_dim(self.batch_dim, "signature"))

    @classmethod
    def convert(
        cls, value: ModelSignature | Mapping[str, Any], method: str = "?"
    ) -> ModelSignature:
        """Accept a ModelSignature or a dict such as ``{"batchable": True, "batch_dim": 0}``."""
        if isinstance(value, ModelSignature):
            return value
        if not isinstance(value, Mapping):
            raise InvalidArgument(
                f"signature of method {method!r} must be a dict or ModelSignature, got "
                f"{type(value).__name__}"
            )
        unknown = sorted(set(value) - {"batchable", "batch_dim"})
        if unknown:
            raise InvalidArgument(
                f"signature of method {method!r} has unknown keys {unknown}; "
                "allowed: 'batchable', 'batch_dim'"
            )
        batch_dim = _check_batch_dim(value.get("batch_dim", 0), f"signature of method {method!r}")
        return cls(batchable=value.get("batchable", False), batch_dim=batch_dim)

    def to_dict(self) -> dict[str, Any]:
        # YAML has no tuples: a pair is written as a list and turned back into a tuple on load.
        dim = list(self.batch_dim) if isinstance(self.batch_dim, tuple) else self.batch_dim
        return {"batchable": self.batchable, "batch_dim": dim}


def convert_signatures(
    signatures: Mapping[str, ModelSignature | Mapping[str, Any]] | None,
) -> dict[str, ModelSignature]:
    """Normalise a ``{method_name: signature}`` mapping, refusing names that are not strings."""
    if signatures is None:
        return {}
    if not isinstance(signatures, Mapping):
        raise InvalidArgument(
            "signatures must be a dict of method name to signature, got "
            f"{type(signatures).__name__}"
        )
    result: dict[str, ModelSignature] = {}
    for method, sig in signatures.items():
        if not isinstance(method, str) or not method:
            raise InvalidArgument(f"signature names must be non-empty strings, got {method!r}")
        result[method] = ModelSignature.convert(sig, method)
    return result


def check_labels(labels: Mapping[str, Any] | None) -> dict[str, str]:
    """Labels are for filtering and display: plain string keys and string values only."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidArgument(f"labels must be a dict of str to str, got {type(labels).__name__}")
    for key, value in labels.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgument(f"label keys must be non-empty strings, got {key!r}")
        if not isinstance(value, str):
            raise InvalidArgument(
                f"label {key!r} must be a string, got {type(value).__name__}: {value!r}"
            )
    return dict(labels)


def to_plain_data(value: Any, where: str) -> Any:
    """Return ``value`` made of YAML's basic types, or raise naming the offending key.

    numpy scalars (``np.float64(0.93)`` is a common accuracy value) are turned into Python ones;
    anything else that ``yaml.safe_dump`` cannot write is refused at save time, not at load time.
    """
    if value is None or type(value) in (bool, int, float, str, date, datetime):
        return value
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return to_plain_data(value.item(), where)
    for base in (bool, int, float, str):
        if isinstance(value, base):  # e.g. an IntEnum or a str subclass
            return base(value)
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidArgument(f"{where}: keys must be strings, got {key!r}")
            plain[key] = to_plain_data(item, f"{where}[{key!r}]")
        return plain
    if isinstance(value, list | tuple):
        return [to_plain_data(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidArgument(
        f"{where} has a value of type {type(value).__name__} ({value!r:.80}), which model.yaml "
        "cannot store: use str, int, float, bool, None, dates, lists and dicts with string keys"
    )


def _package_version() -> str:
    try:
        return importlib_metadata.version("bentoml_classic")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def make_context(framework_versions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Versions recorded at save time, to explain a model that misbehaves after an upgrade."""
    return {
        "python_version": platform.python_version(),
        "bentoml_classic_version": _package_version(),
        "framework_versions": dict(framework_versions or {}),
    }


@dataclass
class ModelInfo:
    """Everything in ``model.yaml``."""

    name: str
    version: str
    module: str
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    signatures: dict[str, ModelSignature] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    creation_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    context: dict[str, Any] = field(default_factory=make_context)

    @property
    def tag(self) -> Tag:
        return Tag(self.name, self.version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "api_version": MODEL_YAML_API_VERSION,
            "name": self.name,
            "version": self.version,
            "module": self.module,
            "creation_time": self.creation_time.isoformat(),
            "labels": dict(self.labels),
            "metadata": self.metadata,
            "signatures": {name: sig.to_dict() for name, sig in self.signatures.items()},
            "options": self.options,
            "context": self.context,
        }

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False))

    @classmethod
    def from_dict(cls, data: Any) -> ModelInfo:
        """Parse what ``to_dict`` wrote; raises ValueError (or InvalidArgument) on anything else."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping at the top level, got {type(data).__name__}")
        api_version = data.get("api_version", MODEL_YAML_API_VERSION)
        if api_version != MODEL_YAML_API_VERSION:
            raise ValueError(f"unsupported api_version {api_version!r}")
        missing = [key for key in ("name", "version", "module") if not data.get(key)]
        if missing:
            raise ValueError(f"missing keys: {', '.join(missing)}")
        if not isinstance(data["module"], str):
            raise ValueError(f"module must be a string, got {data['module']!r}")
        created = data.get("creation_time")
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        if not isinstance(created, datetime):
            raise ValueError(f"creation_time must be an ISO 8601 timestamp, got {created!r}")
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        for key in ("metadata", "options", "context"):
            if not isinstance(data.get(key) or {}, dict):
                raise ValueError(f"{key} must be a mapping")
        return cls(
            name=validate_name(data["name"], "model name"),
            version=validate_name(str(data["version"]), "model version"),
            module=data["module"],
            labels=check_labels(data.get("labels") or {}),
            metadata=dict(data.get("metadata") or {}),
            signatures=convert_signatures(data.get("signatures") or {}),
            options=dict(data.get("options") or {}),
            creation_time=created.astimezone(UTC),
            context=dict(data.get("context") or {}),
        )


class Model:
    """A model in the store. ``path`` is its directory; the framework's files live inside it."""

    def __init__(
        self,
        tag: Tag,
        path: str,
        info: ModelInfo,
        custom_objects: dict[str, Any] | None = None,
    ) -> None:
        self.tag = tag
        self.path = path
        self.info = info
        # None means "not read yet": custom objects may be large, so they load on first access.
        self._custom_objects = custom_objects

    @classmethod
    def from_path(cls, path: str) -> Model:
        """Read the model in ``path``; any problem with model.yaml names the file."""
        yaml_path = os.path.join(path, MODEL_YAML)
        try:
            with open(yaml_path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
            info = ModelInfo.from_dict(data)
        except (OSError, yaml.YAMLError, ValueError, TypeError, InvalidArgument) as exc:
            reason = exc.message if isinstance(exc, BentoMLException) else str(exc)
            raise BentoMLException(
                f"cannot read model metadata {yaml_path}: {reason.strip()}",
                detail={"path": yaml_path},
            ) from exc
        return cls(info.tag, path, info)

    def path_of(self, filename: str) -> str:
        return os.path.join(self.path, filename)

    @property
    def custom_objects(self) -> dict[str, Any]:
        if self._custom_objects is None:
            pkl = self.path_of(CUSTOM_OBJECTS_FILE)
            if os.path.exists(pkl):
                with open(pkl, "rb") as f:
                    self._custom_objects = pickle.load(f)
            else:
                self._custom_objects = {}
        return self._custom_objects

    @property
    def creation_time(self) -> datetime:
        return self.info.creation_time

    def _framework_module(self) -> ModuleType:
        """The module that saved this model (``info.module``), imported now."""
        module_name = self.info.module
        try:
            return importlib.import_module(module_name)
        except ImportError as exc:
            raise BentoMLException(
                f"model {self.tag} was saved by {module_name}, which cannot be imported: {exc}"
            ) from exc

    def with_options(self, **options: Any) -> Model:
        """This model with options for the runner it makes, as in classic BentoML:
        ``bentoml.sklearn.get("iris_clf:latest").with_options(partial_kwargs={"predict":
        {"some_kw": 1}})``. The store is not touched; the options live in this copy only.

        Which options exist is the framework's business (classic BentoML gives each framework
        its own set, and refuses the others): the module that saved the model checks them in its
        ``check_options(model, options)``. An option given again replaces the earlier value.

        Runner workers import the service module and so call this again themselves: the options
        are part of what they rebuild, with nothing to send them.
        """
        module = self._framework_module()
        check_options = getattr(module, "check_options", None)
        if not callable(check_options):
            if not options:
                return self._with_info(self.info)
            raise InvalidArgument(
                f"model {self.tag} was saved by {self.info.module}, which takes no options; "
                f"got {sorted(options)}",
                detail={"options": sorted(options)},
            )
        checked = check_options(self, dict(options))
        return self._with_info(
            dataclasses.replace(self.info, options={**self.info.options, **checked})
        )

    def _with_info(self, info: ModelInfo) -> Model:
        return Model(self.tag, self.path, info, self._custom_objects)

    def to_runner(
        self,
        name: str | None = None,
        max_batch_size: int | None = None,
        max_latency_ms: float | None = None,
        method_configs: Mapping[str, Mapping[str, Any]] | None = None,
        embedded: bool = False,
    ) -> Runner:
        """Wrap this model in a Runner built by the framework module that saved it."""
        from ..runner import Runner

        module = self._framework_module()
        get_runnable = getattr(module, "get_runnable", None)
        if not callable(get_runnable):
            raise InvalidArgument(
                f"model {self.tag} was saved by {self.info.module}, which has no "
                "get_runnable(model): it cannot be turned into a runner"
            )
        runnable_cls = get_runnable(self)
        return Runner(
            runnable_cls,
            name=name or self.tag.name,
            models=[self],
            max_batch_size=max_batch_size,
            max_latency_ms=max_latency_ms,
            method_configs=method_configs,
            embedded=embedded,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and (self.tag, self.path) == (other.tag, other.path)

    def __hash__(self) -> int:
        return hash(self.tag)

    def __repr__(self) -> str:
        return f'Model(tag="{self.tag}", path="{self.path}")'
