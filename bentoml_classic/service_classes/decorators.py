"""``@bentoml.service`` and ``@bentoml.api``, as the distributed-services guide writes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from ..exceptions import InvalidArgument
from .class_service import API_MARK, ClassService
from .options import ApiOptions, ServiceOptions

F = TypeVar("F", bound=Callable[..., Any])


@overload
def api(func: F, /) -> F: ...


@overload
def api(
    *,
    route: str | None = None,
    name: str | None = None,
    batchable: bool = False,
    batch_dim: int | tuple[int, int] = 0,
    max_batch_size: int = 100,
    max_latency_ms: float = 60_000,
) -> Callable[[F], F]: ...


def api(
    func: Any = None,
    /,
    *,
    route: str | None = None,
    name: str | None = None,
    batchable: bool = False,
    batch_dim: int | tuple[int, int] = 0,
    max_batch_size: int = 100,
    max_latency_ms: float = 60_000,
) -> Any:
    """Mark a method of a service class as an API: ``@bentoml.api`` or ``@bentoml.api(...)``.

    ``route`` defaults to the API's ``name``, which defaults to the method's. A ``batchable``
    API's concurrent calls in one worker are joined along ``batch_dim`` (one int, or a pair:
    input, output) into calls of at most ``max_batch_size`` rows; a call waits at most
    ``max_latency_ms`` in the queue before it is answered with a 503."""
    options = ApiOptions.from_arguments(
        name, route, batchable, batch_dim, max_batch_size, max_latency_ms
    )

    def mark(method: F) -> F:
        if not callable(method):
            raise InvalidArgument(f"@bentoml.api decorates a method, got {method!r}")
        setattr(method, API_MARK, options)
        return method

    return mark if func is None else mark(func)


@overload
def service(inner: type, /) -> ClassService: ...


@overload
def service(
    *,
    name: str | None = None,
    workers: int = 1,
    resources: dict[str, Any] | None = None,
    traffic: dict[str, Any] | None = None,
) -> Callable[[type], ClassService]: ...


def service(
    inner: type | None = None,
    /,
    *,
    name: str | None = None,
    workers: int = 1,
    resources: dict[str, Any] | None = None,
    traffic: dict[str, Any] | None = None,
) -> Any:
    """Make a class a service: ``@bentoml.service`` or ``@bentoml.service(...)``.

    The class is instantiated once in every worker process of the service, before it serves.
    ``workers``, ``traffic`` (``timeout``, ``max_concurrency``) and ``resources`` (``cpu``,
    ``gpu``; ``memory`` and ``gpu_type`` are recorded, not checked) are defaults: the
    configuration's keys for the service win over them (docs/guide/class_services.md)."""
    options = ServiceOptions.from_arguments(workers, resources, traffic)

    def build(cls: type) -> ClassService:
        if not isinstance(cls, type):
            raise InvalidArgument(f"@bentoml.service decorates a class, got {cls!r}")
        service_name = name if name is not None else cls.__name__.lower()
        return ClassService(cls, service_name, options)

    return build if inner is None else build(inner)
