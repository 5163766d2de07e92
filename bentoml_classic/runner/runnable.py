"""``Runnable``: the user-facing unit of inference code that a runner process hosts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RunnableMethodConfig:
    """How a runnable method may be called: batching is only legal where ``batchable`` is set."""

    batchable: bool = False
    batch_dim: int | tuple[int, int] = 0
    input_spec: Any = None
    output_spec: Any = None

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
        config = RunnableMethodConfig(batchable, batch_dim, input_spec, output_spec)

        def mark(func: F) -> F:
            func.__bentoml_runnable_method__ = config  # type: ignore[attr-defined]
            return func

        return mark(meth) if meth is not None else mark

    @classmethod
    def add_method(cls, func: Callable[..., Any], name: str, config: RunnableMethodConfig) -> None:
        """Attach a method after class creation: framework adapters build runnables this way.

        The config is kept on the class, not on ``func``, because adapters may register one
        function under several names with different configs.
        """
        setattr(cls, name, func)
        cls.bentoml_runnable_methods__ = {**cls.bentoml_runnable_methods__, name: config}
