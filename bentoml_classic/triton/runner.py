"""``bentoml_classic.triton.Runner``: a runner whose models are served by NVIDIA Triton.

Classic BentoML's Triton guide declares one like this::

    triton_runner = bentoml.triton.Runner("triton_runner", model_repository="./model_repository")
    svc = bentoml.Service("triton_svc", runners=[triton_runner])
    ...
    result = await triton_runner.add_one.async_run(arr)
    return result.as_numpy("OUTPUT0")

It is a ``Runner`` (so a ``Service`` takes it and every topology attaches a handle to it), but
its work is done by a ``tritonserver`` process, not by runner workers of ours: each model
directory of the repository is an attribute (``TritonModel``), and the calls go to Triton
through the handle attached to the runner (``handle.py``). Nothing here imports ``tritonclient``:
the service module is imported by processes that never call Triton (the supervisor's planning
child, runner workers of other runners).

In a runner server started on its own (``start_runner_server``), the runner's calls travel over
the runner protocol to a process that forwards them to Triton (``forwarder.py``): for that the
runner declares a Runnable, ``TritonForwarder``, with the two methods the forwarder serves.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidArgument
from ..runner.handle import UninitializedHandle
from ..runner.runner import Runner
from ..tag import validate_name
from .calls import MANAGE
from .forwarder import TritonForwarder
from .process import TritonLaunch

if TYPE_CHECKING:
    from ..config import RunnerConfig

logger = logging.getLogger(__name__)

TRITONSERVER_TYPES = ("grpc", "http")


class TritonModel:
    """One model of the repository: ``runner.<model>.run(...)`` / ``async_run(...)``.

    Arguments are all positional, in the order of the inputs in the model's ``config.pbtxt``,
    or all keywords, by input name; either way the answer is ``tritonclient``'s ``InferResult``
    (``as_numpy(name)``, ``get_output(name)``, ``get_response()``), as in classic BentoML.
    """

    def __init__(self, runner: TritonRunner, model_name: str) -> None:
        self.runner = runner
        self.name = model_name

    def _check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if args and kwargs:
            raise InvalidArgument(
                f"Triton runner {self.runner.name!r}, model {self.name!r}: pass the inputs "
                f"either all positionally (in config.pbtxt's order) or all by name, not both "
                f"(got {len(args)} positional and {sorted(kwargs)} by name)"
            )

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self._check(args, kwargs)
        return self.runner._handle.run_method(self.name, args, kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        self._check(args, kwargs)
        return await self.runner._handle.async_run_method(self.name, args, kwargs)

    def __repr__(self) -> str:
        return f"<TritonModel {self.runner.name}.{self.name}>"


class TritonRunner(Runner):
    """A runner over a Triton model repository, served by one ``tritonserver``.

    ``tritonserver_type``: how this package talks to it, ``"grpc"`` (the default, as in classic)
    or ``"http"``. ``cli_args``: more ``tritonserver`` arguments (``--model-control-mode=explicit``,
    ``--load-model=...``); the repository and the addresses Triton binds are set here.
    """

    def __init__(
        self,
        name: str,
        model_repository: str | os.PathLike[str],
        tritonserver_type: str = "grpc",
        cli_args: Sequence[str] | None = None,
    ) -> None:
        # Runner.__init__ wants a Runnable with methods; this one's are the forwarder's.
        if tritonserver_type not in TRITONSERVER_TYPES:
            raise InvalidArgument(
                f"tritonserver_type must be one of {list(TRITONSERVER_TYPES)}, "
                f"got {tritonserver_type!r}"
            )
        if isinstance(cli_args, str) or not all(isinstance(a, str) for a in cli_args or []):
            raise InvalidArgument(
                f"cli_args must be a list of strings such as ['--log-verbose=1'], got {cli_args!r}"
            )
        super().__init__(TritonForwarder, name=validate_name(name, "runner name"))
        self.runnable_init_params = {"runner_name": self.name, "protocol": tritonserver_type}
        self.model_repository = os.fspath(model_repository)
        self.tritonserver_type = tritonserver_type
        self.cli_args = list(cli_args or [])
        self._models: dict[str, TritonModel] = {}

    @property
    def repository_path(self) -> str:
        """The repository as an absolute path (relative ones are from the working directory,
        which is the service's directory in every process that serves it)."""
        return os.path.abspath(self.model_repository)

    def launch(self) -> TritonLaunch:
        """What starting this runner's ``tritonserver`` takes (``process.py``)."""
        return TritonLaunch(
            self.name, self.repository_path, self.tritonserver_type, list(self.cli_args)
        )

    def __getattr__(self, item: str) -> Any:
        # Only reached for names that are not regular attributes: model names. (The
        # forwarder's methods are reached through ``runner_methods`` only.)
        if item.startswith("_") or "_models" not in self.__dict__:
            raise AttributeError(f"Triton runner has no attribute {item!r}")
        models: dict[str, TritonModel] = self.__dict__["_models"]
        model = models.get(item)
        if model is None:
            model = models[item] = TritonModel(self, item)
        return model

    def model(self, name: str) -> TritonModel:
        """The model called ``name`` (for names that are not Python identifiers)."""
        return self.__getattr__(name)  # type: ignore[no-any-return]

    async def _manage(self, call: str, *args: Any, **kwargs: Any) -> Any:
        return await self._handle.async_run_method(MANAGE + call, args, kwargs)

    async def load_model(self, model_name: str, **kwargs: Any) -> Any:
        return await self._manage("load_model", model_name, **kwargs)

    async def unload_model(self, model_name: str, **kwargs: Any) -> Any:
        return await self._manage("unload_model", model_name, **kwargs)

    async def is_model_ready(self, model_name: str, **kwargs: Any) -> Any:
        return await self._manage("is_model_ready", model_name, **kwargs)

    async def get_model_config(self, model_name: str, **kwargs: Any) -> Any:
        return await self._manage("get_model_config", model_name, **kwargs)

    async def get_model_metadata(self, model_name: str, **kwargs: Any) -> Any:
        return await self._manage("get_model_metadata", model_name, **kwargs)

    async def get_model_repository_index(self, **kwargs: Any) -> Any:
        return await self._manage("get_model_repository_index", **kwargs)

    async def is_server_ready(self, **kwargs: Any) -> Any:
        return await self._manage("is_server_ready", **kwargs)

    async def is_server_live(self, **kwargs: Any) -> Any:
        return await self._manage("is_server_live", **kwargs)

    def init_local(
        self, quiet: bool = False, config: RunnerConfig | None = None, *, service_name: str = ""
    ) -> None:
        """Start ``tritonserver`` as a child of this process and call it; it stops with this
        process, or with ``destroy()``. Classic BentoML could not run a Triton runner locally."""
        from .local import start_local

        if not quiet:
            logger.warning(
                "Triton runner %r: tritonserver runs as a child of this process", self.name
            )
        if config is None:
            from ..config import load_config

            config = load_config().runner(self.name)
        self.attach(start_local(self.launch(), config))

    def destroy(self) -> None:
        self.attach(UninitializedHandle(self.name))

    def __repr__(self) -> str:
        return (
            f"<TritonRunner {self.name} repository={self.model_repository!r} "
            f"type={self.tritonserver_type}>"
        )
