from __future__ import annotations

import json
import random

import jsonschema
import numpy as np
import pytest

from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.io import NumpyNdarray

# -- parsing ---------------------------------------------------------------------------------------


def test_parses_a_float_matrix(parse):
    arr = parse(NumpyNdarray(), "[[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]")
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.float64
    assert arr.shape == (2, 4)
    assert arr[1, 2] == 4.3


def test_integers_stay_integers_without_a_dtype(parse):
    arr = parse(NumpyNdarray(), "[1, 2, 3]")
    assert arr.dtype == np.int64
    assert arr.tolist() == [1, 2, 3]


def test_body_arriving_in_chunks(make_request):
    import asyncio

    body = json.dumps([[float(i)] * 4 for i in range(100)]).encode()
    request = make_request(body, chunk_size=7)
    arr = asyncio.run(NumpyNdarray().from_http_request(request))
    assert arr.shape == (100, 4)
    assert arr[99, 0] == 99.0


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "text/plain",
     "application/x-www-form-urlencoded", "application/vnd.api+json"],
)  # fmt: skip
def test_json_and_lenient_content_types_are_accepted(parse, content_type):
    assert parse(NumpyNdarray(), "[1.5]", content_type).tolist() == [1.5]


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", "text/csv"])
def test_other_content_types_are_415(parse_error, content_type):
    exc = parse_error(NumpyNdarray(), "[1]", content_type, status=415)
    assert content_type in exc.message
    assert exc.detail["content_type"] == content_type


# -- bodies a client can get wrong -----------------------------------------------------------------


def test_empty_body(parse_error):
    exc = parse_error(NumpyNdarray(), b"")
    assert "empty" in exc.message


@pytest.mark.parametrize("body", ["[1, 2", "[1,, 2]", "{", "nope", "[1] trailing"])
def test_malformed_json_names_the_position(parse_error, body):
    exc = parse_error(NumpyNdarray(), body)
    assert "invalid JSON" in exc.message
    assert "column" in exc.message
    assert isinstance(exc.detail["pos"], int)


def test_invalid_utf8_names_the_byte(parse_error):
    exc = parse_error(NumpyNdarray(), b"[1, \xff]")
    assert "byte 4" in exc.message
    assert exc.detail["byte_offset"] == 4


def test_integer_over_the_digit_limit(parse_error):
    exc = parse_error(NumpyNdarray(), "[" + "9" * 5000 + "]")
    assert "invalid JSON" in exc.message
    assert "digits" in exc.message
    assert "set_int_max_str_digits" not in exc.message  # no advice meant for the server


@pytest.mark.parametrize(
    ("body", "received"),
    [('{"a": [1]}', "an object"), ("null", "null"), ("3.5", "a number"), ('"x"', "a string"),
     ("true", "a boolean")],
)  # fmt: skip
def test_top_level_must_be_an_array(parse_error, body, received):
    exc = parse_error(NumpyNdarray(), body)
    assert "expected a JSON array" in exc.message
    assert exc.detail == {"expected": "array", "received": received}


@pytest.mark.parametrize(
    ("body", "path"),
    [("[[1, 2], [3]]", [1]), ("[[1, 2], 3]", [1]), ("[1, [2]]", [1]),
     ("[[[1, 2], [3, 4]], [[5, 6], [7]]]", [1, 1]), ('[[1, 2], {"a": 1}]', [1])],
)  # fmt: skip
def test_ragged_rows_name_the_row(parse_error, body, path):
    exc = parse_error(NumpyNdarray(), body)
    assert "ragged" in exc.message
    assert str(path) in exc.message
    assert exc.detail["path"] == path


def test_deep_nesting_is_a_400_not_a_recursion_error(parse_error):
    exc = parse_error(NumpyNdarray(), "[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in exc.message


def test_more_dimensions_than_numpy_supports(parse_error):
    exc = parse_error(NumpyNdarray(), "[" * 70 + "1" + "]" * 70)
    assert "dimensions" in exc.message
    assert exc.detail["max_dims"] == 64


@pytest.mark.parametrize(
    ("body", "path", "what"),
    [("[1, null]", [1], "null"), ("[[1, 2], [3, null]]", [1, 1], "null"),
     ('[{"a": 1}]', [0], "an object"), (f"[1, {10**30}]", [1], "too large")],
)  # fmt: skip
def test_elements_numpy_would_keep_as_objects(parse_error, body, path, what):
    exc = parse_error(NumpyNdarray(), body)
    assert str(path) in exc.message
    assert what in exc.message
    assert exc.detail["path"] == path


# -- dtype -----------------------------------------------------------------------------------------


def test_enforced_dtype_takes_ints_into_floats(parse):
    arr = parse(NumpyNdarray(dtype="float32", enforce_dtype=True), "[[1, 2], [3, 4.5]]")
    assert arr.dtype == np.float32
    assert arr.tolist() == [[1.0, 2.0], [3.0, 4.5]]


def test_enforced_dtype_takes_float64_json_as_float32(parse):
    arr = parse(NumpyNdarray(dtype=np.float32, enforce_dtype=True), "[0.5]")
    assert arr.dtype == np.float32


@pytest.mark.parametrize(
    ("dtype", "body", "received"),
    [("int64", "[1.5, 2.0]", "float64"), ("float64", '["1.5"]', "<U3"),
     ("int32", "[true, 1.0]", "float64")],
)  # fmt: skip
def test_enforced_dtype_refuses_lossy_input(parse_error, dtype, body, received):
    exc = parse_error(NumpyNdarray(dtype=dtype, enforce_dtype=True), body)
    assert dtype in exc.message
    assert exc.detail["expected_dtype"] == dtype
    assert exc.detail["received_dtype"] == received


def test_enforced_dtype_accepts_an_empty_array(parse):
    arr = parse(NumpyNdarray(dtype="int64", enforce_dtype=True), "[]")
    assert arr.dtype == np.int64
    assert arr.shape == (0,)


def test_enforced_int_dtype_refuses_values_out_of_its_range(parse_error):
    exc = parse_error(NumpyNdarray(dtype="int8", enforce_dtype=True), "[1, 300]")
    assert "300" in exc.message
    assert exc.detail["value"] == 300


def test_best_effort_dtype_converts(parse):
    assert parse(NumpyNdarray(dtype="float64"), '["1.5", "2"]').tolist() == [1.5, 2.0]
    truncated = parse(NumpyNdarray(dtype="int64"), "[1.7, -2.2]")
    assert truncated.dtype == np.int64
    assert truncated.tolist() == [1, -2]
    assert parse(NumpyNdarray(dtype=str), "[1, 2]").tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("dtype", "body", "needle"),
    [("float64", '["abc"]', "float64"), ("int64", '["1.5"]', "int64"),
     ("int8", "[1000]", "1000"), ("int8", "[300.0]", "300"), ("int64", "[NaN]", "NaN"),
     ("uint8", "[-1]", "-1"), ("float32", "[1e300]", "float32"), ("bool", '["False"]', "bool")],
)  # fmt: skip
def test_best_effort_dtype_refuses_what_it_cannot_convert(parse_error, dtype, body, needle):
    exc = parse_error(NumpyNdarray(dtype=dtype), body)
    assert needle in exc.message
    assert exc.detail["expected_dtype"] == str(np.dtype(dtype))


def test_object_dtype_declared_accepts_mixed_elements(parse):
    arr = parse(NumpyNdarray(dtype=object), '[1, null, "a"]')
    assert arr.dtype == object
    assert arr.tolist() == [1, None, "a"]


# -- shape -----------------------------------------------------------------------------------------


def test_enforced_shape_with_any_batch(parse):
    descriptor = NumpyNdarray(shape=(-1, 4), enforce_shape=True)
    assert parse(descriptor, "[[1, 2, 3, 4]]").shape == (1, 4)
    assert parse(descriptor, "[[1, 2, 3, 4]] ".replace("]]", "], [5, 6, 7, 8]]")).shape == (2, 4)


@pytest.mark.parametrize(
    ("body", "received"),
    [("[[1, 2, 3]]", [1, 3]), ("[1, 2, 3, 4]", [4]), ("[[[1, 2, 3, 4]]]", [1, 1, 4]),
     ("[]", [0])],
)  # fmt: skip
def test_enforced_shape_refuses_other_shapes(parse_error, body, received):
    exc = parse_error(NumpyNdarray(shape=(-1, 4), enforce_shape=True), body)
    assert "[-1, 4]" in exc.message
    assert exc.detail == {"expected_shape": [-1, 4], "received_shape": received}


def test_shape_without_enforce_is_documentation_only(parse):
    assert parse(NumpyNdarray(shape=(-1, 4)), "[[1, 2, 3]]").shape == (1, 3)


# -- constructor -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"dtype": "not-a-dtype"}, {"enforce_dtype": True}, {"enforce_shape": True},
     {"shape": ()}, {"shape": (-2, 4)}, {"shape": ("a",)}],
)  # fmt: skip
def test_unusable_arguments_are_refused_at_declaration(kwargs):
    with pytest.raises(InvalidArgument):
        NumpyNdarray(**kwargs)


# -- output ----------------------------------------------------------------------------------------


def test_output_bytes_match_classic(render):
    response = render(NumpyNdarray(), np.array([[1.0, 2.5], [3.0, 4.0]]))
    assert response.body == b"[[1.0, 2.5], [3.0, 4.0]]"
    assert response.headers["content-type"] == "application/json"


def test_output_accepts_array_likes(render):
    assert render(NumpyNdarray(), [1, 2, 3]).body == b"[1, 2, 3]"
    assert render(NumpyNdarray(), np.int64(7)).body == b"7"
    labels = np.array(["setosa", "virginica"], dtype=object)
    assert json.loads(render(NumpyNdarray(), labels).body) == ["setosa", "virginica"]


@pytest.mark.parametrize("bad", [{"a": 1}, object(), (x for x in range(3))])
def test_output_refuses_non_arrays_with_a_plain_type_error(render, bad):
    with pytest.raises(TypeError, match="NumpyNdarray output"):
        render(NumpyNdarray(), bad)


# -- OpenAPI ---------------------------------------------------------------------------------------


def _validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_without_shape_is_any_array():
    schema = NumpyNdarray().openapi_schema()
    assert schema == {"type": "array", "items": {}}
    validator = _validator(schema)
    assert validator.is_valid([[1, 2], [3, 4]])
    assert not validator.is_valid({"a": 1})


def test_schema_with_enforced_shape_and_dtype():
    schema = NumpyNdarray(
        dtype="float32", enforce_dtype=True, shape=(-1, 4), enforce_shape=True
    ).openapi_schema()
    f32_max = float(np.finfo(np.float32).max)
    number = {"type": "number", "minimum": -f32_max, "maximum": f32_max}
    assert schema == {
        "type": "array",
        "items": {"type": "array", "items": number, "minItems": 4, "maxItems": 4},
    }
    validator = _validator(schema)
    assert validator.is_valid([[5.1, 3.5, 1.4, 0.2], [1, 2, 3, 4]])
    assert not validator.is_valid([[1, 2, 3]])
    assert not validator.is_valid([["a", 2, 3, 4]])


@pytest.mark.parametrize(
    ("dtype", "item", "valid", "invalid"),
    [("int32", "integer", 3, 1.5), ("uint8", "integer", 3, "3"), ("bool", "boolean", True, 1),
     (str, "string", "a", 1), ("complex64", None, 1, None), (None, None, "anything", None)],
)  # fmt: skip
def test_schema_item_types_follow_the_dtype(dtype, item, valid, invalid):
    schema = NumpyNdarray(dtype=dtype, shape=(-1,)).openapi_schema()
    assert ({} if item is None else {"type": item}).items() <= schema["items"].items()
    assert "minItems" not in schema
    validator = _validator(schema)
    assert validator.is_valid([valid])
    if invalid is not None:
        assert not validator.is_valid([invalid])


@pytest.mark.parametrize(
    ("dtype", "low", "high"),
    [("int8", -128, 127), ("uint16", 0, 65535), ("int64", -(2**63), 2**63 - 1)],
)
def test_schema_bounds_integer_items_by_the_dtype(parse_error, dtype, low, high):
    # the server refuses values the dtype cannot hold, so the schema refuses them too
    items = NumpyNdarray(dtype=dtype, shape=(-1,)).openapi_schema()["items"]
    assert (items["minimum"], items["maximum"]) == (low, high)
    validator = _validator({"type": "array", "items": items})
    assert validator.is_valid([low, high])
    assert not validator.is_valid([high + 1])
    parse_error(NumpyNdarray(dtype=dtype), f"[{high + 1}]".encode())


def test_schema_of_float64_is_unbounded_and_float16_bounded():
    assert NumpyNdarray(dtype="float64", shape=(-1,)).openapi_schema()["items"] == {
        "type": "number"
    }
    assert NumpyNdarray(dtype="float16", shape=(-1,)).openapi_schema()["items"]["maximum"] == 65504


def test_from_sample_takes_dtype_and_shape_and_keeps_the_example():
    sample = np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32)
    descriptor = NumpyNdarray.from_sample(sample, enforce_shape=True)
    assert descriptor.dtype == np.float32
    assert descriptor.shape == (-1, 4)
    assert descriptor.enforce_shape and not descriptor.enforce_dtype
    body = descriptor.openapi_request_body()
    media = body["content"]["application/json"]
    assert media["example"] == sample.tolist()
    assert _validator(media["schema"]).is_valid(media["example"])


def test_from_sample_descriptor_validates_requests(parse, parse_error):
    descriptor = NumpyNdarray.from_sample(np.zeros((2, 3), dtype=np.int64), enforce_shape=True)
    assert parse(descriptor, "[[1, 2, 3]]").dtype == np.int64
    assert parse_error(descriptor, "[[1, 2]]").detail["expected_shape"] == [-1, 3]


def test_from_sample_needs_at_least_one_dimension():
    with pytest.raises(InvalidArgument):
        NumpyNdarray.from_sample(np.float32(1.0))


# -- no body makes a raw exception escape ----------------------------------------------------------


def test_random_bodies_raise_only_framework_errors(parse):
    rng = random.Random(1234)
    alphabet = [*'[]{},:"0123456789.-eE nultrfas\\', "1e999", "NaN", "null", "9" * 30]
    descriptors = [
        NumpyNdarray(),
        NumpyNdarray(dtype="int8"),
        NumpyNdarray(dtype="float32", enforce_dtype=True, shape=(-1, 2), enforce_shape=True),
        NumpyNdarray(dtype=bool),
    ]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(1500):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        if rng.random() < 0.5:
            body = "[" + body + "]"
        raw = body.encode()
        if rng.random() < 0.1:
            raw = raw.replace(b"a", b"\xff")  # not UTF-8
        for descriptor in descriptors:
            try:
                value = parse(descriptor, raw)
            except BentoMLException as exc:
                assert exc.status_code == 400, exc
                json.dumps(exc.to_payload(), allow_nan=False)
                outcomes["refused"] += 1
            else:
                assert isinstance(value, np.ndarray)
                outcomes["ok"] += 1
    assert outcomes["ok"] > 0
    assert outcomes["refused"] > 0
