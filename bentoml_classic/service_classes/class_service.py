"""``ClassService``: a ``@bentoml.service`` class compiled to a classic ``Service``.

Each ``@bentoml.api`` method becomes an ``InferenceAPI`` whose input and output descriptors are
inferred from the method's type hints (``io/typed``), and whose function calls the method on the
class's one instance in this process (``adapters.py``). The instance is made by a startup hook,
so every worker makes it before it serves. From there on the service is a ``Service`` like any
other: the loader, the graph, the workers, the protocol between services, probes, errors and
``/docs.json`` do not know it was a class.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from ..classic_service import (
    _API_NAME_RE,
    InferenceAPI,
    Service,
    _normalise_route,
)
from ..composition.handle import DependencyHandle
from ..exceptions import InvalidArgument
from .adapters import adapter
from .instance import InstanceHolder
from .options import ApiOptions, ServiceOptions

#: the attribute ``@bentoml.api`` sets on a method
API_MARK = "__bentoml_api__"


def _api_methods(cls: type) -> Iterator[tuple[Callable[..., Any], ApiOptions]]:
    """The class's ``@bentoml.api`` methods, in the order the class (base classes first)
    defines them; an override without the decorator is not an API."""
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        names.update(dict.fromkeys(vars(klass)))
    for name in names:
        static = inspect.getattr_static(cls, name, None)
        options = getattr(static, API_MARK, None) or getattr(
            getattr(static, "__func__", None), API_MARK, None
        )
        if not isinstance(options, ApiOptions):
            continue
        if isinstance(static, staticmethod | classmethod):
            raise InvalidArgument(
                f"API method {cls.__qualname__}.{name!r} is a {type(static).__name__}: an API "
                "is a plain method, called on the class's instance"
            )
        yield getattr(cls, name), options


class ClassService(Service):
    """The ``Service`` of a ``@bentoml.service`` class; ``inner`` is the class itself."""

    def __init__(self, inner: type, name: str, options: ServiceOptions) -> None:
        super().__init__(name)
        self.inner = inner
        self.options = options
        self._instance = InstanceHolder(inner)
        self.startup_hooks.append(self._instance.create)
        for method, api_options in _api_methods(inner):
            self._add_api(method, api_options)
        if not self.apis:
            raise InvalidArgument(
                f"service class {inner.__qualname__!r} has no API: decorate at least one of its "
                "methods with @bentoml.api"
            )
        self.__doc__ = inner.__doc__

    def _add_api(self, method: Callable[..., Any], options: ApiOptions) -> None:
        api_name = options.name if options.name is not None else method.__name__
        where = f"{self.inner.__qualname__}.{method.__name__}"
        if not isinstance(api_name, str) or not _API_NAME_RE.fullmatch(api_name):
            raise InvalidArgument(f"API method {where!r}: invalid API name {api_name!r}")
        if api_name in self.apis:
            raise InvalidArgument(f"API method {where!r}: API name {api_name!r} is taken")
        params = list(inspect.signature(method).parameters.values())
        if not params or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise InvalidArgument(f"API method {where!r} must take self first")
        route = _normalise_route(options.route if options.route is not None else api_name, api_name)
        clash = next((a for a in self.apis.values() if a.route == route), None)
        if clash is not None:
            raise InvalidArgument(
                f"API method {where!r}: route '/{route}' is already used by API {clash.name!r}"
            )
        # here, not at the top: `import bentoml` must not load every descriptor io/typed renders
        # with, or the API workers of a classic numpy service would carry JSON, Image, ...
        from ..io.typed import input_for, output_for

        contract = input_for(method)  # a SignatureError names the method and the parameter
        func = adapter(self._instance, method, options)
        self.apis[api_name] = InferenceAPI(
            name=api_name,
            func=func,
            input=contract,
            output=output_for(method),
            route=route,
            doc=inspect.getdoc(method),
            is_async=inspect.iscoroutinefunction(func),
            ctx_param=contract.context_param,
            input_as_kwargs=True,
        )

    def dependencies(self) -> list[Service]:
        """The services of the class's ``bentoml.depends(...)`` attributes, then those its
        methods reach through module-level handles (a classic Service's way)."""
        found: dict[int, Service] = {}
        for klass in reversed(self.inner.__mro__):
            for value in vars(klass).values():
                if isinstance(value, DependencyHandle):
                    service = value._bentoml_service
                    found.setdefault(id(service), service)  # type: ignore[arg-type]
        for service in super().dependencies():
            found.setdefault(id(service), service)
        return list(found.values())

    @property
    def instance(self) -> Any:
        """The class's instance in this process (made now if no worker hook made it yet)."""
        return self._instance.get()

    def __repr__(self) -> str:
        return f"<ClassService {self.name} class={self.inner.__qualname__} apis={list(self.apis)}>"
