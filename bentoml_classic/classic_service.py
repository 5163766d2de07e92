"""``Service`` and ``InferenceAPI``: what a user declares, independent of how it is served."""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .composition.graph import ServiceGraph, describe, direct_dependencies, walk
from .context import Context
from .exceptions import InvalidArgument
from .runner.runner import Runner
from .tag import validate_name

if TYPE_CHECKING:
    from .io.base import IODescriptor
    from .models.model import Model

F = TypeVar("F", bound=Callable[..., Any])

_API_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ROUTE_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.~-]+$")
#: routes the server answers itself; an API may not shadow them
RESERVED_ROUTES = frozenset({"", "healthz", "livez", "readyz", "metrics", "docs.json", "docs"})
_CONTEXT_PARAM_NAMES = ("ctx", "context")


@dataclass(frozen=True)
class MountedApp:
    """An ASGI or WSGI application served beside the APIs under ``path``."""

    app: Any
    path: str
    name: str | None
    #: "asgi", or "wsgi": adapted to ASGI when the server's app is built
    kind: str


@dataclass(frozen=True)
class InferenceAPI:
    name: str
    func: Callable[..., Any]
    input: IODescriptor[Any]
    output: IODescriptor[Any]
    route: str
    doc: str | None
    is_async: bool
    #: keyword under which the function wants the request Context, None if it takes none
    ctx_param: str | None
    #: the input value is a dict passed as keyword arguments (Multipart: one per part)
    input_as_kwargs: bool = False


def _normalise_route(route: str, api_name: str) -> str:
    if not isinstance(route, str):
        raise InvalidArgument(f"route of API {api_name!r} must be a string, got {route!r}")
    path = route.strip("/")
    segments = path.split("/")
    if path in RESERVED_ROUTES:
        raise InvalidArgument(
            f"route {route!r} of API {api_name!r} is reserved for the server: "
            f"{sorted('/' + r for r in RESERVED_ROUTES)}"
        )
    if not all(_ROUTE_SEGMENT_RE.fullmatch(segment) for segment in segments) or any(
        segment in (".", "..") for segment in segments
    ):
        raise InvalidArgument(
            f"invalid route {route!r} for API {api_name!r}: use '/'-separated segments of "
            "letters, digits, '-', '_', '.' or '~'"
        )
    return path


def _mount_path(path: str, app: Any) -> str:
    if not callable(app):
        raise InvalidArgument(f"cannot mount {app!r}: an ASGI or WSGI application is callable")
    if not isinstance(path, str) or not (path == "" or path.startswith("/")):
        raise InvalidArgument(f"mount path must be a string that starts with '/', got {path!r}")
    return path


def _find_context_param(
    func: Callable[..., Any], input_names: frozenset[str] = frozenset()
) -> tuple[str | None, list[inspect.Parameter]]:
    """Split the function's parameters into the Context one (if any) and the others.

    ``input_names`` are parameters the input fills by name (Multipart parts): a part called
    ``ctx`` is a part, not the Context, unless annotated as one.
    """
    params = list(inspect.signature(func).parameters.values())
    ctx_param = None
    for param in params:
        annotation = param.annotation
        named_like_context = param.name in _CONTEXT_PARAM_NAMES and param.name not in input_names
        annotated_as_context = annotation is Context or (
            isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "Context"
        )
        if annotated_as_context or (named_like_context and annotation is inspect.Parameter.empty):
            ctx_param = param.name
            break
    return ctx_param, [p for p in params if p.name != ctx_param]


def _check_context_kind(func: Callable[..., Any], api_name: str, ctx_param: str | None) -> None:
    if ctx_param is None:
        return
    kind = inspect.signature(func).parameters[ctx_param].kind
    if kind is inspect.Parameter.POSITIONAL_ONLY:
        raise InvalidArgument(f"API {api_name!r}: the Context parameter cannot be positional-only")


def _check_signature(func: Callable[..., Any], api_name: str) -> str | None:
    ctx_param, others = _find_context_param(func)
    _check_context_kind(func, api_name, ctx_param)
    positional = [
        p
        for p in others
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if not positional or len(required) > 1:
        raise InvalidArgument(
            f"API function {api_name!r} must take exactly one input argument "
            f"(plus an optional `ctx: bentoml.Context`), but its signature is "
            f"{inspect.signature(func)}"
        )
    return ctx_param


def _check_keyword_signature(
    func: Callable[..., Any], api_name: str, part_names: Sequence[str]
) -> str | None:
    """A Multipart API gets one keyword argument per part: its parameters must be those names.

    Checked here, at decoration time, so a typo in a part or parameter name fails when the service
    is imported rather than as a 500 on the first request.
    """
    names = frozenset(part_names)
    ctx_param, others = _find_context_param(func, names)
    _check_context_kind(func, api_name, ctx_param)
    if ctx_param is not None and ctx_param in names:
        raise InvalidArgument(
            f"API {api_name!r}: part {ctx_param!r} has the name of the Context parameter; "
            "rename the part or the parameter"
        )
    kind = inspect.Parameter
    positional_only = [p.name for p in others if p.kind is kind.POSITIONAL_ONLY]
    takes_any = any(p.kind is kind.VAR_KEYWORD for p in others)
    params = [p.name for p in others if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)]
    missing = [] if takes_any else [n for n in part_names if n not in params]
    extra = [n for n in params if n not in names]
    if positional_only or missing or extra:
        problems = []
        if missing:
            problems.append(f"no parameter for part(s) {missing}")
        if extra:
            problems.append(f"parameter(s) {extra} are not parts")
        if positional_only:
            problems.append(f"parameter(s) {positional_only} are positional-only")
        raise InvalidArgument(
            f"API function {api_name!r} takes each Multipart part as a keyword argument, so its "
            f"parameters must be exactly the parts {list(part_names)} (plus an optional "
            f"`ctx: bentoml.Context`): {'; '.join(problems)}; its signature is "
            f"{inspect.signature(func)}"
        )
    return ctx_param


def _keyword_inputs(descriptor: IODescriptor[Any]) -> list[str] | None:
    """The part names of a Multipart input (passed as keywords), None for any other descriptor.

    A Multipart exists only once its module is loaded: a service without one never loads it
    (nor python-multipart's parser behind it) in any of its processes."""
    multipart = sys.modules.get("bentoml_classic.io.multipart")
    if multipart is None or not isinstance(descriptor, multipart.Multipart):
        return None
    return list(descriptor.descriptors)


class Service:
    """A named set of inference APIs and the runners they call."""

    def __init__(
        self,
        name: str,
        *,
        runners: Sequence[Runner] | None = None,
        models: Sequence[Model] | None = None,
    ) -> None:
        self.name = validate_name(name, "service name")
        self.runners = list(runners or [])
        self.models = list(models or [])
        self.apis: dict[str, InferenceAPI] = {}
        self.startup_hooks: list[Callable[[Context], Any]] = []
        self.shutdown_hooks: list[Callable[[Context], Any]] = []
        self.deployment_hooks: list[Callable[[], Any]] = []
        #: mounted with mount_asgi_app / mount_wsgi_app, in that order
        self.mount_apps: list[MountedApp] = []
        #: (middleware class, options) from add_asgi_middleware; the first added is outermost
        self.middlewares: list[tuple[Callable[..., Any], dict[str, Any]]] = []
        seen: dict[str, Runner] = {}
        for runner in self.runners:
            if not isinstance(runner, Runner):
                raise InvalidArgument(
                    f"Service {self.name!r}: runners must be bentoml.Runner objects, got {runner!r}"
                )
            if runner.name in seen and seen[runner.name] is not runner:
                raise InvalidArgument(
                    f"Service {self.name!r} has two runners named {runner.name!r}: "
                    "give one another name with to_runner(name=...)"
                )
            seen[runner.name] = runner
        self.runners = list(seen.values())

    def api(
        self,
        *,
        input: IODescriptor[Any],
        output: IODescriptor[Any],
        name: str | None = None,
        route: str | None = None,
        doc: str | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function as ``POST /{route or name}``."""
        from .io.base import IODescriptor

        def register(func: F) -> F:
            api_name = name if name is not None else func.__name__
            if not isinstance(api_name, str) or not _API_NAME_RE.fullmatch(api_name):
                raise InvalidArgument(
                    f"invalid API name {api_name!r}: use a Python identifier "
                    "(letters, digits and '_', not starting with a digit)"
                )
            for role, descriptor in (("input", input), ("output", output)):
                if not isinstance(descriptor, IODescriptor):
                    raise InvalidArgument(
                        f"API {api_name!r}: {role} must be an IO descriptor instance such as "
                        f"bentoml.io.NumpyNdarray(), got {descriptor!r}"
                    )
            if api_name in self.apis:
                raise InvalidArgument(
                    f"Service {self.name!r} already has an API named {api_name!r}"
                )
            api_route = _normalise_route(route if route is not None else api_name, api_name)
            clash = next((a for a in self.apis.values() if a.route == api_route), None)
            if clash is not None:
                raise InvalidArgument(
                    f"API {api_name!r}: route '/{api_route}' is already used by API {clash.name!r}"
                )
            part_names = _keyword_inputs(input)
            if part_names is None:
                ctx_param = _check_signature(func, api_name)
            else:
                ctx_param = _check_keyword_signature(func, api_name, part_names)
            self.apis[api_name] = InferenceAPI(
                name=api_name,
                func=func,
                input=input,
                output=output,
                route=api_route,
                doc=doc if doc is not None else inspect.getdoc(func),
                is_async=inspect.iscoroutinefunction(func),
                ctx_param=ctx_param,
                input_as_kwargs=part_names is not None,
            )
            return func

        return register

    def on_startup(self, func: F) -> F:
        """Run ``func(ctx)`` in every API worker before it serves; may be async."""
        self.startup_hooks.append(func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Run ``func(ctx)`` in every API worker after it stopped serving; may be async."""
        self.shutdown_hooks.append(func)
        return func

    def on_deployment(self, func: F) -> F:
        """Run ``func()`` once per `bentoml serve`, before any worker starts; may be async."""
        self.deployment_hooks.append(func)
        return func

    def mount_asgi_app(self, app: Any, path: str = "/", name: str | None = None) -> None:
        """Serve the ASGI application ``app`` under ``path`` beside the APIs.

        The APIs, probes, /metrics and /docs.json keep their own routes; the mounted app gets
        every other request under ``path`` (at "/", every other request), and answers it as it
        would alone: its 404s and 500s are its own.
        """
        self.mount_apps.append(MountedApp(app, _mount_path(path, app), name, "asgi"))

    def mount_wsgi_app(self, app: Any, path: str = "/", name: str | None = None) -> None:
        """Serve the WSGI application ``app`` (Flask, Django, ...) under ``path``; it runs in
        threads of its own, so that it may block. Otherwise as ``mount_asgi_app``."""
        self.mount_apps.append(MountedApp(app, _mount_path(path, app), name, "wsgi"))

    def add_asgi_middleware(self, middleware_cls: Callable[..., Any], **options: Any) -> None:
        """Wrap the server's app in ``middleware_cls(app, **options)`` (Starlette's convention).

        Middlewares see every request (APIs, probes, mounted apps) in the order they were added:
        the first added sees a request first and its response last.
        """
        if not callable(middleware_cls):
            raise InvalidArgument(
                f"Service {self.name!r}: add_asgi_middleware takes a middleware class, called "
                f"as middleware_cls(app, **options); got {middleware_cls!r}"
            )
        self.middlewares.append((middleware_cls, options))

    def dependencies(self) -> list[Service]:
        """The services this one's API functions and hooks call through ``depends()``."""
        functions = [api.func for api in self.apis.values()]
        functions += [*self.startup_hooks, *self.shutdown_hooks]
        return direct_dependencies(functions)

    def all_services(self) -> dict[str, Service]:
        """This service and every service it depends on, transitively: ``{name: service}``,
        this one first. Two services with one name, a cycle, or a dependency named like a
        runner of the graph are errors that name them."""
        found: dict[str, Service] = walk(self, _dependencies_of)
        runners = {runner.name for service in found.values() for runner in service.runners}
        clash = sorted(name for name in list(found)[1:] if name in runners)
        if clash:
            raise InvalidArgument(
                f"service(s) {clash} of the graph of {self.name!r} have the name of a runner: "
                "dependencies and runners share the runner map, give one another name"
            )
        return found

    def graph(self) -> ServiceGraph:
        """``all_services()`` as data: each service's dependencies and runners by name."""
        return describe(self.all_services(), _dependencies_of)

    def __repr__(self) -> str:
        return (
            f"<Service {self.name} apis={list(self.apis)} runners={[r.name for r in self.runners]}>"
        )


def _dependencies_of(service: Service) -> list[Service]:
    """``service.dependencies()``, as its own class defines it (a class service finds its
    dependencies among its class attributes)."""
    return service.dependencies()
