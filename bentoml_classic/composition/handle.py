"""``depends(service)``: a handle whose attributes are another service's APIs.

The handle does no work itself. Each process that serves a graph attaches a transport (a
``RunnerHandle``: the same seam runners use) to every dependency, by service name: a client of
the dependency's workers in production (``remote.py``), the dependency's functions in this
process in development and ``init_local()`` (``local.py``). Calls made before anything was
attached run in this process, so a dependency can be tried in a notebook as it is.

Errors are renamed on the way back: the runner protocol's clients speak of runners and methods,
a caller of a dependency thinks in services and APIs.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from ..exceptions import (
    BentoMLException,
    GatewayTimeout,
    InvalidArgument,
    RunnerError,
    ServiceUnavailable,
)
from ..runner.handle import RunnerHandle
from ..running_loop import running_loop_or_none


class ServiceLike(Protocol):
    """What a handle needs of a ``Service`` (which imports this module, not the other way)."""

    name: str
    apis: dict[str, Any]


_transports: dict[str, RunnerHandle] = {}
_lock = threading.Lock()

#: whether the API now running awaits its dependencies (an ``async def`` one) or calls them
#: plainly; None outside any API: then a running event loop in this thread means it awaits
_caller_awaits: ContextVar[bool | None] = ContextVar("bentoml_caller_awaits", default=None)


@contextmanager
def calls_from(awaits: bool) -> Iterator[None]:
    """Run the body as an API that ``await``s its dependencies' calls (``awaits``) or not.

    A sync API function may run on its event loop's thread (in a greenlet), where a running
    loop says nothing about whether the caller can await: the API's own kind decides."""
    token = _caller_awaits.set(awaits)
    try:
        yield
    finally:
        _caller_awaits.reset(token)


def attach_transport(service_name: str, transport: RunnerHandle) -> None:
    """Send this process's calls to ``service_name``'s APIs through ``transport`` from now on."""
    with _lock:
        previous = _transports.pop(service_name, None)
        _transports[service_name] = transport
    if previous is not None:
        previous.close()


def detach_transport(service_name: str) -> None:
    with _lock:
        previous = _transports.pop(service_name, None)
    if previous is not None:
        previous.close()


def attached_transport(service_name: str) -> RunnerHandle | None:
    return _transports.get(service_name)


def _transport_for(service: ServiceLike) -> RunnerHandle:
    transport = _transports.get(service.name)
    if transport is not None:
        return transport
    from .local import LocalServiceHandle

    with _lock:
        transport = _transports.get(service.name)
        if transport is None:
            transport = _transports[service.name] = LocalServiceHandle(service)
    return transport


def renamed(error: BentoMLException, service: str, api: str) -> BentoMLException:
    """A runner client's error, told in terms of the dependency's service and API."""
    if isinstance(error, ServiceUnavailable):
        return ServiceUnavailable(
            f"service {service!r} is unavailable; retry shortly",
            detail={"service": service, "api": api},
        )
    if isinstance(error, GatewayTimeout):
        return GatewayTimeout(
            f"service {service!r} API {api!r} did not answer in time",
            detail={"service": service, "api": api},
        )
    if isinstance(error, RunnerError):
        detail = error.detail if isinstance(error.detail, dict) else {}
        remote_type = str(detail.get("exception", "Exception"))
        if error.http_status != 500:  # the dependency's own message, as it raised it
            message = error.message.split(": ", 1)[-1]
        else:
            message = error.message.replace(
                f"runner {service!r} method {api!r}", f"service {service!r} API {api!r}"
            ).replace("sent to the runner", "sent to the service")
        return DependencyError(
            remote_type,
            message,
            detail={"exception": remote_type, "service": service, "api": api},
            status=error.http_status,
        )
    return error


class DependencyError(RunnerError):
    """A dependency's API raised: its own status for a ``BentoMLException`` (and its type and
    message, which it chose to show), otherwise a 500 naming the type (the message stays in
    the logs, as for any 500; ``http/errors.py``)."""

    def __init__(self, remote_type: str, message: str, *, detail: Any, status: int) -> None:
        super().__init__(message, detail=detail, status=status)
        self.remote_type = remote_type

    @property
    def error_type(self) -> str:
        return self.remote_type if self.http_status != 500 else "RunnerError"


class DependencyAPI:
    """One API of a dependency: ``run`` (from sync code), ``async_run``, and for an API whose
    function yields, ``stream`` and ``async_stream``."""

    def __init__(self, service: ServiceLike, name: str) -> None:
        self._service = service
        self.name = name

    def run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return _transport_for(self._service).run_method(self.name, args, kwargs)
        except BentoMLException as exc:
            raise renamed(exc, self._service.name, self.name) from None

    async def async_run(self, *args: Any, **kwargs: Any) -> Any:
        transport = _transport_for(self._service)
        try:
            return await transport.async_run_method(self.name, args, kwargs)
        except BentoMLException as exc:
            raise renamed(exc, self._service.name, self.name) from None

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        transport = _transport_for(self._service)
        try:
            yield from transport.stream_method(self.name, args, kwargs)
        except BentoMLException as exc:
            raise renamed(exc, self._service.name, self.name) from None

    async def async_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        transport = _transport_for(self._service)
        try:
            async for item in transport.async_stream_method(self.name, args, kwargs):
                yield item
        except BentoMLException as exc:
            raise renamed(exc, self._service.name, self.name) from None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Class services' style: ``await self.dep.api(...)`` from an ``async def`` API,
        ``self.dep.api(...)`` from a sync one (a stream: ``async for`` / ``for``). The arguments
        are bound to the API's parameters here, so a wrong call fails in the caller, naming
        the API, before anything crosses to the dependency."""
        api = self._service.apis[self.name]
        func = inspect.unwrap(api.func)
        args, kwargs = _bound(api, self._service.name, args, kwargs)
        awaits = _caller_awaits.get()
        if awaits is None:
            awaits = running_loop_or_none() is not None
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            return self.async_stream(*args, **kwargs) if awaits else self.stream(*args, **kwargs)
        return self.async_run(*args, **kwargs) if awaits else self.run(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<DependencyAPI {self._service.name}.{self.name}>"


def _bound(
    api: Any, service: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` and ``kwargs`` as ``api``'s function would take them (its Context aside)."""
    signature = inspect.signature(api.func)
    ctx_param = getattr(api, "ctx_param", None)
    if ctx_param is not None:
        signature = signature.replace(
            parameters=[p for p in signature.parameters.values() if p.name != ctx_param]
        )
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"service {service!r} API {api.name!r}{signature}: {exc}") from None
    return bound.args, bound.kwargs


class DependencyHandle:
    """What ``depends(service)`` returns: ``handle.<api>`` is a ``DependencyAPI``."""

    def __init__(self, service: ServiceLike) -> None:
        self._bentoml_service = service

    def __getattr__(self, name: str) -> DependencyAPI:
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._bentoml_service.apis:
            raise AttributeError(
                f"service {self._bentoml_service.name!r} has no API {name!r}; it has "
                f"{sorted(self._bentoml_service.apis)}"
            )
        api = DependencyAPI(self._bentoml_service, name)
        self.__dict__[name] = api  # found by attribute lookup from now on
        return api

    def __repr__(self) -> str:
        service = self._bentoml_service
        return f"<DependencyHandle {service.name} apis={sorted(service.apis)}>"


def depends(service: Any) -> DependencyHandle:
    """A handle on ``service``'s APIs: ``handle.<api>.run(...)``, ``await
    handle.<api>.async_run(...)``.

    A service whose API functions (or lifecycle hooks, or the functions of their module they
    call) use the handle depends on ``service``: ``Service.all_services()`` finds it there, and
    ``bentoml serve`` starts ``service`` in processes of its own."""
    if not (isinstance(getattr(service, "name", None), str) and hasattr(service, "apis")):
        raise InvalidArgument(f"depends() takes a bentoml.Service, got {service!r}")
    return DependencyHandle(service)
