"""``Runnable``: the user-facing unit of inference code that a runner process hosts."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ..exceptions import InvalidArgument

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RunnableMethodConfig:
    """How a runnable method may be called: batching is only legal where ``batchable`` is set.

    ``stream`` is set for a generator function (sync or async): its items reach the caller one
    by one (``runner.x.async_stream()``), and it is never batched, since a batch's callers
    could not share the items of one generator.
    """

    batchable: bool = False
    batch_dim: int | tuple[int, int] = 0
    input_spec: Any = None
    output_spec: Any = None
    stream: bool = False

    @property
    def input_batch_dim(self) -> int:
        return self.batch_dim[0] if isinstance(self.batch_dim, tuple) else self.batch_dim

    @property
    def output_batch_dim(self) -> int:
        return self.batch_dim[1] if isinstance(self.batch_dim, tuple) else self.batch_dim


class Runnable:
    """Subclass this and decorate methods with ``@Runnable.method`` to make a custom runner.

    ``SUPPORTED_RESOURCES`` and ``SUPPORTS_CPU_MULTI_THREADING`` tell the process manager how many
    workers to start and which thread-count variables to set before the framework is imported.
    """

    SUPPORTED_RESOURCES: ClassVar[tuple[str, ...]] = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING: ClassVar[bool] = False

    bentoml_runnable_methods__: ClassVar[dict[str, RunnableMethodConfig]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Inherited methods first (as their classes registered them), then this class's own
        # decorated ones, so that a subclass can add or override methods.
        methods: dict[str, RunnableMethodConfig] = {}
        for base in reversed(cls.__mro__[1:]):
            methods.update(vars(base).get("bentoml_runnable_methods__", {}))
        for attr_name, attr in vars(cls).items():
            config = getattr(attr, "__bentoml_runnable_method__", None)
            if isinstance(config, RunnableMethodConfig):
                methods[attr_name] = config
        cls.bentoml_runnable_methods__ = methods

    @staticmethod
    def method(
        meth: F | None = None,
        *,
        batchable: bool = False,
        batch_dim: int | tuple[int, int] = 0,
        input_spec: Any = None,
        output_spec: Any = None,
    ) -> Any:
        """Mark a method as callable through a runner; usable bare or with arguments."""

        def mark(func: F) -> F:
            config = RunnableMethodConfig(
                batchable, batch_dim, input_spec, output_spec, stream=is_generator(func)
            )
            check_method_config(func, config)
            func.__bentoml_runnable_method__ = config  # type: ignore[attr-defined]
            return func

        return mark(meth) if meth is not None else mark

    @classmethod
    def add_method(cls, func: Callable[..., Any], name: str, config: RunnableMethodConfig) -> None:
        """Attach a method after class creation: framework adapters build runnables this way.

        The config is kept on the class, not on ``func``, because adapters may register one
        function under several names with different configs.
        """
        if is_generator(func) and not config.stream:
            config = dataclasses.replace(config, stream=True)
        check_method_config(func, config)
        setattr(cls, name, func)
        cls.bentoml_runnable_methods__ = {**cls.bentoml_runnable_methods__, name: config}


def is_generator(func: Callable[..., Any]) -> bool:
    """Whether calling ``func`` makes a generator (sync or async) rather than a result."""
    return inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)


def check_method_config(func: Callable[..., Any], config: RunnableMethodConfig) -> None:
    if config.batchable and config.stream:
        name = getattr(func, "__qualname__", repr(func))
        raise InvalidArgument(
            f"{name} is a generator function, which cannot be batchable: the calls of a batch "
            "would have to share one stream of items. Declare it with batchable=False (the "
            "default) and call it with runner.<method>.async_stream(...)"
        )
