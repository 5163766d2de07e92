"""The service graph as data: which services, which depends on which, which runners each uses.

``Service.all_services()`` and the serving side start from here: production builds one watcher
per service and one per runner from a ``ServiceGraph``, and another backend (Ray Serve) can
build its deployments from the same structure without importing anything of ``serving/``.

A service depends on another when one of its API functions or lifecycle hooks refers to a
``depends(...)`` handle: by a global name, a closure variable (or a tuple, list or dict held
in one), or through the module-level functions it calls (followed within the function's own
module).
"""

from __future__ import annotations

import dis
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidArgument
from .handle import DependencyHandle


@dataclass(frozen=True)
class ServiceNode:
    name: str
    #: the names of the services its APIs call, in the order they were found
    depends_on: tuple[str, ...]
    #: the names of its runners
    runners: tuple[str, ...]


@dataclass(frozen=True)
class ServiceGraph:
    """The entry service and everything it reaches; ``services`` lists the entry first, then
    the others in the order a breadth-first walk finds them."""

    entry: str
    services: tuple[ServiceNode, ...]

    @property
    def dependencies(self) -> tuple[ServiceNode, ...]:
        """Every service but the entry."""
        return self.services[1:]

    def node(self, name: str) -> ServiceNode:
        for node in self.services:
            if node.name == name:
                return node
        raise KeyError(name)

    def depth(self, name: str) -> int:
        """The longest chain of calls from the entry (0) to ``name``: a service is deeper than
        every service that calls it, so stopping them by depth stops each caller before what
        it calls (breadth-first order does not: in entry -> (b, a), a -> b, ``b`` is found
        first). The graph has no cycle (``walk`` refused it)."""
        callers = [node for node in self.services if name in node.depends_on]
        return max((self.depth(caller.name) + 1 for caller in callers), default=0)

    def runner_names(self) -> tuple[str, ...]:
        """Each runner once, however many services use it."""
        seen: dict[str, None] = {}
        for node in self.services:
            seen.update(dict.fromkeys(node.runners))
        return tuple(seen)


#: the instructions that read a name from the module's globals (``LOAD_NAME``: class bodies)
_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})


def _global_names(code: types.CodeType) -> Iterator[str]:
    """The global names ``code`` (and the functions, lambdas and comprehensions inside it)
    reads. Not ``co_names``: it also holds every attribute and imported module named, so
    ``self.pre.run(...)`` would read as a use of a global ``pre`` handle, a false edge that
    attaches a transport the service never uses (or makes a cycle that is not there)."""
    for instruction in dis.get_instructions(code):
        if instruction.opname in _GLOBAL_LOADS:
            yield instruction.argval
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _global_names(constant)


def _with_items(value: Any) -> Iterator[Any]:
    """``value``, and the items of a tuple or list or the values of a dict it is (handles kept
    together: ``DEPENDENCIES = {"pre": depends(pre), ...}``)."""
    yield value
    if isinstance(value, tuple | list):
        yield from value
    elif isinstance(value, dict):
        yield from value.values()


def _referred(func: Any, seen: set[int]) -> Iterator[Any]:
    """The objects ``func`` refers to by global name or closure, following the plain functions
    of its own module it names."""
    func = getattr(func, "__wrapped__", func)
    code = getattr(func, "__code__", None)
    if code is None or id(func) in seen:
        return
    seen.add(id(func))
    module_globals: dict[str, Any] = getattr(func, "__globals__", {})
    for cell in getattr(func, "__closure__", None) or ():
        try:
            yield from _with_items(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    for name in _global_names(code):
        if name not in module_globals:
            continue
        value = module_globals[name]
        yield from _with_items(value)
        if isinstance(value, types.FunctionType) and value.__globals__ is module_globals:
            yield from _referred(value, seen)


def direct_dependencies(functions: list[Callable[..., Any]]) -> list[Any]:
    """The services whose ``depends()`` handles ``functions`` refer to, each once."""
    found: dict[int, Any] = {}
    seen: set[int] = set()
    for func in functions:
        for value in _referred(func, seen):
            if isinstance(value, DependencyHandle):
                found.setdefault(id(value._bentoml_service), value._bentoml_service)
    return list(found.values())


def walk(entry: Any, dependencies_of: Callable[[Any], list[Any]]) -> dict[str, Any]:
    """``{name: service}`` of ``entry`` and all it reaches, breadth-first.

    Two different services with one name, or a cycle, are errors that name them."""
    found: dict[str, Any] = {entry.name: entry}
    queue = [entry]
    while queue:
        service = queue.pop(0)
        for dependency in dependencies_of(service):
            known = found.get(dependency.name)
            if known is not None and known is not dependency:
                raise InvalidArgument(
                    f"two services are named {dependency.name!r} in the graph of "
                    f"{entry.name!r}: give one another name"
                )
            if known is None:
                found[dependency.name] = dependency
                queue.append(dependency)
    cycle = _find_cycle(found, dependencies_of)
    if cycle:
        raise InvalidArgument(
            f"services depend on each other in a cycle: {' -> '.join(cycle)}; a dependency "
            "graph must have no cycle"
        )
    return found


def _find_cycle(services: dict[str, Any], dependencies_of: Callable[[Any], list[Any]]) -> list[str]:
    edges = {name: [d.name for d in dependencies_of(s)] for name, s in services.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for child in edges[name]:
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            if child not in state and (cycle := visit(child)):
                return cycle
        path.pop()
        state[name] = 2
        return []

    for name in services:
        if name not in state and (cycle := visit(name)):
            return cycle
    return []


def describe(services: dict[str, Any], dependencies_of: Callable[[Any], list[Any]]) -> ServiceGraph:
    entry = next(iter(services))
    return ServiceGraph(
        entry=entry,
        services=tuple(
            ServiceNode(
                name=name,
                depends_on=tuple(d.name for d in dependencies_of(service)),
                runners=tuple(r.name for r in service.runners),
            )
            for name, service in services.items()
        ),
    )
