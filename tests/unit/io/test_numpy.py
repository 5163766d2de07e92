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
     "application/x-www-form-urlencoded", "application/vnd.api+json", "image/png",
     "application/octet-stream", "text/csv"],
)  # fmt: skip
def test_the_content_type_is_not_looked_at_as_in_classic(parse, content_type):
    assert parse(NumpyNdarray(), "[1.5]", content_type).tolist() == [1.5]


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
    ("body", "value"),
    [('{"a": [1]}', {"a": [1]}), ("null", None), ("3.5", 3.5), ('"x"', "x"), ("true", True)],
)
def test_a_json_scalar_is_a_0d_array_as_in_classic(parse, body, value):
    arr = parse(NumpyNdarray(), body)
    assert arr.shape == () and arr.tolist() == value


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
    ("body", "value"),
    [("[1, null]", [1, None]), ('[{"a": 1}]', [{"a": 1}]), (f"[1, {10**30}]", [1, 10**30])],
)
def test_elements_numpy_keeps_as_objects_are_an_object_array_as_in_classic(parse, body, value):
    arr = parse(NumpyNdarray(), body)
    assert arr.dtype == object and arr.tolist() == value


# -- dtype -----------------------------------------------------------------------------------------


def test_enforced_dtype_takes_ints_into_floats(parse):
    arr = parse(NumpyNdarray(dtype="float32", enforce_dtype=True), "[[1, 2], [3, 4.5]]")
    assert arr.dtype == np.float32
    assert arr.tolist() == [[1.0, 2.0], [3.0, 4.5]]


def test_enforced_dtype_takes_float64_json_as_float32(parse):
    arr = parse(NumpyNdarray(dtype=np.float32, enforce_dtype=True), "[0.5]")
    assert arr.dtype == np.float32


@pytest.mark.parametrize(
    ("dtype", "body", "value"),
    [("int64", "[1.5, 2.9]", [1, 2]), ("float64", '["1.5"]', [1.5]),
     ("int32", "[true, 1.0]", [1, 1]),
     ("float32", '[["5.9", "3.0", "5.1", "1.8"]]', [[5.9, 3.0, 5.1, 1.8]]),
     ("bool", '[0, 2, "", "x"]', [False, True, False, True]), ("float32", "[1, null]", [1, None]),
     ("float32", "[1e300]", [float("inf")]), ("int8", '[" 7 ", "-8"]', [7, -8])],
)  # fmt: skip
def test_enforced_dtype_reads_what_np_array_reads_as_classic(parse, dtype, body, value):
    arr = parse(NumpyNdarray(dtype=dtype, enforce_dtype=True), body)
    assert arr.dtype == np.dtype(dtype)
    with np.errstate(over="ignore"):
        expected = np.array(value, dtype=dtype)
    np.testing.assert_array_equal(arr, expected)


@pytest.mark.parametrize(
    ("dtype", "body", "path", "shown"),
    [("float32", '[["5.9", "abc"]]', [0, 1], "'abc'"), ("int64", '["1", "1.5"]', [1], "'1.5'"),
     ("float64", '"x"', [], "'x'"), ("float32", '[["5.9", "' + "1" * 150 + '"]]', [0, 1], "150")],
)  # fmt: skip
def test_enforced_dtype_names_the_string_that_is_no_number(parse_error, dtype, body, path, shown):
    exc = parse_error(NumpyNdarray(dtype=dtype, enforce_dtype=True), body)
    assert exc.detail["path"] == path
    assert exc.detail["reason"] == "not a number"
    assert shown in exc.message and dtype in exc.message


def test_a_long_string_is_never_parsed_and_the_error_does_not_echo_it(parse_error):
    body = json.dumps([[1, 2, "9" * 100_000]])
    exc = parse_error(NumpyNdarray(dtype="float64", enforce_dtype=True), body)
    assert exc.detail["path"] == [0, 2]
    assert len(json.dumps(exc.to_payload())) < 1000


def test_enforced_int_dtype_refuses_nan(parse_error):
    exc = parse_error(NumpyNdarray(dtype="int64", enforce_dtype=True), "[1, NaN]")
    assert "NaN" in exc.message and exc.detail["received_dtype"] == "float64"


def test_enforced_dtype_accepts_an_empty_array(parse):
    arr = parse(NumpyNdarray(dtype="int64", enforce_dtype=True), "[]")
    assert arr.dtype == np.int64
    assert arr.shape == (0,)


@pytest.mark.parametrize("body", ["[1, 300]", json.dumps(list(range(40_000)))])
def test_enforced_int_dtype_refuses_values_out_of_its_range(parse_error, body):
    # numpy itself refuses them (OverflowError): classic answered a 500
    exc = parse_error(NumpyNdarray(dtype="int8", enforce_dtype=True), body)
    assert "out of" in exc.message and "int8" in exc.message


def test_best_effort_dtype_converts(parse):
    assert parse(NumpyNdarray(dtype="float64"), '["1.5", "2"]').tolist() == [1.5, 2.0]
    truncated = parse(NumpyNdarray(dtype="int64"), "[1.7, -2.2]")
    assert truncated.dtype == np.int64
    assert truncated.tolist() == [1, -2]
    assert parse(NumpyNdarray(dtype=str), "[1, 2]").tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("dtype", "body", "value"),
    [("float64", '["abc"]', ["abc"]), ("int64", '["1.5"]', ["1.5"]), ("int64", "[NaN]", [np.nan]),
     ("float32", '[1, "x"]', ["1", "x"])],
)  # fmt: skip
def test_best_effort_dtype_hands_over_what_numpy_cannot_read_as_classic(parse, dtype, body, value):
    np.testing.assert_array_equal(parse(NumpyNdarray(dtype=dtype), body), np.array(value))


@pytest.mark.parametrize(
    ("dtype", "body", "needle"),
    [("int8", "[1000]", "1000"), ("int8", "[300.0]", "300"), ("uint8", "[-1]", "-1"),
     ("int64", "[Infinity]", "infinity")],
)  # fmt: skip
def test_values_numpy_refuses_are_400(parse_error, dtype, body, needle):
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


def test_shape_without_enforce_reshapes_where_it_can_as_classic(parse):
    assert parse(NumpyNdarray(shape=(-1, 4)), "[1, 2, 3, 4]").shape == (1, 4)
    assert parse(NumpyNdarray(shape=(2, 2)), "[1, 2, 3, 4]").tolist() == [[1, 2], [3, 4]]
    assert parse(NumpyNdarray(shape=(-1, 4)), "[[1, 2, 3]]").shape == (1, 3)  # as it came


# -- constructor -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"dtype": "not-a-dtype"}, {"shape": ()}, {"shape": (-2, 4)}, {"shape": ("a",)}],
)  # fmt: skip
def test_unusable_arguments_are_refused_at_declaration(kwargs):
    with pytest.raises(InvalidArgument):
        NumpyNdarray(**kwargs)


@pytest.mark.parametrize("kwargs", [{"enforce_dtype": True}, {"enforce_shape": True}])
def test_enforcing_nothing_is_taken_as_classic_took_it(parse, kwargs):
    with pytest.warns(UserWarning, match="enforces nothing"):
        descriptor = NumpyNdarray(**kwargs)
    assert parse(descriptor, '["a", 1]').tolist() == ["a", "1"]


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


def test_schema_without_shape_is_any_json_value():
    # numpy makes an array of any JSON value: a scalar is a 0-d array, as in classic
    assert NumpyNdarray().openapi_schema() == {}
    assert NumpyNdarray(dtype="float32", enforce_dtype=True).openapi_schema() == {}


def test_schema_with_enforced_shape_and_dtype():
    schema = NumpyNdarray(
        dtype="float32", enforce_dtype=True, shape=(-1, 4), enforce_shape=True
    ).openapi_schema()
    leaf = {"type": ["number", "boolean", "string", "null"]}
    assert schema == {
        "type": "array",
        "items": {"type": "array", "items": leaf, "minItems": 4, "maxItems": 4},
    }
    validator = _validator(schema)
    assert validator.is_valid([[5.1, 3.5, 1.4, 0.2], [1, 2, 3, 4], ["5.9", "3.0", "5.1", "1.8"]])
    assert not validator.is_valid([[1, 2, 3]])
    assert not validator.is_valid([[[1], 2, 3, 4]])


@pytest.mark.parametrize(
    ("dtype", "types"),
    [("int32", ["number", "boolean", "string"]), ("bool", ["boolean", "number", "string"]),
     ("float64", ["number", "boolean", "string", "null"]), (str, None), (None, None)],
)  # fmt: skip
def test_schema_items_say_what_np_array_reads_under_an_enforced_dtype(dtype, types):
    enforce = dtype is not None
    schema = NumpyNdarray(dtype=dtype, enforce_dtype=enforce, shape=(-1,)).openapi_schema()
    assert schema["items"].get("type") == types
    assert "minItems" not in schema
    unenforced = NumpyNdarray(dtype=dtype, shape=(-1,)).openapi_schema()
    assert unenforced == {"type": "array", "items": {}}  # anything is handed over as it reads


@pytest.mark.parametrize(
    ("dtype", "low", "high"),
    [("int8", -128, 127), ("uint16", 0, 65535), ("int64", -(2**63), 2**63 - 1)],
)
def test_schema_bounds_integer_items_by_the_dtype(parse_error, dtype, low, high):
    # numpy refuses integers the dtype cannot hold and truncates floats toward zero
    items = NumpyNdarray(dtype=dtype, enforce_dtype=True, shape=(-1,)).openapi_schema()["items"]
    assert (items["exclusiveMinimum"], items["exclusiveMaximum"]) == (low - 1, high + 1)
    validator = _validator({"type": "array", "items": items})
    assert validator.is_valid([low, high])
    assert validator.is_valid([high + 0.5]) == (dtype != "int64")  # float64 rounds 2**63 - 0.5
    assert not validator.is_valid([high + 1])
    parse_error(NumpyNdarray(dtype=dtype), f"[{high + 1}]".encode())


def test_response_schema_is_any_value_unless_the_shape_is_enforced(render):
    assert NumpyNdarray().openapi_responses()["content"]["application/json"]["schema"] == {}
    assert render(NumpyNdarray(), np.array(5)).body == b"5"  # a 0-d array is a JSON scalar
    strict = NumpyNdarray(shape=(-1, 2), enforce_shape=True)
    schema = strict.openapi_responses()["content"]["application/json"]["schema"]
    assert schema == strict.openapi_schema()
    assert render(strict, np.array([[1, 2]])).body == b"[[1, 2]]"
    with pytest.raises(TypeError, match="NumpyNdarray output"):
        render(strict, np.array([1, 2, 3]))  # the function's fault: a 500
    loose = NumpyNdarray(shape=(-1, 2))
    assert render(loose, np.array([1, 2, 3, 4])).body == b"[[1, 2], [3, 4]]"  # as classic


def test_output_applies_a_declared_dtype_as_classic(render):
    assert render(NumpyNdarray(dtype="float32"), np.array([0.1])).body == b"[0.10000000149011612]"


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


def test_from_sample_reshapes_to_the_sample_shape_as_classic(parse):
    descriptor = NumpyNdarray.from_sample(np.array([[1.0, 2.0, 3.0, 4.0]]))
    assert parse(descriptor, "[1, 2, 3, 4]").shape == (1, 4)
    assert parse(descriptor, "[1, 2, 3, 4, 5, 6, 7, 8]").shape == (8,)  # (1, 4) cannot hold it
    assert parse(descriptor, "[[1, 2, 3, 4], [5, 6, 7, 8]]").shape == (2, 4)


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
