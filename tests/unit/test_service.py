"""``Service`` and ``@svc.api``: names, routes, signatures, runners and lifecycle hooks.

Annotations here are evaluated (no ``from __future__ import annotations``) so that a Context
annotation reaches the service as the class itself; string annotations are tested explicitly.
"""

import inspect
from typing import Any

import pytest

import bentoml_classic as bentoml
from bentoml_classic.classic_service import RESERVED_ROUTES, InferenceAPI, Service
from bentoml_classic.context import Context
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.io.base import IODescriptor
from bentoml_classic.runner import Runnable, Runner


class Echo(IODescriptor[Any]):
    """The least an IO descriptor can be: enough for registration, never used to serve."""

    async def from_http_request(self, request: Any) -> Any:
        raise NotImplementedError

    async def to_http_response(self, obj: Any) -> Any:
        raise NotImplementedError

    def openapi_schema(self) -> dict[str, Any]:
        return {}


class Model(Runnable):
    @Runnable.method
    def predict(self, x: Any) -> Any:
        return x


def io() -> dict[str, IODescriptor[Any]]:
    return {"input": Echo(), "output": Echo()}


# --- the service -----------------------------------------------------------------------------


def test_public_export() -> None:
    assert bentoml.Service is Service


def test_new_service_is_empty() -> None:
    svc = Service("iris_classifier")
    assert svc.name == "iris_classifier"
    assert svc.apis == {}
    assert svc.runners == []
    assert svc.models == []
    assert svc.startup_hooks == []
    assert svc.shutdown_hooks == []
    assert svc.deployment_hooks == []
    assert "iris_classifier" in repr(svc)


@pytest.mark.parametrize("name", ["", "bad name", "-svc", "svc-", "a" * 64, "svc/x", None, 3])
def test_service_name_is_validated(name: Any) -> None:
    with pytest.raises(InvalidArgument, match="service name"):
        Service(name)


def test_service_name_is_lower_cased() -> None:
    assert Service("IrisClassifier").name == "irisclassifier"


def test_service_name_is_keyword_only_for_the_rest() -> None:
    with pytest.raises(TypeError):
        Service("svc", [])  # type: ignore[misc]


# --- runners ---------------------------------------------------------------------------------


def test_runners_are_kept_in_order() -> None:
    first = Runner(Model, name="first")
    second = Runner(Model, name="second")
    svc = Service("svc", runners=[first, second])
    assert svc.runners == [first, second]
    assert svc.runners[0] is first


def test_the_same_runner_twice_is_deduplicated() -> None:
    runner = Runner(Model, name="model")
    svc = Service("svc", runners=[runner, runner])
    assert svc.runners == [runner]


def test_two_runners_with_one_name_are_refused() -> None:
    with pytest.raises(InvalidArgument) as info:
        Service("svc", runners=[Runner(Model, name="model"), Runner(Model, name="model")])
    assert "'model'" in str(info.value)
    assert "'svc'" in str(info.value)


@pytest.mark.parametrize("bad", [Model, Model(), "model", None])
def test_non_runners_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidArgument, match="runners must be"):
        Service("svc", runners=[bad])


def test_runners_list_is_copied() -> None:
    runners = [Runner(Model, name="model")]
    svc = Service("svc", runners=runners)
    runners.append(Runner(Model, name="other"))
    assert [r.name for r in svc.runners] == ["model"]


# --- API registration ------------------------------------------------------------------------


def test_api_registration_records_everything() -> None:
    svc = Service("svc")
    in_desc, out_desc = Echo(), Echo()

    def predict(x: Any) -> Any:
        """Predict things.

        More detail.
        """
        return x

    returned = svc.api(input=in_desc, output=out_desc)(predict)
    assert returned is predict
    api = svc.apis["predict"]
    assert isinstance(api, InferenceAPI)
    assert api.name == "predict"
    assert api.func is predict
    assert api.input is in_desc
    assert api.output is out_desc
    assert api.route == "predict"
    assert api.doc == "Predict things.\n\nMore detail."
    assert api.is_async is False
    assert api.ctx_param is None


def test_decorator_syntax_returns_the_original_function() -> None:
    svc = Service("svc")

    @svc.api(**io())
    def classify(x: Any) -> Any:
        return ("classified", x)

    assert classify(1) == ("classified", 1)
    assert svc.apis["classify"].func is classify


def test_explicit_name_route_and_doc() -> None:
    svc = Service("svc")

    @svc.api(**io(), name="predict_v1", route="/v1/predict/", doc="explicit")
    def predict(x: Any) -> Any:
        """Docstring."""
        return x

    assert "predict" not in svc.apis
    api = svc.apis["predict_v1"]
    assert api.route == "v1/predict"
    assert api.doc == "explicit"


def test_doc_is_none_without_docstring() -> None:
    svc = Service("svc")

    @svc.api(**io())
    def predict(x: Any) -> Any:
        return x

    assert svc.apis["predict"].doc is None


def test_async_api() -> None:
    svc = Service("svc")

    @svc.api(**io())
    async def predict(x: Any) -> Any:
        return x

    assert svc.apis["predict"].is_async is True
    assert inspect.iscoroutinefunction(svc.apis["predict"].func)


@pytest.mark.parametrize("name", ["predict", "_private", "Predict2", "a_b_c"])
def test_valid_api_names(name: str) -> None:
    svc = Service("svc")
    svc.api(**io(), name=name)(lambda x: x)
    assert svc.apis[name].route == name


@pytest.mark.parametrize("name", ["", "2predict", "pre-dict", "pre dict", "v1/predict", "a.b", 3])
def test_invalid_api_names(name: Any) -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument, match="invalid API name"):
        svc.api(**io(), name=name)(lambda x: x)
    assert svc.apis == {}


def test_lambda_needs_an_explicit_name() -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument, match="<lambda>"):
        svc.api(**io())(lambda x: x)


# Regression: an API name with a trailing newline ("predict\n") was accepted, because the name
# pattern ended in `$` and was applied with `.match`; names are now matched whole.
def test_api_name_with_trailing_newline_is_refused() -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument):
        svc.api(**io(), name="predict\n", route="predict")(lambda x: x)


# --- routes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("/v1/predict/", "v1/predict"),
        ("v1/predict", "v1/predict"),
        ("/predict", "predict"),
        ("predict/", "predict"),
        ("//a/b//", "a/b"),
        ("/a-b/c_d/e.f/~g", "a-b/c_d/e.f/~g"),
    ],
)
def test_route_normalisation(route: str, expected: str) -> None:
    svc = Service("svc")
    svc.api(**io(), name="api", route=route)(lambda x: x)
    assert svc.apis["api"].route == expected


@pytest.mark.parametrize(
    "route", ["/", "", "//", "/healthz", "livez", "/readyz/", "/metrics", "/docs.json", "/docs"]
)
def test_reserved_routes_are_refused(route: str) -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument, match="reserved") as info:
        svc.api(**io(), name="api", route=route)(lambda x: x)
    assert "'api'" in str(info.value)
    assert svc.apis == {}


@pytest.mark.parametrize("name", ["healthz", "livez", "readyz", "metrics", "docs"])
def test_api_named_like_a_reserved_route_is_refused(name: str) -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument, match="reserved"):
        svc.api(**io(), name=name)(lambda x: x)


def test_reserved_routes_cover_the_server_routes() -> None:
    assert {"", "healthz", "livez", "readyz", "metrics", "docs.json"} <= RESERVED_ROUTES


def test_api_may_use_a_reserved_name_under_another_route() -> None:
    svc = Service("svc")
    svc.api(**io(), name="metrics", route="/v1/metrics")(lambda x: x)
    assert svc.apis["metrics"].route == "v1/metrics"


@pytest.mark.parametrize(
    "route", ["a//b", "/a/../b", "/./a", "a b", "a?b", "a#b", "a%20b", "é", "a:b", "{x}"]
)
def test_invalid_routes_are_refused(route: str) -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument, match="route"):
        svc.api(**io(), name="api", route=route)(lambda x: x)
    assert svc.apis == {}


def test_route_must_be_a_string() -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument, match="route"):
        svc.api(**io(), name="api", route=3)(lambda x: x)  # type: ignore[arg-type]


# Regression: a route with a trailing newline ("predict\n") passed validation and was
# registered as such, for the same `$`-with-`.match` reason; route segments are now matched whole.
def test_route_with_trailing_newline_is_refused() -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument):
        svc.api(**io(), name="api", route="predict\n")(lambda x: x)


# --- clashes ---------------------------------------------------------------------------------


def test_duplicate_api_names_are_refused() -> None:
    svc = Service("svc")

    @svc.api(**io())
    def predict(x: Any) -> Any:
        return x

    with pytest.raises(InvalidArgument, match="already has an API named 'predict'"):

        @svc.api(**io(), route="/other")
        def predict(x: Any) -> Any:
            return x

    assert svc.apis["predict"].route == "predict"


def test_duplicate_routes_are_refused_naming_both_apis() -> None:
    svc = Service("svc")

    @svc.api(**io(), route="/v1/predict")
    def first(x: Any) -> Any:
        return x

    with pytest.raises(InvalidArgument) as info:

        @svc.api(**io(), route="v1/predict/")
        def second(x: Any) -> Any:
            return x

    message = str(info.value)
    assert "'second'" in message
    assert "'first'" in message
    assert "/v1/predict" in message
    assert set(svc.apis) == {"first"}


def test_explicit_route_clashing_with_a_default_route() -> None:
    svc = Service("svc")

    @svc.api(**io())
    def predict(x: Any) -> Any:
        return x

    with pytest.raises(InvalidArgument, match="'predict'"):
        svc.api(**io(), name="other", route="/predict")(lambda x: x)


def test_routes_differing_only_in_case_are_distinct() -> None:
    svc = Service("svc")
    svc.api(**io(), name="lower", route="predict")(lambda x: x)
    svc.api(**io(), name="upper", route="Predict")(lambda x: x)
    assert {a.route for a in svc.apis.values()} == {"predict", "Predict"}


# --- descriptors -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, Echo, "json", {}, object()])
def test_input_must_be_a_descriptor_instance(bad: Any) -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument, match="input must be an IO descriptor"):
        svc.api(input=bad, output=Echo(), name="predict")(lambda x: x)
    assert svc.apis == {}


@pytest.mark.parametrize("bad", [None, Echo, "json"])
def test_output_must_be_a_descriptor_instance(bad: Any) -> None:
    svc = Service("svc")

    def predict(x: Any) -> Any:
        return x

    with pytest.raises(InvalidArgument, match="output must be an IO descriptor") as info:
        svc.api(input=Echo(), output=bad)(predict)
    assert "'predict'" in str(info.value)
    assert svc.apis == {}


def test_input_and_output_are_keyword_only() -> None:
    svc = Service("svc")
    with pytest.raises(TypeError):
        svc.api(Echo(), Echo())  # type: ignore[misc]


# --- signatures ------------------------------------------------------------------------------


def test_zero_inputs_refused() -> None:
    svc = Service("svc")

    def predict() -> None:
        pass

    with pytest.raises(InvalidArgument, match="exactly one input") as info:
        svc.api(**io())(predict)
    assert "'predict'" in str(info.value)
    assert svc.apis == {}


def test_two_required_inputs_refused() -> None:
    svc = Service("svc")

    def predict(x: Any, y: Any) -> None:
        pass

    with pytest.raises(InvalidArgument, match="exactly one input") as info:
        svc.api(**io())(predict)
    assert "(x: Any, y: Any)" in str(info.value)
    assert svc.apis == {}


def test_only_a_context_is_refused() -> None:
    svc = Service("svc")

    def predict(ctx: Context) -> None:
        pass

    with pytest.raises(InvalidArgument, match="exactly one input"):
        svc.api(**io())(predict)


def test_keyword_only_input_is_refused() -> None:
    svc = Service("svc")

    def predict(*, x: Any) -> None:
        pass

    with pytest.raises(InvalidArgument, match="exactly one input"):
        svc.api(**io())(predict)


def test_one_required_input_and_optional_extras_accepted() -> None:
    svc = Service("svc")

    def predict(x: Any, y: int = 1, *, z: int = 2) -> None:
        pass

    svc.api(**io())(predict)
    assert svc.apis["predict"].ctx_param is None


def test_failed_registration_leaves_the_name_free() -> None:
    svc = Service("svc")
    with pytest.raises(InvalidArgument):
        svc.api(**io(), name="predict")(lambda: None)
    svc.api(**io(), name="predict")(lambda x: x)
    assert set(svc.apis) == {"predict"}


def test_context_detected_by_annotation() -> None:
    svc = Service("svc")

    def predict(x: Any, request_context: bentoml.Context) -> Any:
        return x

    svc.api(**io())(predict)
    assert svc.apis["predict"].ctx_param == "request_context"


def test_context_detected_by_annotation_first_position() -> None:
    svc = Service("svc")

    def predict(c: Context, x: Any) -> Any:
        return x

    svc.api(**io())(predict)
    assert svc.apis["predict"].ctx_param == "c"


@pytest.mark.parametrize("annotation", ["bentoml.Context", "Context", "bentoml_classic.Context"])
def test_context_detected_by_string_annotation(annotation: str) -> None:
    svc = Service("svc")

    def predict(x: Any, c: Any) -> Any:
        return x

    predict.__annotations__["c"] = annotation
    svc.api(**io())(predict)
    assert svc.apis["predict"].ctx_param == "c"


@pytest.mark.parametrize("param", ["ctx", "context"])
def test_context_detected_by_name(param: str) -> None:
    svc = Service("svc")
    namespace: dict[str, Any] = {}
    exec(f"def predict(x, {param}):\n    return x\n", namespace)
    svc.api(**io())(namespace["predict"])
    assert svc.apis["predict"].ctx_param == param


def test_context_parameter_may_come_first_by_name() -> None:
    svc = Service("svc")

    def predict(ctx, x):  # type: ignore[no-untyped-def]
        return x

    svc.api(**io())(predict)
    assert svc.apis["predict"].ctx_param == "ctx"


def test_other_names_are_not_a_context() -> None:
    svc = Service("svc")

    def predict(x, request):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(InvalidArgument, match="exactly one input"):
        svc.api(**io())(predict)


def test_async_api_with_context() -> None:
    svc = Service("svc")

    @svc.api(**io())
    async def predict(x: Any, ctx: bentoml.Context) -> Any:
        return x

    api = svc.apis["predict"]
    assert api.is_async is True
    assert api.ctx_param == "ctx"


def test_positional_only_context_refused() -> None:
    svc = Service("svc")

    def predict(x: Any, ctx: Context, /) -> Any:
        return x

    with pytest.raises(InvalidArgument, match="positional-only"):
        svc.api(**io())(predict)


# --- hooks -----------------------------------------------------------------------------------


def test_hooks_are_registered_in_order_and_returned() -> None:
    svc = Service("svc")

    def start_one(ctx: Context) -> None:
        pass

    async def start_two(ctx: Context) -> None:
        pass

    def stop(ctx: Context) -> None:
        pass

    def deploy() -> None:
        pass

    assert svc.on_startup(start_one) is start_one
    assert svc.on_startup(start_two) is start_two
    assert svc.on_shutdown(stop) is stop
    assert svc.on_deployment(deploy) is deploy

    assert svc.startup_hooks == [start_one, start_two]
    assert svc.shutdown_hooks == [stop]
    assert svc.deployment_hooks == [deploy]


def test_hooks_as_decorators() -> None:
    svc = Service("svc")

    @svc.on_startup
    def load(ctx: Context) -> None:
        ctx.state["loaded"] = True

    @svc.on_shutdown
    def unload(ctx: Context) -> None:
        ctx.state["loaded"] = False

    @svc.on_deployment
    def prepare() -> str:
        return "prepared"

    ctx = Context(None, {})
    svc.startup_hooks[0](ctx)
    assert ctx.state == {"loaded": True}
    svc.shutdown_hooks[0](ctx)
    assert ctx.state == {"loaded": False}
    assert svc.deployment_hooks[0]() == "prepared"
    assert prepare() == "prepared"


# -- Multipart: one keyword argument per part -------------------------------------------------


def multipart_io() -> dict[str, Any]:
    from bentoml_classic.io import Multipart

    return {"input": Multipart(image=Echo(), meta=Echo()), "output": Echo()}


def test_multipart_function_takes_the_parts_as_keywords() -> None:
    svc = Service("svc")

    def predict(meta: Any, image: Any) -> Any:  # order does not matter: they come by name
        return image

    svc.api(**multipart_io())(predict)
    api = svc.apis["predict"]
    assert api.input_as_kwargs is True
    assert api.ctx_param is None


def test_single_input_apis_are_not_keyword_apis() -> None:
    svc = Service("svc")
    svc.api(**io(), name="single")(lambda x: x)
    assert svc.apis["single"].input_as_kwargs is False


def test_multipart_function_may_take_a_context_and_keyword_only_parts() -> None:
    svc = Service("svc")

    def predict(image: Any, *, meta: Any, ctx: Context) -> Any:
        return image

    svc.api(**multipart_io())(predict)
    assert svc.apis["predict"].ctx_param == "ctx"


def test_multipart_function_may_take_kwargs() -> None:
    svc = Service("svc")

    def predict(image: Any, **parts: Any) -> Any:
        return image

    svc.api(**multipart_io())(predict)
    assert svc.apis["predict"].input_as_kwargs is True


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("def predict(image): pass", ["no parameter for part(s) ['meta']"]),
        ("def predict(image, meta, extra): pass", ["['extra'] are not parts"]),
        ("def predict(image, meta, extra=1): pass", ["['extra'] are not parts"]),
        ("def predict(img, metadata): pass", ["['image', 'meta']", "['img', 'metadata']"]),
        ("def predict(image, meta, /): pass", ["positional-only"]),
        ("def predict(x): pass", ["['image', 'meta']"]),
    ],
)
def test_multipart_signature_mismatch_is_named_at_decoration(source: str, words: list[str]) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    svc = Service("svc")
    with pytest.raises(InvalidArgument) as info:
        svc.api(**multipart_io())(namespace["predict"])
    message = info.value.message
    assert "'predict'" in message
    assert "exactly the parts ['image', 'meta']" in message
    for word in words:
        assert word in message
    assert svc.apis == {}


def test_a_part_named_like_the_context_is_a_part() -> None:
    from bentoml_classic.io import Multipart

    svc = Service("svc")

    def predict(ctx: Any, other: Any) -> Any:
        return ctx

    svc.api(input=Multipart(ctx=Echo(), other=Echo()), output=Echo())(predict)
    assert svc.apis["predict"].ctx_param is None

    def clash(ctx: Context, other: Any) -> Any:
        return ctx

    with pytest.raises(InvalidArgument, match="part 'ctx' has the name of the Context"):
        svc.api(input=Multipart(ctx=Echo(), other=Echo()), output=Echo(), name="c")(clash)
