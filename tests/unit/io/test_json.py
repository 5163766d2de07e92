from __future__ import annotations

import dataclasses
import datetime
import json
import random
import uuid
import warnings
from typing import Literal

import jsonschema
import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.io import JSON


class Point(BaseModel):
    x: float
    y: float


class Order(BaseModel):
    item: str
    quantity: int = Field(ge=1)
    kind: Literal["buy", "sell"] = "buy"
    at: Point | None = None


class Node(BaseModel):
    name: str
    children: list[Node] = []


# -- without a model -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [{"a": [1, 2.5, None], "b": {"c": "é"}}, [1, 2], "text", 3.5, None, True]
)
def test_any_json_value_reaches_the_function(parse, value):
    assert parse(JSON(), json.dumps(value)) == value


def test_empty_body(parse_error):
    assert "empty" in parse_error(JSON(), b"").message


@pytest.mark.parametrize("body", ['{"a": 1', "{'a': 1}", "[1,]", "tru"])
def test_malformed_json_names_the_position(parse_error, body):
    exc = parse_error(JSON(), body)
    assert "invalid JSON" in exc.message
    assert "line 1 column" in exc.message
    assert exc.detail["line"] == 1


def test_deep_nesting_without_a_model(parse_error):
    exc = parse_error(JSON(), "[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in exc.message


def test_invalid_utf8_without_a_model(parse_error):
    exc = parse_error(JSON(), b'{"a": "\xc3\x28"}')
    assert exc.detail["byte_offset"] == 7


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/octet-stream", "multipart/form-data; b=x"]
)
def test_the_content_type_is_not_looked_at_as_in_classic(parse, content_type):
    assert parse(JSON(), '{"a": 1}', content_type) == {"a": 1}
    assert parse(JSON(pydantic_model=Point), '{"x": 1, "y": 2}', content_type) == Point(x=1, y=2)


@pytest.mark.parametrize("descriptor", [JSON(), JSON(pydantic_model=Point)], ids=["any", "model"])
@pytest.mark.parametrize(
    "body",
    ['{"x": 1, "y": 2}'.encode("utf-8-sig"), '{"x": 1, "y": 2}'.encode("utf-16"),
     '{"x": 1, "y": 2}'.encode("utf-32")],
    ids=["utf-8 with BOM", "utf-16", "utf-32"],
)  # fmt: skip
def test_what_json_loads_reads_is_read_as_in_classic(parse, descriptor, body):
    value = parse(descriptor, body)
    assert value == ({"x": 1, "y": 2} if descriptor.pydantic_model is None else Point(x=1, y=2))


def test_nan_and_infinity_are_taken_as_in_classic(parse):
    value = parse(JSON(), '{"a": NaN, "b": [Infinity, -Infinity]}')
    assert np.isnan(value["a"]) and value["b"] == [float("inf"), float("-inf")]
    assert parse(JSON(pydantic_model=Point), '{"x": NaN, "y": 1}').y == 1.0


# -- with a pydantic model -------------------------------------------------------------------------


def test_model_instance_reaches_the_function(parse):
    order = parse(
        JSON(pydantic_model=Order), '{"item": "tea", "quantity": 2, "at": {"x": 1, "y": 2}}'
    )
    assert isinstance(order, Order)
    assert order.quantity == 2
    assert order.at == Point(x=1.0, y=2.0)


def test_missing_field(parse_error):
    exc = parse_error(JSON(pydantic_model=Order), '{"item": "tea"}')
    assert exc.detail == [{"loc": ["quantity"], "msg": "Field required", "type": "missing"}]
    assert "quantity" in exc.message
    assert "Order" in exc.message


def test_wrong_types_are_all_reported_without_the_input_values(parse_error):
    body = '{"item": "secret-value", "quantity": "lots", "kind": "steal", "at": {"x": "no"}}'
    exc = parse_error(JSON(pydantic_model=Order), body)
    locs = [error["loc"] for error in exc.detail]
    assert locs == [["quantity"], ["kind"], ["at", "x"], ["at", "y"]]
    assert {"loc", "msg", "type"} == set(exc.detail[0])
    assert exc.detail[0]["type"] == "int_parsing"
    assert "at.x" in exc.message
    assert "and 1 more" in exc.message
    assert "lots" not in json.dumps(exc.detail)
    assert "steal" not in json.dumps(exc.detail)


def test_invalid_json_with_a_model(parse_error):
    exc = parse_error(JSON(pydantic_model=Order), '{"item": ')
    assert exc.message.startswith("invalid JSON")
    assert exc.detail["pos"] == 9


def test_deep_nesting_with_a_model(parse_error):
    exc = parse_error(JSON(pydantic_model=Node), "[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in exc.message


class Stamped(BaseModel):
    model_config = ConfigDict(strict=True)
    at: datetime.datetime
    pair: tuple[int, int] | None = None


@pytest.mark.parametrize(
    "body",
    ['{"at": "2024-01-02T03:04:05"}', '{"at": "2024-01-02T03:04:05", "pair": [1, 2]}',
     '{"at": {"$date": 1}}'],
)  # fmt: skip
def test_the_model_validates_as_classic_model_validate_of_json_loads(parse, parse_error, body):
    # pydantic's JSON mode takes strings for datetimes and arrays for tuples even in strict
    # models; classic called model_validate(json.loads(body)), Python mode, which does not
    try:
        expected = Stamped.model_validate(json.loads(body))
    except ValidationError:
        parse_error(JSON(pydantic_model=Stamped), body)
    else:
        assert parse(JSON(pydantic_model=Stamped), body) == expected


def test_recursive_model_parses(parse):
    node = parse(JSON(pydantic_model=Node), '{"name": "a", "children": [{"name": "b"}]}')
    assert node.children[0].name == "b"


def test_model_refuses_a_non_object_body(parse_error):
    exc = parse_error(JSON(pydantic_model=Order), "[1, 2]")
    assert exc.detail[0]["type"] == "model_type"


def test_only_pydantic_models_are_accepted():
    with pytest.raises(InvalidArgument):
        JSON(pydantic_model=dict)  # type: ignore[arg-type]


def test_validate_json_is_accepted_but_deprecated():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        JSON(pydantic_model=Order, validate_json=True)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


# -- output ----------------------------------------------------------------------------------------


def test_output_is_compact_utf8_json(render):
    response = render(JSON(), {"label": "café", "scores": [0.5, 1]})
    assert response.body == '{"label":"café","scores":[0.5,1]}'.encode()
    assert response.headers["content-type"] == "application/json"


@dataclasses.dataclass
class Result:
    label: str
    score: float


def test_output_renders_numpy_pydantic_and_dataclasses(render):
    value = {
        "array": np.array([[1, 2], [3, 4]], dtype=np.int32),
        "scalar": np.float32(0.5),
        "point": Point(x=1, y=2),
        "result": Result("cat", 0.9),
    }
    assert json.loads(render(JSON(), value).body) == {
        "array": [[1, 2], [3, 4]],
        "scalar": 0.5,
        "point": {"x": 1.0, "y": 2.0},
        "result": {"label": "cat", "score": 0.9},
    }


def test_output_model_uses_pydantic_serialisation(render):
    response = render(JSON(pydantic_model=Order), Order(item="tea", quantity=1))
    assert response.body == b'{"item":"tea","quantity":1,"kind":"buy","at":null}'


def test_output_refuses_nan_and_unknown_types(render):
    with pytest.raises(ValueError):
        render(JSON(), {"x": float("nan")})
    with pytest.raises(TypeError, match="Opaque"):
        render(JSON(), {"x": Opaque()})


class Opaque:
    """A value no JSON writer knows."""


def test_output_writes_what_msgspec_knows_and_the_stdlib_did_not(render):
    # classic (json.dumps) answered these with a 500; msgspec writes them (classic_compatibility.md)
    value = {"s": {2}, "b": b"hi", "u": uuid.UUID(int=1), "d": datetime.date(2024, 1, 2)}
    assert render(JSON(), value).body == (
        b'{"s":[2],"b":"aGk=","u":"00000000-0000-0000-0000-000000000001","d":"2024-01-02"}'
    )


def test_output_with_a_lone_surrogate_is_escaped_not_a_crash(parse, render):
    value = parse(JSON(), '{"s": "\\ud800"}')
    body = render(JSON(), value).body
    assert body == b'{"s":"\\ud800"}'
    assert json.loads(body) == value


def test_custom_encoder_runs_first_and_falls_back(render):
    class SetEncoder(json.JSONEncoder):
        def default(self, o):
            if isinstance(o, set):
                return sorted(o)
            return super().default(o)

    body = render(JSON(json_encoder=SetEncoder), {"s": {3, 1}, "a": np.arange(2)}).body
    assert json.loads(body) == {"s": [1, 3], "a": [0, 1]}


# -- OpenAPI ---------------------------------------------------------------------------------------


def _resolve(descriptor: JSON) -> jsonschema.Draft202012Validator:
    """A validator for the descriptor's schema with its components bundled in like /docs.json."""
    schema = {
        **descriptor.openapi_schema(),
        "components": {"schemas": descriptor.openapi_components()},
    }
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_without_a_model_is_any_json():
    assert JSON().openapi_schema() == {}
    assert JSON().openapi_components() == {}


def test_schema_refers_to_the_model_and_its_definitions():
    descriptor = JSON(pydantic_model=Order)
    assert descriptor.openapi_schema() == {"$ref": "#/components/schemas/Order"}
    components = descriptor.openapi_components()
    assert set(components) == {"Order", "Point"}
    assert "$defs" not in components["Order"]
    validator = _resolve(descriptor)
    assert validator.is_valid({"item": "tea", "quantity": 2, "at": {"x": 1, "y": 2}})
    assert not validator.is_valid({"item": "tea"})
    assert not validator.is_valid({"item": "tea", "quantity": 1, "at": {"x": "no", "y": 2}})


def test_schema_of_a_recursive_model():
    descriptor = JSON(pydantic_model=Node)
    assert descriptor.openapi_schema() == {"$ref": "#/components/schemas/Node"}
    validator = _resolve(descriptor)
    assert validator.is_valid({"name": "a", "children": [{"name": "b", "children": []}]})
    assert not validator.is_valid({"name": "a", "children": [{"children": []}]})


def test_from_sample_with_a_model_instance():
    descriptor = JSON.from_sample(Order(item="tea", quantity=3))
    assert descriptor.pydantic_model is Order
    media = descriptor.openapi_request_body()["content"]["application/json"]
    assert media["example"] == {"item": "tea", "quantity": 3, "kind": "buy", "at": None}
    assert _resolve(descriptor).is_valid(media["example"])


def test_from_sample_with_plain_json():
    descriptor = JSON.from_sample({"features": [1.0, 2.0], "scale": np.float64(2.0)})
    assert descriptor.pydantic_model is None
    media = descriptor.openapi_request_body()["content"]["application/json"]
    assert media["example"] == {"features": [1.0, 2.0], "scale": 2.0}


def test_from_sample_refuses_what_json_cannot_hold():
    with pytest.raises(InvalidArgument):
        JSON.from_sample({"x": object()})


# -- no body makes a raw exception escape ----------------------------------------------------------


def test_random_bodies_raise_only_framework_errors(parse):
    rng = random.Random(99)
    alphabet = [*'[]{},:"0123456789.-e nultrf', '"item"', '"quantity"', '"at"', '"x"', "NaN"]
    descriptors = [JSON(), JSON(pydantic_model=Order)]
    refused = 0
    for _ in range(1500):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        raw = body.encode() if rng.random() > 0.1 else body.encode() + b"\xfe"
        for descriptor in descriptors:
            try:
                parse(descriptor, raw)
            except BentoMLException as exc:
                assert exc.status_code == 400, exc
                json.dumps(exc.to_payload(), allow_nan=False)
                refused += 1
    assert refused > 0
