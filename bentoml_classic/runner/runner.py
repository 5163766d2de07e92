"""``Runner``: a named, addressable instance of a Runnable, and its callable methods.

A runner does no work itself; it forwards calls to a *handle*. Before anything initialises it
the handle refuses every call with an error that says how to fix that; ``init_local()`` (and the
development server) install a handle that runs the runnable in this process. Remote handles that
talk to runner worker processes plug in the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import InvalidArgument, StateException
from ..tag import validate_name
from .runnable import Runnable, RunnableMethodConfig

if TYPE_CHECKING:
    from ..models.model import Model

logger = logging.getLogger(__name__)

_METHOD_CONFIG_KEYS = frozenset({"max_batch_size", "max_latency_ms"})


class RunnerHandle(Protocol):
    def run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any: ...

    async def async_run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any: ...

    def close(self) -> None: ...


class _UninitializedHandle:
    def __init__(self, runner_name: str) -> None:
        self._runner_name = runner_name

    def _refuse(self) -> StateException:
        return StateException(
            f"runner {self._runner_name!r} is not initialised: add it to a Service "
            f"(Service(name, runners=[runner])) and serve that with `bentoml serve`, "
            f"or call runner.init_local() to run it in this process for debugging"
        )

    def run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any:
        raise self._refuse()

    async def async_run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any:
        raise self._refuse()

    def close(self) -> None:
        pass


class LocalRunnerHandle:
    """Runs the runnable in this process: for ``init_local()`` and the development server.

    Batchable methods go through the same batching as in a runner worker (same policy, same
    queue bound, same splitting), so that development behaves like production.
    """

    def __init__(self, runner: Runner) -> None:
        from .. import metrics
        from ..config import load_config
        from .batcher import AsyncBatcher, BlockingBatcher
        from .batching import resolve_policy

        self._instance = runner.runnable_class(**runner.runnable_init_params)
        config = load_config().runner(runner.name)
        self._blocking: dict[str, BlockingBatcher] = {}
        self._async: dict[str, AsyncBatcher] = {}
        for name, method in runner.runner_methods.items():
            policy = resolve_policy(method, config)
            if policy is None:
                continue
            bound = getattr(self._instance, name)
            histogram = metrics.batch_size_histogram(runner.name, name)
            self._blocking[name] = BlockingBatcher(bound, policy, histogram=histogram)
            self._async[name] = AsyncBatcher(
                partial(_in_thread, bound), policy, histogram=histogram
            )

    def run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any:
        batcher = self._blocking.get(method.name)
        if batcher is not None:
            return batcher.call(args, kwargs)
        return getattr(self._instance, method.name)(*args, **kwargs)

    async def async_run_method(self, method: RunnerMethod, args: tuple, kwargs: dict) -> Any:
        batcher = self._async.get(method.name)
        if batcher is not None:
            return await batcher.call(args, kwargs)
        return await _in_thread(getattr(self._instance, method.name), *args, **kwargs)

    def close(self) -> None:
        self._instance = None


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


async def _in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    # Model code is synchronous and may be slow: keep it off the event loop.
    import anyio.to_thread

    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))


class RunnerMethod:
    """One runner method: ``runner.predict.run(x)`` or ``await runner.predict.async_run(x)``."""

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
        return self.runner._handle.run_method(self, args, kwargs)

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        return await self.runner._handle.async_run_method(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<RunnerMethod {self.runner.name}.{self.name} batchable={self.config.batchable}>"


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
            method_name: RunnerMethod(
                self,
                method_name,
                config,
                method_configs.get(method_name, {}).get("max_batch_size", max_batch_size),
                method_configs.get(method_name, {}).get("max_latency_ms", max_latency_ms),
            )
            for method_name, config in methods.items()
        }
        self._handle: RunnerHandle = _UninitializedHandle(self.name)

    @property
    def runner_methods(self) -> dict[str, RunnerMethod]:
        return dict(self._methods)

    def __getattr__(self, item: str) -> RunnerMethod:
        # Only reached for names that are not regular attributes.
        methods = self.__dict__.get("_methods")
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
        return not isinstance(self._handle, _UninitializedHandle)

    def init_local(self, quiet: bool = False) -> None:
        """Run this runner inside the current process; meant for debugging and tests."""
        if not quiet:
            logger.warning(
                "runner %r runs in this process: init_local() is for debugging", self.name
            )
        self._set_handle(LocalRunnerHandle(self))

    def _set_handle(self, handle: RunnerHandle) -> None:
        self._handle.close()
        self._handle = handle

    def destroy(self) -> None:
        """Release whatever the handle holds (the model, connections); calls fail afterwards."""
        self._set_handle(_UninitializedHandle(self.name))

    def __repr__(self) -> str:
        return f"<Runner {self.name} runnable={self.runnable_class.__name__}>"
