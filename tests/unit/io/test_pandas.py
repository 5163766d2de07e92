"""PandasDataFrame: the frame is what classic BentoML's ``pd.read_json`` / ``pd.read_csv`` /
``pd.read_parquet`` call made of the body; enforced shapes and dtypes are 400s naming the place."""

from __future__ import annotations

import asyncio
import io
import json
import random
import subprocess
import sys
import textwrap
import warnings

import jsonschema
import numpy as np
import pandas as pd
import pytest

from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.io import PandasDataFrame, _pandas_files
from bentoml_classic.io.base import Part
from bentoml_classic.io.mediatype import parse_media_type

IRIS_COLUMNS = ["sepal_len", "sepal_wid", "petal_len", "petal_wid"]
ORIENTS = ["records", "columns", "index", "split", "values", "table"]
# Bodies of every shape a client may send to an API of any orient: pandas reads many of them in
# an orient they were not written for, and classic served what it read.
BODIES = [
    '[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]',
    '{"a": {"0": 1, "1": 2}, "b": {"0": 3, "1": 4}}',
    '{"a": [1, 2], "b": [3, 4]}',
    '{"a": [1, 2.5], "b": [true, 1], "c": [9223372036854775808, 1], "d": [1, null]}',
    '{"a": [18446744073709551616, -1], "b": ["x", 1], "c": [1, 2]}',
    '{"a": [1, 2], "b": [3]}',
    '{"a": [], "b": []}',
    '{"r1": {"a": 1}, "r2": {"a": 2}}',
    '{"columns": ["a", "b"], "index": [0, 1], "data": [[1, 3], [2, 4]]}',
    "[[1, 2], [3, 4]]",
    "[[1, 2], [3]]",
    "[1, 2, 3]",
    '[{"a": "5.9", "b": "3"}]',
    '[{"a": "x"}, {"a": 1}]',
    '[{"a": 1.0, "b": 2.5}]',
    '[{"a": 1}, {"b": 2}]',
    '[{"a": [1, 2]}]',
    '[{"a": 1.5, "b": null}]',
    '[{"a": true}]',
    '[{"timestamp": 1700000000000, "created_at": 1700000000, "n": 40000000}]',
    '[{"date": "2024-01-02", "label": "2024-01-02"}]',
    "[]",
    "{}",
    "null",
    '{"a": 1, "b": 2}',
    '"x"',
    "3",
    '{"schema": {"fields": [{"name": "a", "type": "integer"}]}, "data": [{"a": 1}]}',
]


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow")
    return buffer.getvalue()


def _part(descriptor, data, content_type="application/json", name="table", filename=None):
    media_type = parse_media_type(content_type)
    part = Part(name=name, data=data, media_type=media_type, filename=filename)
    return asyncio.run(descriptor.from_part(part))


def _classic(body: str | bytes, orient: str, **kwargs) -> pd.DataFrame | None:
    """What classic BentoML 1.1 handed the function: ``pd.read_json`` of the body, or None
    where it raised (classic answered those with a 500)."""
    data = body.encode() if isinstance(body, str) else body
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.read_json(io.BytesIO(data), orient=orient, **kwargs)
    except Exception:
        return None


# -- what classic served, served the same ----------------------------------------------------------


@pytest.mark.parametrize("orient", ORIENTS)
def test_every_body_pandas_reads_is_the_frame_classic_handed_over(parse, orient):
    """The compatibility rule: never refuse a body classic served, never hand over another
    frame. Where pandas refused, classic answered 500; that is a 400 now."""
    descriptor = PandasDataFrame(orient=orient)
    for body in BODIES:
        expected = _classic(body, orient, dtype=True)
        if expected is None:  # classic answered a 500: a 400 here, or served (json.loads reads
            try:  # integers beyond 64 bits that pandas' own parser refused)
                parse(descriptor, body)
            except BentoMLException as exc:
                assert exc.status_code == 400, (orient, body)
            continue
        frame = parse(descriptor, body)
        pd.testing.assert_frame_equal(frame, expected, obj=f"{orient} {body}")


def test_a_table_orient_body_is_read_by_its_schema(parse):
    """classic passed dtype=True, which pandas refuses beside the table orient (a 500 there);
    the schema carries the types, so the body is read without one."""
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"]})
    got = parse(PandasDataFrame(orient="table"), frame.to_json(orient="table"))
    pd.testing.assert_frame_equal(got, frame)


def test_a_records_api_reads_columns_orient_bodies_as_pandas_does(parse):
    descriptor = PandasDataFrame()  # orient="records"
    expected = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    for body in ('{"a": {"0": 1, "1": 2}, "b": {"0": 3, "1": 4}}', '{"a": [1, 2], "b": [3, 4]}'):
        pd.testing.assert_frame_equal(parse(descriptor, body), expected)


def test_pandas_inference_is_kept(parse):
    frame = parse(PandasDataFrame(), '[{"n": "5.9", "i": 2.0, "timestamp": 1700000000000}]')
    assert frame["n"].dtype == np.float64 and frame["n"].iloc[0] == 5.9  # numeric strings
    assert frame["i"].dtype == np.int64  # integral floats
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20")  # date-like name


def test_a_large_records_body_is_read_like_a_small_one(parse):
    body = json.dumps([{"a": i, "b": f"{i}.5", "c": "x"} for i in range(20_000)])
    pd.testing.assert_frame_equal(parse(PandasDataFrame(), body), _classic(body, "records"))


def test_values_orient_with_column_names(parse, parse_error):
    named = PandasDataFrame(orient="values", columns=["x", "y"], apply_column_names=True)
    frame = parse(named, "[[1, 2], [3, 4]]")
    assert list(frame.columns) == ["x", "y"] and frame["y"].tolist() == [2, 4]
    exc = parse_error(named, "[[1, 2, 3]]")
    assert exc.detail == {"expected": 2, "received": 3}
    assert "['x', 'y']" in exc.message


def test_records_as_arrays_with_apply_column_names(parse):
    descriptor = PandasDataFrame(columns=IRIS_COLUMNS, apply_column_names=True)
    frame = parse(descriptor, "[[5.1, 3.5, 1.4, 0.2]]")
    assert list(frame.columns) == IRIS_COLUMNS
    assert frame.iloc[0, 2] == 1.4


def test_columns_without_apply_column_names_only_document(parse):
    frame = parse(PandasDataFrame(columns=["a"], shape=(-1, 1), enforce_shape=True), '[{"z": 1}]')
    assert list(frame.columns) == ["z"]


# -- bodies that are no frame ----------------------------------------------------------------------


def test_empty_body(parse_error):
    assert "empty" in parse_error(PandasDataFrame(), b"").message


def test_malformed_json_names_the_position(parse_error):
    exc = parse_error(PandasDataFrame(), '[{"a": 1},')
    assert "invalid JSON" in exc.message
    assert isinstance(exc.detail["pos"], int)
    exc = parse_error(PandasDataFrame(orient="split"), '{"data": [[1]')
    assert "invalid JSON" in exc.message


def test_non_utf8_json(parse_error):
    assert parse_error(PandasDataFrame(), b'[{"a": "\xff"}]').detail["byte_offset"] == 8


@pytest.mark.parametrize(
    ("orient", "body", "needle"),
    [
        ("records", '{"a": 1, "b": 2}', "you must pass an index"),
        ("records", '"x"', "DataFrame constructor not properly called"),
        ("split", '{"data": [[1]], "extra": 1}', "unexpected key(s): extra"),
        ("index", "[1, 2]", "orient 'index'"),
    ],
)
def test_what_pandas_cannot_read_is_400_with_its_reason(parse_error, orient, body, needle):
    exc = parse_error(PandasDataFrame(orient=orient), body)
    assert needle in exc.message
    assert exc.detail["orient"] == orient


# -- dtypes ----------------------------------------------------------------------------------------


def test_enforced_dtypes_are_read_as_classic_read_them(parse):
    descriptor = PandasDataFrame(
        dtype={"i": "int32", "f": "float32", "s": "str", "n": "Int64", "b": "bool"},
        enforce_dtype=True,
    )
    body = '[{"i": 1.7, "f": "5.9", "s": 3, "n": 1, "b": true}, {"i": 2, "f": 2.5, "s": "x", "n": null, "b": false}]'  # noqa: E501
    frame = parse(descriptor, body)
    expected = _classic(body, "records", dtype={"i": "int32", "f": "float32", "s": "str",
                                                "n": "Int64", "b": "bool"})  # fmt: skip
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["i"].tolist() == [1, 2]  # truncated, as astype does
    assert frame["f"].dtype == np.float32 and frame["f"].iloc[0] == np.float32(5.9)


def test_numeric_strings_are_numbers_under_an_enforced_dtype(parse):
    descriptor = PandasDataFrame(columns=IRIS_COLUMNS, dtype="float32", enforce_dtype=True)
    body = json.dumps([dict(zip(IRIS_COLUMNS, ["5.9", "3.0", "5.1", "1.8"], strict=True))])
    frame = parse(descriptor, body)
    assert frame.dtypes.tolist() == [np.dtype("float32")] * 4
    assert frame.iloc[0].tolist() == pytest.approx([5.9, 3.0, 5.1, 1.8])


@pytest.mark.parametrize(
    ("dtype", "body", "needle", "row"),
    [
        ("float32", '[{"a": "5.9"}, {"a": "abc"}]', "first at row 1: a string 'abc'", 1),
        ("float64", '[{"a": 1}, {"a": "x"}]', "first at row 1: a string 'x'", 1),
        ("int64", '[{"a": 1}, {"a": null}]', "missing values (null)", None),
        ("int8", '[{"a": 300}]', "value 300 is out of range for int8 (-128..127)", None),
        ("uint8", '[{"a": -1}]', "out of range", None),
    ],
)
def test_enforced_dtype_refuses_what_it_cannot_read(parse_error, dtype, body, needle, row):
    exc = parse_error(PandasDataFrame(dtype={"a": dtype}, enforce_dtype=True), body)
    assert exc.message.startswith("column 'a': ")
    assert needle in exc.message
    assert exc.detail["column"] == "a"
    assert exc.detail["expected_dtype"] == str(pd.api.types.pandas_dtype(dtype))
    assert len(exc.message) < 300


def test_enforced_dtype_dict_ignores_columns_the_body_lacks(parse):
    descriptor = PandasDataFrame(dtype={"a": "int64", "b": "str"}, enforce_dtype=True)
    assert list(parse(descriptor, '[{"a": 1}]').columns) == ["a"]  # as classic


def test_enforced_single_dtype_applies_to_every_column(parse, parse_error):
    descriptor = PandasDataFrame(dtype="float32", enforce_dtype=True)
    frame = parse(descriptor, '[{"a": 1, "b": 2.5}]')
    assert frame.dtypes.tolist() == [np.dtype("float32")] * 2
    assert parse_error(descriptor, '[{"a": 1, "b": "x"}]').detail["column"] == "b"


def test_float32_overflow_is_infinity_as_in_pandas(parse):
    frame = parse(PandasDataFrame(dtype="float32", enforce_dtype=True), '[{"a": 1e300}]')
    assert frame["a"].dtype == np.float32 and np.isinf(frame["a"].iloc[0])


def test_dtype_without_enforce_documents_only_as_in_classic(parse):
    descriptor = PandasDataFrame(dtype={"a": "float32", "b": "int8"})
    frame = parse(descriptor, '[{"a": 1, "b": "x"}]')
    assert frame["a"].dtype == np.int64 and frame["b"].tolist() == ["x"]


def test_datetime_strings_are_parsed_under_enforcement(parse):
    descriptor = PandasDataFrame(dtype={"t": "datetime64[ns]"}, enforce_dtype=True)
    frame = parse(descriptor, '[{"t": "2024-01-02T03:04:05"}]')
    assert frame["t"].dtype == np.dtype("datetime64[ns]")
    assert frame["t"].iloc[0] == pd.Timestamp("2024-01-02T03:04:05")


def test_validate_leaves_the_callers_frame_alone():
    frame = pd.DataFrame({"a": [1.5, 2.5]})
    out = PandasDataFrame(dtype={"a": "float32"}, enforce_dtype=True).validate(frame)
    assert out["a"].dtype == np.float32
    assert frame["a"].dtype == np.float64


def test_category_dtype(parse):
    frame = parse(PandasDataFrame(dtype={"c": "category"}, enforce_dtype=True), '[{"c": "x"}]')
    assert isinstance(frame["c"].dtype, pd.CategoricalDtype)


# -- shape -----------------------------------------------------------------------------------------


def test_enforced_shape(parse, parse_error):
    descriptor = PandasDataFrame(shape=(-1, 2), enforce_shape=True)
    assert parse(descriptor, '[{"a": 1, "b": 2}, {"a": 3, "b": 4}]').shape == (2, 2)
    exc = parse_error(descriptor, '[{"a": 1, "b": 2, "c": 3}]')
    assert exc.detail == {"expected_shape": [-1, 2], "received_shape": [1, 3]}
    assert "[1, 3]" in exc.message and "[-1, 2]" in exc.message


def test_shape_without_enforce_is_documentation_only(parse):
    assert parse(PandasDataFrame(shape=(1, 1)), '[{"a": 1}, {"a": 2}]').shape == (2, 1)


# -- CSV -------------------------------------------------------------------------------------------


def test_csv_body_is_read_csv_of_it(parse):
    for body in ("a,b\n1,x\n2,y\n", "a,b\n1,2\n3\n", "a,b\n007,x\n"):
        frame = parse(PandasDataFrame(), body, "text/csv")
        pd.testing.assert_frame_equal(frame, pd.read_csv(io.StringIO(body)))


def test_csv_enforced_dtypes_are_read_csv_dtypes(parse, parse_error):
    descriptor = PandasDataFrame(dtype={"zip": "str", "n": "float32"}, enforce_dtype=True)
    frame = parse(descriptor, "zip,n\n00123,1\n", "text/csv")
    assert frame["zip"].tolist() == ["00123"] and frame["n"].dtype == np.float32
    exc = parse_error(descriptor, "zip,n\n1,abc\n", "text/csv")
    assert "invalid CSV" in exc.message


def test_csv_charset(parse):
    body = "name\ncafé\n".encode("latin-1")
    assert parse(PandasDataFrame(), body, "text/csv; charset=latin-1")["name"].tolist() == ["café"]
    # classic never looked at a charset: an unknown one is ignored
    assert parse(PandasDataFrame(), b"a\n1\n", "text/csv; charset=nope")["a"].tolist() == [1]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("\n\n", "No columns to parse"),
        (b"a\n\xff\n", "not valid utf-8"),
        ("a,b\n1,2\n3,4,5\n", "Expected 2 fields in line 3"),
    ],
)
def test_bad_csv(parse_error, body, needle):
    assert needle in parse_error(PandasDataFrame(), body, "text/csv").message


def test_csv_line_is_named(parse_error):
    assert parse_error(PandasDataFrame(), "a,b\n1,2\n3,4,5\n", "text/csv").detail["line"] == 3


# -- the format: Content-Type, else the default ----------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json; charset=utf-8", "text/plain", "image/png", "application/xml"],
)
def test_other_content_types_are_read_in_the_default_format(parse, content_type):
    assert parse(PandasDataFrame(), '[{"a": 1}]', content_type).shape == (1, 1)
    csv_default = PandasDataFrame(default_format="csv")
    assert parse(csv_default, "a\n1\n", content_type)["a"].tolist() == [1]


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/vnd.apache.parquet"]
)
def test_parquet_body(parse, content_type):
    sent = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    pd.testing.assert_frame_equal(parse(PandasDataFrame(), _parquet(sent), content_type), sent)


@pytest.mark.parametrize("body", [b"garbage", b"PAR1" + b"\0" * 20 + b"PAR1"])
def test_garbage_parquet_is_400(parse_error, body):
    exc = parse_error(PandasDataFrame(), body, "application/octet-stream")
    assert "is not a readable parquet file" in exc.message


def test_parquet_goes_through_the_same_checks(parse_error):
    data = _parquet(pd.DataFrame({"a": [1.5], "b": [1]}))
    descriptor = PandasDataFrame(shape=(-1, 3), enforce_shape=True)
    assert parse_error(descriptor, data, "application/octet-stream").detail["received_shape"]


def test_parquet_without_pyarrow_is_415(parse_error, monkeypatch):
    monkeypatch.setattr(_pandas_files, "have_pyarrow", lambda: False)
    exc = parse_error(PandasDataFrame(), b"PAR1", "application/octet-stream", status=415)
    assert "parquet input needs pyarrow" in exc.message
    with pytest.raises(InvalidArgument, match="pyarrow"):
        PandasDataFrame(default_format="parquet")


# -- multipart parts -------------------------------------------------------------------------------


def test_from_part_json_csv_and_parquet():
    descriptor = PandasDataFrame()
    assert _part(descriptor, b'[{"a": 1}]')["a"].tolist() == [1]
    assert _part(descriptor, b'[{"a": 1}]', None)["a"].tolist() == [1]  # a plain form field
    assert _part(descriptor, b"a\n2\n", "text/csv")["a"].tolist() == [2]
    data = _parquet(pd.DataFrame({"a": [3]}))
    assert _part(descriptor, data, "application/octet-stream")["a"].tolist() == [3]


@pytest.mark.parametrize(
    ("data", "content_type", "needle"),
    [
        (b"", "application/json", "part body is empty"),
        (b"[{", "application/json", "invalid JSON in part body"),
        (b"a,b\n1,2,3\n1\n", "text/csv", "invalid CSV"),
        (b"junk", "application/octet-stream", "part body is not a readable parquet"),
        (b'[{"a": "x"}]', "application/json", "column 'a'"),
    ],
)
def test_from_part_errors_name_the_part(data, content_type, needle):
    descriptor = PandasDataFrame(dtype={"a": "int64"}, enforce_dtype=True)
    with pytest.raises(BentoMLException) as info:
        _part(descriptor, data, content_type)
    exc = info.value
    assert exc.status_code == 400 and needle in exc.message
    assert exc.message.startswith("part 'table': ") and exc.detail["part"] == "table"


# -- output ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("orient", ORIENTS)
def test_json_output_is_to_json_in_the_orient(render, orient):
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, None]})
    response = render(PandasDataFrame(orient=orient), frame)
    assert response.body == frame.to_json(orient=orient).encode()
    assert response.headers["content-type"] == "application/json"


def test_json_output_reads_back_in_every_orient(render, parse):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for orient in ["records", "columns", "index", "split"]:
        descriptor = PandasDataFrame(orient=orient)
        pd.testing.assert_frame_equal(parse(descriptor, render(descriptor, frame).body), frame)


def test_csv_output(render, parse):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    descriptor = PandasDataFrame(default_format="csv")
    response = render(descriptor, frame)
    assert response.body == b"a,b\n1,x\n2,y\n"
    assert response.headers["content-type"].startswith("text/csv")
    pd.testing.assert_frame_equal(parse(descriptor, response.body, "text/csv"), frame)


def test_parquet_output(render):
    frame = pd.DataFrame({"a": [1.5], "b": ["x"]})
    response = render(PandasDataFrame(default_format="parquet"), frame)
    assert response.headers["content-type"] == "application/octet-stream"
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(response.body)), frame)


def test_output_converts_frame_likes(render):
    assert render(PandasDataFrame(), {"a": [1]}).body == b'[{"a":1}]'


# -- declarations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"orient": "lines"},
        {"default_format": "xml"},
        {"apply_column_names": True},
        {"shape": (3,)},
        {"shape": (-2, 1)},
        {"dtype": "no-such-dtype"},
    ],
)
def test_unusable_arguments_are_refused_at_declaration(kwargs):
    with pytest.raises(InvalidArgument):
        PandasDataFrame(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"enforce_dtype": True},
        {"enforce_shape": True},
        {"columns": ["a", "a"]},
        {"columns": ["a"], "dtype": {"b": "int64"}},
        {"orient": "table"},
    ],
)
def test_declarations_classic_took_are_taken(kwargs, recwarn):
    PandasDataFrame(**kwargs)


# -- OpenAPI ---------------------------------------------------------------------------------------


def _validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_records_schema_with_enforced_dtypes():
    descriptor = PandasDataFrame(
        columns=["n", "s"], dtype={"n": "int8", "s": "str"}, enforce_dtype=True
    )
    schema = descriptor.openapi_schema()
    row = schema["items"]
    assert "required" not in row  # as in classic, columns are not required
    assert row["properties"]["n"]["type"] == ["number", "string"]
    assert row["properties"]["n"]["exclusiveMaximum"] == 128
    validator = _validator(schema)
    assert validator.is_valid([{"n": 1, "s": "x"}, {"n": "-3", "s": None}, {"n": 1.5}])
    assert not validator.is_valid([{"n": 1000, "s": "x"}])
    assert not validator.is_valid([{"n": [1], "s": "x"}])


def test_schema_without_enforcement_accepts_any_cells():
    schema = PandasDataFrame(columns=["a"], dtype={"a": "float64"}).openapi_schema()
    validator = _validator(schema)
    assert schema["items"]["properties"]["a"]["x-pandas-dtype"] == "float64"
    assert validator.is_valid([{"a": "1.5", "b": 2}, {"a": [1]}])


@pytest.mark.parametrize(
    ("kwargs", "valid", "invalid"),
    [
        ({"orient": "values", "shape": (2, 2), "enforce_shape": True},
         [[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]]),
        ({"orient": "columns"}, {"a": {"0": 1}, "b": [1]}, {"a": 1}),
        ({"orient": "index"}, {"r": {"a": 1}}, {"r": [1]}),
        ({"orient": "split"}, {"columns": ["a"], "data": [[1]]}, {"columns": ["a"]}),
        ({"orient": "table"}, {"schema": {"fields": []}, "data": [{"a": 1}]}, {"data": []}),
        ({"columns": ["a", "b"], "apply_column_names": True}, [[1, 2], [3, 4]], [[1]]),
    ],
)  # fmt: skip
def test_schema_of_each_orient_documents_the_form_pandas_writes(kwargs, valid, invalid):
    validator = _validator(PandasDataFrame(**kwargs).openapi_schema())
    assert validator.is_valid(valid)
    assert not validator.is_valid(invalid)


def test_request_body_lists_json_csv_and_parquet():
    content = PandasDataFrame().openapi_request_body()["content"]
    assert set(content) == {
        "application/json",
        "text/csv",
        "application/octet-stream",
        "application/vnd.apache.parquet",
    }
    assert content["application/octet-stream"]["schema"]["format"] == "binary"


def test_responses_follow_the_default_format():
    json_out = PandasDataFrame().openapi_responses()["content"]
    assert json_out["application/json"]["schema"]["type"] == "array"
    csv_out = PandasDataFrame(default_format="csv").openapi_responses()["content"]
    assert csv_out == {"text/csv": {"schema": {"type": "string"}}}


def test_from_sample_takes_columns_dtypes_and_example(parse, parse_error):
    sample = pd.DataFrame({"x": [1.5, 2.5], "label": ["a", "b"]})
    descriptor = PandasDataFrame.from_sample(sample, enforce_dtype=True)
    assert descriptor.columns == ["x", "label"]
    assert descriptor.shape == (-1, 2)
    media = descriptor.openapi_request_body()["content"]["application/json"]
    assert media["example"] == [{"x": 1.5, "label": "a"}, {"x": 2.5, "label": "b"}]
    assert _validator(media["schema"]).is_valid(media["example"])
    assert parse(descriptor, json.dumps(media["example"]))["x"].tolist() == [1.5, 2.5]
    assert parse(descriptor, '[{"x": "1", "label": "a"}]')["x"].tolist() == [1.0]
    assert parse_error(descriptor, '[{"x": "one", "label": "a"}]').detail["column"] == "x"


def test_from_sample_with_another_orient():
    descriptor = PandasDataFrame.from_sample(pd.DataFrame({"x": [1, 2]}), orient="split")
    example = descriptor.openapi_example()
    assert example == {"columns": ["x"], "index": [0, 1], "data": [[1], [2]]}
    assert _validator(descriptor.openapi_schema()).is_valid(example)


def test_from_sample_needs_a_frame():
    with pytest.raises(InvalidArgument):
        PandasDataFrame.from_sample([[1, 2]])


# -- nothing escapes as a raw exception ------------------------------------------------------------


def test_random_bodies_raise_only_framework_errors(parse):
    rng = random.Random(4321)
    alphabet = [*'[]{},:"0123456789.-eE nultrfabc\\', '"a"', '"b"', "null", "true", "9" * 25]
    descriptors = [
        PandasDataFrame(),
        PandasDataFrame(orient="split"),
        PandasDataFrame(orient="columns"),
        PandasDataFrame(orient="index", dtype="int8", enforce_dtype=True),
        PandasDataFrame(
            orient="values",
            columns=["a", "b"],
            apply_column_names=True,
            dtype="float32",
            enforce_dtype=True,
        ),
    ]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(300):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        content_type = rng.choice(["application/json", "text/csv"])
        for descriptor in descriptors:
            try:
                parse(descriptor, body, content_type)
                outcomes["ok"] += 1
            except BentoMLException as exc:
                assert exc.status_code == 400, exc.message
                json.dumps(exc.to_payload(), allow_nan=False)
                outcomes["refused"] += 1
    assert outcomes["ok"] > 0 and outcomes["refused"] > 0


def test_importing_io_does_not_import_pandas_or_pillow():
    script = textwrap.dedent(
        """
        import sys
        import bentoml_classic.io as io
        io.Text, io.JSON, io.File
        print(sorted({"pandas", "PIL", "pyarrow"} & {m.split(".")[0] for m in sys.modules}))
        io.PandasDataFrame
        print("pandas" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"]


def test_the_first_misfit_of_a_bool_or_string_column_is_named():
    from bentoml_classic.io._pandas_dtypes import _first_misfit

    values = pd.Series([True, False, "x", 1], index=[10, 11, 12, 13], dtype=object)
    assert _first_misfit(values, "bool") == "; first at row 12: a string 'x'"
    assert _first_misfit(pd.Series(["a", "b", 3.5], dtype=object), "string").endswith(
        "row 2: a number"
    )
    assert _first_misfit(pd.Series([True, np.True_], dtype=object), "bool") == ""
