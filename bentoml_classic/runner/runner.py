"""``Runner``: a named, addressable instance of a Runnable, and its callable methods.

A runner does no work itself; it forwards calls to the handle attached to it (``handle.py``):
until something attaches one, calls are refused with an error that says how to fix that.
``init_local()`` (and the development server) attach a handle that runs the runnable in this
process; an API worker attaches one that talks to runner worker processes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidArgument
from ..tag import validate_name
from .handle import RunnerHandle, UninitializedHandle
from .runnable import Runnable, RunnableMethodConfig

if TYPE_CHECKING:
    from ..batching.policy import BatchPolicy
    from ..config import RunnerConfig
    from ..models.model import Model

logger = logging.getLogger(__name__)

_METHOD_CONFIG_KEYS = frozenset({"max_batch_size", "max_latency_ms"})


def _check_batching_option(label: str, key: str, value: Any) -> None:
    """``key`` is max_batch_size or max_latency_ms; ``label`` is how the caller spelt it."""
    if value is None:
        return
    integral = key == "max_batch_size"
    wanted = int if integral else (int, float)
    # ``not value > 0`` rather than ``value <= 0``: NaN fails every comparison
    if isinstance(value, bool) or not isinstance(value, wanted) or not value > 0:
        kind = "a positive integer" if integral else "a positive number"
        raise InvalidArgument(f"{label} must be {kind}, got {value!r}")


class RunnerMethod:
    """One runner method: ``runner.predict.run(x)`` or ``await runner.predict.async_run(x)``.

    A generator method (sync or async) streams: ``async for item in
    runner.generate.async_stream(x)`` (classic BentoML's name) gets its items as the runner
    yields them, in every topology; ``for item in runner.generate.stream(x)`` does the same from
    sync code. ``run()`` on such a method returns the iterator of ``stream()`` (in classic
    BentoML, ``init_local()``'s ``run()`` returned the generator itself) and ``async_run()``
    that of ``async_stream()``.

    Leaving a stream early (``break``, an exception, a cancelled task) closes the generator on
    the runner's side: at once for ``stream()`` and for an ``async_stream()`` closed with
    ``aclose()`` (``contextlib.aclosing``), else as soon as the iterator is garbage.
    """

    def __init__(
        self,
        runner: Runner,
        name: str,
        config: RunnableMethodConfig,
        max_batch_size: int | None,
        max_latency_ms: float | None,
    ) -> None:
        self.runner = runner
        self.name = name
        self.config = config
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self.runner._handle.run_method(self.name, args, kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        return await self.runner._handle.async_run_method(self.name, args, kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The items the method yields, as they come, for sync code (a sync API function)."""
        return self.runner._handle.stream_method(self.name, args, kwargs)

    def async_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """The items the method yields, as they come: ``async for item in ...``."""
        return self.runner._handle.async_stream_method(self.name, args, kwargs)

    def __repr__(self) -> str:
        kind = " stream" if self.config.stream else ""
        return (
            f"<RunnerMethod {self.runner.name}.{self.name}{kind} batchable={self.config.batchable}>"
        )


class StreamingRunnerMethod(RunnerMethod):
    """A generator method: ``run()`` and ``async_run()`` give the iterators of ``stream()`` and
    ``async_stream()`` (a subclass, so that other methods' ``run()`` asks nothing more)."""

    def run(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return self.stream(*args, **kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        return self.async_stream(*args, **kwargs)


class Runner:
    """A Runnable class plus its init arguments, models and per-method serving options."""

    def __init__(
        self,
        runnable_class: type[Runnable],
        *,
        name: str | None = None,
        runnable_init_params: Mapping[str, Any] | None = None,
        models: Sequence[Model] | None = None,
        max_batch_size: int | None = None,
        max_latency_ms: float | None = None,
        method_configs: Mapping[str, Mapping[str, Any]] | None = None,
        embedded: bool = False,
    ) -> None:
        if not (isinstance(runnable_class, type) and issubclass(runnable_class, Runnable)):
            raise InvalidArgument(
                f"Runner needs a subclass of bentoml.Runnable, got {runnable_class!r}"
            )
        methods = runnable_class.bentoml_runnable_methods__
        if not methods:
            raise InvalidArgument(
                f"{runnable_class.__name__} has no runnable methods: decorate at least one "
                "method with @bentoml.Runnable.method"
            )
        method_configs = dict(method_configs or {})
        unknown = sorted(set(method_configs) - set(methods))
        if unknown:
            raise InvalidArgument(
                f"method_configs names methods that {runnable_class.__name__} does not have: "
                f"{unknown}; it has {sorted(methods)}"
            )
        for method_name, options in method_configs.items():
            if not isinstance(options, Mapping):
                raise InvalidArgument(
                    f"method_configs[{method_name!r}] must be a dict such as "
                    f"{{'max_batch_size': 32}}, got {type(options).__name__}"
                )
            bad_keys = sorted(set(options) - _METHOD_CONFIG_KEYS)
            if bad_keys:
                raise InvalidArgument(
                    f"method_configs[{method_name!r}] has unknown keys {bad_keys}; "
                    f"allowed: {sorted(_METHOD_CONFIG_KEYS)}"
                )
        _check_batching_option("max_batch_size", "max_batch_size", max_batch_size)
        _check_batching_option("max_latency_ms", "max_latency_ms", max_latency_ms)
        for method_name, options in method_configs.items():
            for key, value in options.items():
                label = f"method_configs[{method_name!r}][{key!r}]"
                _check_batching_option(label, key, value)
        self.name = validate_name(name or runnable_class.__name__, "runner name")
        self.runnable_class = runnable_class
        self.runnable_init_params = dict(runnable_init_params or {})
        self.models = list(models or [])
        self.embedded = embedded
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms
        self._methods = {
            method_name: (StreamingRunnerMethod if config.stream else RunnerMethod)(
                self,
                method_name,
                config,
                method_configs.get(method_name, {}).get("max_batch_size", max_batch_size),
                method_configs.get(method_name, {}).get("max_latency_ms", max_latency_ms),
            )
            for method_name, config in methods.items()
        }
        self._handle: RunnerHandle = UninitializedHandle(self.name)

    @property
    def runner_methods(self) -> dict[str, RunnerMethod]:
        return dict(self._methods)

    def __getattr__(self, item: str) -> RunnerMethod:
        # Only reached for names that are not regular attributes.
        methods: dict[str, RunnerMethod] | None = self.__dict__.get("_methods")
        if methods is not None and item in methods:
            return methods[item]
        if item == "default_method" and methods is not None:
            # The property raised; Python then tried here. Re-raise its message, not ours.
            return self._resolve_default_method()
        raise AttributeError(f"runner {self.__dict__.get('name')!r} has no method {item!r}")

    @property
    def default_method(self) -> RunnerMethod:
        return self._resolve_default_method()

    def _resolve_default_method(self) -> RunnerMethod:
        if "__call__" in self._methods:
            return self._methods["__call__"]
        if len(self._methods) == 1:
            return next(iter(self._methods.values()))
        raise AttributeError(
            f"runner {self.name!r} has several methods ({', '.join(sorted(self._methods))}) and "
            "no __call__: call one by name, e.g. runner.<method>.run(...)"
        )

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve_default_method().run(*args, **kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        return await self._resolve_default_method().async_run(*args, **kwargs)

    @property
    def is_initialized(self) -> bool:
        return not isinstance(self._handle, UninitializedHandle)

    @property
    def runner_handle(self) -> RunnerHandle:
        """What runs this runner's calls (``attach`` sets it); classic BentoML's name."""
        return self._handle

    def attach(self, handle: RunnerHandle) -> None:
        """Forward this runner's calls to ``handle`` from now on; the previous one is closed."""
        self._handle.close()
        self._handle = handle

    def batch_policies(self, config: RunnerConfig) -> dict[str, BatchPolicy]:
        """How each batched method of this runner batches under ``config`` (its section)."""
        from .policies import resolve_policies

        return resolve_policies(self._methods, config)

    def init_local(
        self, quiet: bool = False, config: RunnerConfig | None = None, *, service_name: str = ""
    ) -> None:
        """Run this runner inside the current process; meant for debugging and tests.

        ``config`` is this runner's configuration section; without one, the configuration of
        this process is read (``BENTOML_CONFIG``, ...), as a user calling this expects.
        ``service_name``: the service that serves it, for the labels of its metrics.
        """
        from .local import LocalRunnerHandle

        if not quiet:
            logger.warning(
                "runner %r runs in this process: init_local() is for debugging", self.name
            )
        if config is None:
            from ..config import load_config

            config = load_config().runner(self.name)
        self.attach(LocalRunnerHandle(self, config, service_name))

    def destroy(self) -> None:
        """Release whatever the handle holds (the model, connections); calls fail afterwards."""
        self.attach(UninitializedHandle(self.name))

    def __repr__(self) -> str:
        return f"<Runner {self.name} runnable={self.runnable_class.__name__}>"
