"""``depends()`` and ``Service.all_services()``: the graph found from the API functions."""

from __future__ import annotations

import pytest

import bentoml_classic as bentoml
from bentoml_classic.composition.graph import ServiceGraph, ServiceNode
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.io import JSON
from bentoml_classic.runner import Runnable, Runner


def service(name: str, *handles: object, runners: list[Runner] | None = None) -> bentoml.Service:
    """A service whose one API refers to each of ``handles`` through its closure."""
    svc = bentoml.Service(name, runners=runners)

    @svc.api(input=JSON(), output=JSON())
    def call(value: object) -> object:
        return [handle for handle in handles]

    return svc


class Echo(Runnable):
    @Runnable.method
    def echo(self, value: object) -> object:
        return value


def test_a_chain_of_any_length_is_found_in_order() -> None:
    last = service("last")
    middle = service("middle", bentoml.depends(last))
    first = service("first", bentoml.depends(middle))
    assert list(first.all_services()) == ["first", "middle", "last"]
    assert first.all_services()["last"] is last


def test_a_diamond_lists_the_shared_dependency_once() -> None:
    shared = service("shared")
    left = service("left", bentoml.depends(shared))
    right = service("right", bentoml.depends(shared))
    top = service("top", bentoml.depends(left), bentoml.depends(right))
    assert list(top.all_services()) == ["top", "left", "right", "shared"]


def test_the_graph_as_data_names_edges_and_runners_once() -> None:
    runner = Runner(Echo, name="echo_runner")
    shared = service("shared", runners=[runner])
    left = service("left", bentoml.depends(shared), runners=[runner])
    top = service("top", bentoml.depends(left), bentoml.depends(shared))
    graph = top.graph()
    assert graph == ServiceGraph(
        entry="top",
        services=(
            ServiceNode("top", ("left", "shared"), ()),
            ServiceNode("left", ("shared",), ("echo_runner",)),
            ServiceNode("shared", (), ("echo_runner",)),
        ),
    )
    assert graph.runner_names() == ("echo_runner",)
    assert [node.name for node in graph.dependencies] == ["left", "shared"]


shared_by_module = bentoml.Service("by_module")
by_module = bentoml.depends(shared_by_module)


def helper_that_calls(value: object) -> object:
    return by_module.api.run(value)


def test_each_service_is_deeper_than_every_service_that_calls_it() -> None:
    """The order services stop in (``ServiceGraph.depth``): breadth-first finds ``b`` before
    ``a`` here, although ``a`` calls ``b``."""
    graph = ServiceGraph(
        entry="top",
        services=(
            ServiceNode("top", ("b", "a"), ()),
            ServiceNode("b", (), ()),
            ServiceNode("a", ("b", "c"), ()),
            ServiceNode("c", ("b",), ()),
        ),
    )
    assert [graph.depth(node.name) for node in graph.services] == [0, 3, 1, 2]


def test_a_global_handle_used_through_a_module_function_is_found() -> None:
    svc = bentoml.Service("through_helper")

    @svc.api(input=JSON(), output=JSON())
    def call(value: object) -> object:
        return helper_that_calls(value)

    assert list(svc.all_services()) == ["through_helper", "by_module"]
    assert svc.dependencies() == [shared_by_module]


attribute_named_like_a_handle = bentoml.depends(bentoml.Service("named_by_attribute"))


def test_an_attribute_named_like_a_global_handle_is_no_edge() -> None:
    svc = bentoml.Service("reads_an_attribute")
    holder = type("Holder", (), {"attribute_named_like_a_handle": 1})()

    @svc.api(input=JSON(), output=JSON())
    def call(value: object) -> object:
        import json  # an imported name is no global read either

        return [holder.attribute_named_like_a_handle, json.dumps(value)]

    assert list(svc.all_services()) == ["reads_an_attribute"]
    reads = bentoml.Service("reads_the_global")

    @reads.api(input=JSON(), output=JSON())
    def use(value: object) -> object:
        return [attribute_named_like_a_handle for _ in range(1)]  # in a comprehension

    assert list(reads.all_services()) == ["reads_the_global", "named_by_attribute"]


def test_a_service_without_dependencies_is_its_own_graph() -> None:
    alone = service("alone")
    assert alone.all_services() == {"alone": alone}
    assert alone.graph().dependencies == ()


def test_a_cycle_is_an_error_that_names_it() -> None:
    a = bentoml.Service("a")
    b = bentoml.Service("b")
    to_a, to_b = bentoml.depends(a), bentoml.depends(b)

    @a.api(input=JSON(), output=JSON())
    def call_b(value: object) -> object:
        return to_b.call_a.run(value)

    @b.api(input=JSON(), output=JSON())
    def call_a(value: object) -> object:
        return to_a.call_b.run(value)

    with pytest.raises(InvalidArgument, match=r"cycle: a -> b -> a"):
        a.all_services()


def test_two_services_with_one_name_are_an_error_that_names_it() -> None:
    one, other = service("twin"), service("twin")
    top = service("top", bentoml.depends(one), bentoml.depends(other))
    with pytest.raises(InvalidArgument, match="two services are named 'twin'"):
        top.all_services()


def test_a_dependency_named_like_a_runner_is_an_error() -> None:
    clash = service("echo_runner")
    top = service("top", bentoml.depends(clash), runners=[Runner(Echo, name="echo_runner")])
    with pytest.raises(InvalidArgument, match=r"\['echo_runner'\].*name of a runner"):
        top.all_services()


def test_depends_takes_a_service_and_its_handle_lists_the_apis() -> None:
    with pytest.raises(InvalidArgument, match=r"takes a bentoml\.Service"):
        bentoml.depends("preprocess")
    handle = bentoml.depends(service("target"))
    assert handle.call.name == "call"
    with pytest.raises(AttributeError, match=r"no API 'missing'; it has \['call'\]"):
        _ = handle.missing
