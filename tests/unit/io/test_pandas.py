from __future__ import annotations

import asyncio
import io
import json
import random
import subprocess
import sys
import textwrap

import jsonschema
import numpy as np
import pandas as pd
import pytest

from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.io import PandasDataFrame, PandasSeries, _pandas_parse
from bentoml_classic.io.base import Part
from bentoml_classic.io.mediatype import parse_media_type

IRIS_COLUMNS = ["sepal_len", "sepal_wid", "petal_len", "petal_wid"]


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow")
    return buffer.getvalue()


def _part(descriptor, data, content_type="application/json", name="table"):
    part = Part(name=name, data=data, media_type=parse_media_type(content_type))
    return asyncio.run(descriptor.from_part(part))


def _part_error(descriptor, data, content_type="application/json", status=400, name="table"):
    with pytest.raises(BentoMLException) as info:
        _part(descriptor, data, content_type, name)
    exc = info.value
    assert exc.status_code == status, exc.message
    assert exc.message.startswith(f"part {name!r}: ")
    assert exc.detail["part"] == name
    json.dumps(exc.to_payload(), allow_nan=False)
    return exc


# -- JSON, orient by orient ------------------------------------------------------------------------


def test_records_become_a_frame_with_the_columns_in_order(parse):
    frame = parse(PandasDataFrame(), '[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]')
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 2]
    assert frame["a"].dtype == np.int64
    assert frame["b"].tolist() == ["x", "y"]


@pytest.mark.parametrize(
    ("orient", "body"),
    [
        ("records", '[{"a": 1, "b": 3}, {"a": 2, "b": 4}]'),
        ("columns", '{"a": {"0": 1, "1": 2}, "b": {"0": 3, "1": 4}}'),
        ("columns", '{"a": [1, 2], "b": [3, 4]}'),
        ("index", '{"0": {"a": 1, "b": 3}, "1": {"a": 2, "b": 4}}'),
        ("split", '{"columns": ["a", "b"], "index": [0, 1], "data": [[1, 3], [2, 4]]}'),
        ("split", '{"columns": ["a", "b"], "data": [[1, 3], [2, 4]]}'),
    ],
)
def test_every_orient_gives_the_same_frame(parse, orient, body):
    frame = parse(PandasDataFrame(orient=orient), body)
    expected = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    pd.testing.assert_frame_equal(frame, expected)


def test_values_orient_gets_positional_columns_or_the_declared_names(parse):
    frame = parse(PandasDataFrame(orient="values"), "[[1, 2], [3, 4]]")
    assert list(frame.columns) == [0, 1]
    named = PandasDataFrame(orient="values", columns=["x", "y"], apply_column_names=True)
    frame = parse(named, "[[1, 2], [3, 4]]")
    assert list(frame.columns) == ["x", "y"]
    assert frame["y"].tolist() == [2, 4]


def test_records_as_arrays_with_apply_column_names(parse):
    descriptor = PandasDataFrame(columns=IRIS_COLUMNS, apply_column_names=True)
    frame = parse(descriptor, "[[5.1, 3.5, 1.4, 0.2]]")
    assert list(frame.columns) == IRIS_COLUMNS
    assert frame.iloc[0, 2] == 1.4


def test_index_labels_keep_their_names(parse):
    frame = parse(PandasDataFrame(orient="index"), '{"r1": {"a": 1}, "r2": {"a": 2}}')
    assert list(frame.index) == ["r1", "r2"]


def test_empty_records_give_an_empty_frame_with_the_declared_columns(parse):
    descriptor = PandasDataFrame(
        columns=["a", "b"], dtype={"a": "int64", "b": "float64"}, enforce_dtype=True
    )
    frame = parse(descriptor, "[]")
    assert frame.shape == (0, 2)
    assert frame.dtypes.tolist() == [np.dtype("int64"), np.dtype("float64")]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"],
)
def test_json_and_lenient_content_types(parse, content_type):
    assert parse(PandasDataFrame(), '[{"a": 1}]', content_type).shape == (1, 1)


# -- JSON a client can get wrong -------------------------------------------------------------------


def test_empty_body(parse_error):
    assert "empty" in parse_error(PandasDataFrame(), b"").message


def test_malformed_json_names_the_position(parse_error):
    exc = parse_error(PandasDataFrame(), '[{"a": 1},')
    assert "invalid JSON" in exc.message
    assert isinstance(exc.detail["pos"], int)


def test_non_utf8_json(parse_error):
    assert parse_error(PandasDataFrame(), b'[{"a": "\xff"}]').detail["byte_offset"] == 8


@pytest.mark.parametrize(
    ("orient", "body", "needle"),
    [
        ("records", '{"a": [1]}', "orient 'records' expects an array of objects, got an object"),
        ("records", "3", "got a number"),
        ("records", "[[1, 2]]", "row 0 is an array"),
        ("records", '[{"a": 1}, 2]', "row 1 is a number"),
        ("values", '{"a": 1}', "orient 'values' expects an array of arrays"),
        ("values", '[[1], {"a": 1}]', "row 1 is an object"),
        ("columns", "[1, 2]", "orient 'columns' expects an object, got an array"),
        ("columns", '{"a": 1}', "column 'a' is a number"),
        ("columns", '{"a": [1], "b": {"0": 1}}', "column 'b' is an object"),
        ("index", '{"r": [1, 2]}', "row 'r' is an array"),
        ("index", "[]", "expects an object"),
        ("split", "[[1]]", "orient 'split' expects an object"),
        ("split", '{"columns": ["a"]}', "no 'data' key"),
        ("split", '{"data": [[1]], "extra": 1}', "unexpected keys ['extra']"),
        ("split", '{"columns": "a", "data": [[1]]}', "'columns' must be an array"),
        ("split", '{"data": [[1], [2]], "index": [0]}', "'index' has 1 labels for 2 rows"),
    ],
)
def test_orient_mismatches_are_400_naming_the_place(parse_error, orient, body, needle):
    exc = parse_error(PandasDataFrame(orient=orient), body)
    assert needle in exc.message


@pytest.mark.parametrize(
    ("orient", "body", "needle"),
    [
        ("values", "[[1, 2], [3]]", "row 1 has 1 values, expected 2"),
        ("split", '{"columns": ["a", "b"], "data": [[1, 2], [3, 4, 5]]}', "row 1 has 3 values"),
        ("columns", '{"a": [1, 2], "b": [3]}', "column 'b' has 1 values, the first column has 2"),
    ],
)
def test_ragged_rows_are_refused_not_padded(parse_error, orient, body, needle):
    assert needle in parse_error(PandasDataFrame(orient=orient), body).message


def test_array_rows_must_match_the_declared_column_count(parse_error):
    descriptor = PandasDataFrame(columns=["a", "b"], apply_column_names=True)
    exc = parse_error(descriptor, "[[1, 2, 3]]")
    assert "row 0 has 3 values, expected 2 (columns a, b)" in exc.message


@pytest.mark.parametrize(
    ("orient", "body", "where"),
    [
        ("records", '[{"a": [1, 2]}]', "row 0, column 'a' is an array"),
        ("records", '[{"a": 1}, {"a": {"b": 1}}]', "row 1, column 'a' is an object"),
        ("values", "[[1, [2]]]", "row 0, value 1 is an array"),
        ("columns", '{"a": {"0": [1]}}', "column 'a' is an array"),
    ],
)
def test_nested_cells_are_refused(parse_error, orient, body, where):
    exc = parse_error(PandasDataFrame(orient=orient), body)
    assert where in exc.message
    assert "cells must be numbers, strings, booleans or null" in exc.message


def test_duplicate_column_names_are_refused(parse_error):
    body = '{"columns": ["a", "a"], "data": [[1, 2]]}'
    exc = parse_error(PandasDataFrame(orient="split"), body)
    assert exc.detail == {"duplicates": ["a"]}


# -- columns ---------------------------------------------------------------------------------------


def _enforced_iris(**kwargs):
    return PandasDataFrame(columns=IRIS_COLUMNS, dtype="float64", enforce_dtype=True, **kwargs)


def test_enforced_columns_are_reordered_as_declared(parse):
    frame = parse(PandasDataFrame(orient="columns", columns=["b", "a"], shape=(-1, 2),
                                  enforce_shape=True), '{"a": [1], "b": [2]}')  # fmt: skip
    assert list(frame.columns) == ["b", "a"]


def test_enforced_columns_missing_and_unexpected_in_a_row(parse_error):
    exc = parse_error(_enforced_iris(), '[{"sepal_len": 1, "sepal_wid": 2, "petal_len": 3}]')
    assert "row 0" in exc.message and "missing ['petal_wid']" in exc.message
    exc = parse_error(
        _enforced_iris(),
        '[{"sepal_len": 1, "sepal_wid": 2, "petal_len": 3, "petal_wid": 4, "colour": 5}]',
    )
    assert exc.detail["unexpected"] == ["colour"]


def test_enforced_columns_checked_for_csv(parse_error):
    exc = parse_error(_enforced_iris(), "sepal_len,petal_len,extra\n1,2,3\n", "text/csv")
    assert exc.detail["missing"] == ["sepal_wid", "petal_wid"]
    assert exc.detail["unexpected"] == ["extra"]
    assert "missing ['sepal_wid', 'petal_wid']; unexpected ['extra']" in exc.message


def test_columns_without_enforcement_only_document(parse):
    frame = parse(PandasDataFrame(columns=["a"]), '[{"z": 1}]')
    assert list(frame.columns) == ["z"]


def test_enforced_dtype_dict_names_missing_columns(parse_error):
    descriptor = PandasDataFrame(dtype={"a": "int64", "b": "str"}, enforce_dtype=True)
    exc = parse_error(descriptor, '[{"a": 1}]')
    assert exc.detail == {"missing": ["b"]}
    assert "'b'" in exc.message


# -- dtypes ----------------------------------------------------------------------------------------


def test_enforced_dtypes_convert_without_loss(parse):
    descriptor = PandasDataFrame(
        dtype={"i": "int32", "f": "float32", "s": "str", "n": "Int64", "b": "bool"},
        enforce_dtype=True,
    )
    body = '[{"i": 1.0, "f": 2, "s": "x", "n": 1, "b": true}, {"i": 2, "f": 2.5, "s": null, "n": null, "b": false}]'  # noqa: E501
    frame = parse(descriptor, body)
    assert frame["i"].dtype == np.int32 and frame["i"].tolist() == [1, 2]
    assert frame["f"].dtype == np.float32
    assert frame["s"].dtype == pd.api.types.pandas_dtype("str")
    assert frame["n"].dtype == pd.Int64Dtype() and frame["n"].isna().tolist() == [False, True]
    assert frame["b"].dtype == np.bool_


@pytest.mark.parametrize(
    ("dtype", "body", "needle"),
    [
        ("int64", '[{"a": 1.5}]', "non-integer numbers"),
        ("int64", '[{"a": "1"}]', "string values (dtype str) cannot be used as int64"),
        ("float64", '[{"a": "1.5"}]', "string values"),
        ("float64", '[{"a": true}]', "boolean values"),
        ("int64", '[{"a": 1}, {"a": null}]', "missing values (null)"),
        ("int8", '[{"a": 300}]', "value 300 is out of range for int8 (-128..127)"),
        ("str", '[{"a": 1}]', "integer values"),
        ("bool", '[{"a": 1}]', "integer values"),
        ("float64", '[{"a": 1}, {"a": "x"}]', "mixed"),
    ],
)
def test_enforced_dtype_refuses_lossy_columns(parse_error, dtype, body, needle):
    exc = parse_error(PandasDataFrame(dtype={"a": dtype}, enforce_dtype=True), body)
    assert exc.message.startswith("column 'a': ")
    assert needle in exc.message
    assert exc.detail["column"] == "a"
    assert exc.detail["expected_dtype"] == str(pd.api.types.pandas_dtype(dtype))
    assert "received_dtype" in exc.detail


def test_enforced_single_dtype_applies_to_every_column(parse, parse_error):
    descriptor = PandasDataFrame(dtype="float32", enforce_dtype=True)
    frame = parse(descriptor, '[{"a": 1, "b": 2.5}]')
    assert frame.dtypes.tolist() == [np.dtype("float32")] * 2
    assert parse_error(descriptor, '[{"a": 1, "b": "x"}]').detail["column"] == "b"


def test_float32_overflow_is_refused(parse_error):
    exc = parse_error(PandasDataFrame(dtype="float32", enforce_dtype=True), '[{"a": 1e300}]')
    assert "float32" in exc.message


def test_best_effort_dtype_converts(parse):
    descriptor = PandasDataFrame(dtype={"a": "float64", "b": "int64", "c": "str"})
    frame = parse(descriptor, '[{"a": "1.5", "b": 2.7, "c": 3}]')
    assert frame["a"].tolist() == [1.5]
    assert frame["b"].dtype == np.int64 and frame["b"].tolist() == [2]
    assert frame["c"].tolist() == ["3"]


@pytest.mark.parametrize(
    ("dtype", "body", "needle"),
    [
        ("float64", '[{"a": "abc"}]', "could not convert string to float"),
        ("int64", '[{"a": null}]', "missing values"),
        ("bool", '[{"a": "false"}]', "send true/false"),
        ("int8", '[{"a": 1000}]', "out of range"),
        ("uint8", '[{"a": -1}]', "out of range"),
        ("datetime64[ns]", '[{"a": "not a date"}]', "cannot be converted to datetime64[ns]"),
    ],
)
def test_best_effort_dtype_refuses_what_it_cannot_convert(parse_error, dtype, body, needle):
    exc = parse_error(PandasDataFrame(dtype={"a": dtype}), body)
    assert exc.detail["column"] == "a"
    assert needle in exc.message


def test_datetime_strings_are_parsed_under_enforcement(parse):
    descriptor = PandasDataFrame(dtype={"t": "datetime64[ns]"}, enforce_dtype=True)
    frame = parse(descriptor, '[{"t": "2024-01-02T03:04:05"}]')
    assert frame["t"].dtype == np.dtype("datetime64[ns]")
    assert frame["t"].iloc[0] == pd.Timestamp("2024-01-02T03:04:05")


def test_validate_leaves_the_callers_frame_alone():
    frame = pd.DataFrame({"a": [1, 2]})
    out = PandasDataFrame(dtype={"a": "float64"}).validate(frame)
    assert out["a"].dtype == np.float64
    assert frame["a"].dtype == np.int64


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


def test_csv_body(parse):
    frame = parse(PandasDataFrame(), "a,b\n1,x\n2,y\n", "text/csv")
    assert frame["a"].tolist() == [1, 2]
    assert frame["b"].tolist() == ["x", "y"]


def test_csv_keeps_declared_text_columns_as_text(parse):
    frame = parse(PandasDataFrame(dtype={"zip": "str"}), "zip,n\n00123,1\n", "text/csv")
    assert frame["zip"].tolist() == ["00123"]


def test_csv_charset_is_honoured(parse):
    body = "name\ncafé\n".encode("latin-1")
    frame = parse(PandasDataFrame(), body, "text/csv; charset=latin-1")
    assert frame["name"].tolist() == ["café"]


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("a,b\n1,2\n3,4,5\n", 3, "CSV line 3 has 3 fields, the header has 2"),
        ("a,b\n1,2\n3\n", 3, "CSV line 3 has 1 field, the header has 2"),
        ('a,b\n"x\ny",1\n1\n', 4, "CSV line 4 has 1 field"),  # quoted newline counted
    ],
)
def test_csv_ragged_rows_name_the_line(parse_error, body, line, needle):
    exc = parse_error(PandasDataFrame(), body, "text/csv")
    assert needle in exc.message
    assert exc.detail["line"] == line


@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        ("\n\n", "text/csv", 400, "no header row"),
        (b"a\n\xff\n", "text/csv", 400, "not valid utf-8"),
        ("a\n1\n", "text/csv; charset=nope", 415, "unsupported charset 'nope'"),
        ('a\n"unterminated\n', "text/csv", 400, "invalid CSV"),
    ],
)
def test_bad_csv(parse_error, body, content_type, status, needle):
    assert needle in parse_error(PandasDataFrame(), body, content_type, status=status).message


def test_csv_dtype_enforcement(parse_error):
    descriptor = PandasDataFrame(dtype={"a": "int64"}, enforce_dtype=True)
    exc = parse_error(descriptor, "a\n1.5\n", "text/csv")
    assert exc.detail["column"] == "a"


# -- parquet ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/vnd.apache.parquet"]
)
def test_parquet_body(parse, content_type):
    sent = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    frame = parse(PandasDataFrame(), _parquet(sent), content_type)
    pd.testing.assert_frame_equal(frame, sent)


@pytest.mark.parametrize("body", [b"garbage", b"PAR1" + b"\0" * 20 + b"PAR1"])
def test_garbage_parquet_is_400(parse_error, body):
    exc = parse_error(PandasDataFrame(), body, "application/octet-stream")
    assert "is not a readable parquet file" in exc.message


def test_truncated_parquet_is_400(parse_error):
    data = _parquet(pd.DataFrame({"a": range(100)}))
    exc = parse_error(PandasDataFrame(), data[: len(data) // 2], "application/octet-stream")
    assert "parquet" in exc.message


def test_parquet_goes_through_the_same_checks(parse_error):
    data = _parquet(pd.DataFrame({"a": [1.5]}))
    descriptor = PandasDataFrame(dtype={"a": "int64"}, enforce_dtype=True)
    assert parse_error(descriptor, data, "application/octet-stream").detail["column"] == "a"


def test_parquet_without_pyarrow_is_415(parse_error, monkeypatch):
    monkeypatch.setattr(_pandas_parse, "have_pyarrow", lambda: False)
    exc = parse_error(PandasDataFrame(), b"PAR1", "application/octet-stream", status=415)
    assert "parquet input needs pyarrow" in exc.message
    with pytest.raises(InvalidArgument, match="pyarrow"):
        PandasDataFrame(default_format="parquet")


@pytest.mark.parametrize("content_type", ["image/png", "application/xml", "multipart/form-data"])
def test_other_content_types_are_415(parse_error, content_type):
    exc = parse_error(PandasDataFrame(), "[]", content_type, status=415)
    assert content_type in exc.message
    assert "text/csv" in exc.detail["expected"]


# -- multipart parts -------------------------------------------------------------------------------


def test_from_part_json_csv_and_parquet():
    descriptor = PandasDataFrame()
    assert _part(descriptor, b'[{"a": 1}]')["a"].tolist() == [1]
    assert _part(descriptor, b'[{"a": 1}]', None)["a"].tolist() == [1]
    assert _part(descriptor, b"a\n2\n", "text/csv")["a"].tolist() == [2]
    data = _parquet(pd.DataFrame({"a": [3]}))
    assert _part(descriptor, data, "application/octet-stream")["a"].tolist() == [3]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "needle"),
    [
        (b"", "application/json", 400, "part body is empty"),
        (b"[{", "application/json", 400, "invalid JSON in part body"),
        (b'{"a": 1}', "application/json", 400, "orient 'records'"),
        (b"a,b\n1\n", "text/csv", 400, "CSV line 2"),
        (b"junk", "application/octet-stream", 400, "part body is not a readable parquet"),
        (b"[]", "image/png", 415, "unsupported Content-Type 'image/png'"),
        (b'[{"a": 1.5}]', "application/json", 400, "column 'a'"),
    ],
)
def test_from_part_errors_name_the_part(data, content_type, status, needle):
    descriptor = PandasDataFrame(dtype={"a": "int64"}, enforce_dtype=True)
    exc = _part_error(descriptor, data, content_type, status)
    assert needle in exc.message


# -- output ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("orient", ["records", "columns", "index", "split", "values"])
def test_json_output_is_to_json_in_the_orient(render, orient):
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, None]})
    response = render(PandasDataFrame(orient=orient), frame)
    assert response.body == frame.to_json(orient=orient).encode()
    assert response.headers["content-type"] == "application/json"


def test_json_output_reads_back_in_every_orient(render, parse):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for orient in ["records", "columns", "index", "split"]:
        descriptor = PandasDataFrame(orient=orient)
        body = render(descriptor, frame).body
        pd.testing.assert_frame_equal(parse(descriptor, body), frame)


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


# -- declaration errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"orient": "table"},
        {"default_format": "xml"},
        {"apply_column_names": True},
        {"enforce_dtype": True},
        {"enforce_shape": True},
        {"shape": (3,)},
        {"shape": (-2, 1)},
        {"dtype": "no-such-dtype"},
        {"columns": ["a", "a"]},
        {"columns": ["a"], "dtype": {"b": "int64"}},
        {"orient": "values", "columns": ["a"], "shape": (-1, 1), "enforce_shape": True},
        {"columns": ["a", "b"], "shape": (-1, 3), "enforce_shape": True},
    ],
)
def test_unusable_arguments_are_refused_at_declaration(kwargs):
    with pytest.raises(InvalidArgument):
        PandasDataFrame(**kwargs)


# -- OpenAPI ---------------------------------------------------------------------------------------


def _validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_records_schema_with_enforced_columns_and_dtypes():
    descriptor = PandasDataFrame(
        columns=["n", "s"], dtype={"n": "int8", "s": "str"}, enforce_dtype=True
    )
    schema = descriptor.openapi_schema()
    row = schema["items"]
    assert row["required"] == ["n", "s"] and row["additionalProperties"] is False
    assert row["properties"]["n"]["type"] == "integer"
    assert row["properties"]["n"]["maximum"] == 127
    validator = _validator(schema)
    assert validator.is_valid([{"n": 1, "s": "x"}, {"n": -3, "s": None}])
    assert not validator.is_valid([{"n": 1}])
    assert not validator.is_valid([{"n": 1000, "s": "x"}])
    assert not validator.is_valid([{"n": "1", "s": "x"}])
    assert not validator.is_valid({"n": [1]})


def test_schema_without_enforcement_accepts_any_scalar_cells():
    schema = PandasDataFrame(columns=["a"], dtype={"a": "float64"}).openapi_schema()
    validator = _validator(schema)
    assert schema["items"]["properties"]["a"]["x-pandas-dtype"] == "float64"
    assert validator.is_valid([{"a": "1.5", "b": 2}])
    assert not validator.is_valid([{"a": [1]}])


@pytest.mark.parametrize(
    ("kwargs", "valid", "invalid"),
    [
        ({"orient": "values", "shape": (2, 2), "enforce_shape": True},
         [[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]]),
        ({"orient": "columns"}, {"a": {"0": 1}, "b": [1]}, {"a": 1}),
        ({"orient": "index"}, {"r": {"a": 1}}, {"r": [1]}),
        ({"orient": "split"}, {"columns": ["a"], "data": [[1]]}, {"columns": ["a"]}),
        ({"columns": ["a", "b"], "apply_column_names": True}, [[1, 2], [3, 4]], [[1]]),
        ({"columns": ["a", "b"], "apply_column_names": True}, [{"a": 1}], [[1, 2], {"a": 1}]),
    ],
)  # fmt: skip
def test_schema_of_each_orient_validates_accepted_bodies(parse, kwargs, valid, invalid):
    descriptor = PandasDataFrame(**kwargs)
    validator = _validator(descriptor.openapi_schema())
    assert validator.is_valid(valid)
    assert not validator.is_valid(invalid)
    if kwargs.get("orient") != "columns":  # mixed column forms are schema-valid, refused by parse
        parse(descriptor, json.dumps(valid))


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
    assert parse_error(descriptor, '[{"x": "1", "label": "a"}]').detail["column"] == "x"


def test_from_sample_with_another_orient():
    sample = pd.DataFrame({"x": [1, 2]})
    descriptor = PandasDataFrame.from_sample(sample, orient="split")
    example = descriptor.openapi_example()
    assert example == {"columns": ["x"], "index": [0, 1], "data": [[1], [2]]}
    assert _validator(descriptor.openapi_schema()).is_valid(example)


def test_from_sample_needs_a_frame():
    with pytest.raises(InvalidArgument):
        PandasDataFrame.from_sample([[1, 2]])


# -- PandasSeries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orient", "body", "index"),
    [
        ("records", "[1, 2]", [0, 1]),
        ("values", "[1, 2]", [0, 1]),
        ("index", '{"a": 1, "b": 2}', ["a", "b"]),
        ("index", '{"0": 1, "1": 2}', [0, 1]),
        ("split", '{"name": "n", "index": [5, 6], "data": [1, 2]}', [5, 6]),
    ],
)
def test_series_orients(parse, orient, body, index):
    series = parse(PandasSeries(orient=orient), body)
    assert isinstance(series, pd.Series)
    assert series.tolist() == [1, 2]
    assert list(series.index) == index


@pytest.mark.parametrize(
    ("orient", "body", "status", "needle"),
    [
        ("records", '{"a": 1}', 400, "orient 'records' expects an array, got an object"),
        ("index", "[1]", 400, "orient 'index' expects an object"),
        ("records", "[1, [2]]", 400, "element 1 is an array"),
        ("index", '{"a": {"b": 1}}', 400, "element 'a' is an object"),
        ("split", '{"data": [1], "index": [1, 2]}', 400, "'index' must be an array of 1"),
        ("split", '{"data": [1], "other": 1}', 400, "unexpected keys ['other']"),
        ("split", '{"name": [1], "data": [1]}', 400, "'name' must be"),
        ("records", "", 400, "empty"),
        ("records", "[1", 400, "invalid JSON"),
    ],
)
def test_series_bad_bodies(parse_error, orient, body, status, needle):
    exc = parse_error(PandasSeries(orient=orient), body, status=status)
    assert needle in exc.message


def test_series_content_type(parse_error):
    exc = parse_error(PandasSeries(), "1\n2\n", "text/csv", status=415)
    assert "'text/csv'" in exc.message


def test_series_enforcement(parse, parse_error):
    descriptor = PandasSeries(dtype="int16", enforce_dtype=True, shape=(3,), enforce_shape=True)
    series = parse(descriptor, "[1, 2.0, 3]")
    assert series.dtype == np.int16 and series.tolist() == [1, 2, 3]
    exc = parse_error(descriptor, "[1, 2]")
    assert exc.detail == {"expected_shape": [3], "received_shape": [2]}
    exc = parse_error(descriptor, '[1, 2, "3"]')
    assert exc.message == (
        "series: mixed-type values (dtype object) cannot be used as int16 without loss; "
        "first at row 2: a string"
    )
    assert exc.detail["expected_dtype"] == "int16"
    assert "out of range" in parse_error(descriptor, "[1, 2, 70000]").message


def test_series_best_effort_dtype(parse, parse_error):
    assert parse(PandasSeries(dtype="float64"), '["1.5", 2]').tolist() == [1.5, 2.0]
    assert "send true/false" in parse_error(PandasSeries(dtype="bool"), '["no"]').message


def test_series_from_part():
    descriptor = PandasSeries(dtype="float64", enforce_dtype=True)
    assert _part(descriptor, b"[1, 2]", name="s").tolist() == [1.0, 2.0]
    assert "string values" in _part_error(descriptor, b'["x"]', name="s").message
    _part_error(descriptor, b"[1]", "text/csv", status=415, name="s")


@pytest.mark.parametrize("orient", ["records", "values", "index", "split"])
def test_series_output(render, parse, orient):
    series = pd.Series([1.5, 2.5], index=[0, 1], name="n")
    descriptor = PandasSeries(orient=orient)
    body = render(descriptor, series).body
    assert body == series.to_json(orient=orient).encode()
    assert parse(descriptor, body).tolist() == [1.5, 2.5]


def test_series_schema_and_from_sample(parse):
    descriptor = PandasSeries.from_sample(pd.Series([1, 2, 3], dtype="int32"), enforce_dtype=True)
    assert descriptor.dtype == np.int32 and descriptor.shape == (-1,)
    schema = descriptor.openapi_schema()
    validator = _validator(schema)
    assert validator.is_valid(descriptor.openapi_example())
    assert descriptor.openapi_example() == [1, 2, 3]
    assert not validator.is_valid([1.5]) and not validator.is_valid({"a": 1})
    split = _validator(PandasSeries(orient="split").openapi_schema())
    assert split.is_valid({"name": "x", "data": [1]}) and not split.is_valid({"index": [1]})
    index = _validator(
        PandasSeries(orient="index", shape=(1,), enforce_shape=True).openapi_schema()
    )
    assert index.is_valid({"a": 1}) and not index.is_valid({"a": 1, "b": 2})


@pytest.mark.parametrize(
    "kwargs",
    [{"orient": "columns"}, {"dtype": {"a": "int64"}}, {"enforce_dtype": True},
     {"enforce_shape": True}, {"shape": (1, 2)}],
)  # fmt: skip
def test_series_unusable_arguments(kwargs):
    with pytest.raises(InvalidArgument):
        PandasSeries(**kwargs)


# -- nothing escapes as a raw exception ------------------------------------------------------------


def test_random_bodies_raise_only_framework_errors(parse):
    rng = random.Random(4321)
    alphabet = [*'[]{},:"0123456789.-eE nultrfabc\\', '"a"', '"b"', "null", "true", "9" * 25]
    descriptors = [
        PandasDataFrame(),
        PandasDataFrame(orient="split"),
        PandasDataFrame(orient="columns"),
        PandasDataFrame(orient="index", dtype="int8"),
        PandasDataFrame(
            orient="values",
            columns=["a", "b"],
            apply_column_names=True,
            dtype="float32",
            enforce_dtype=True,
        ),
        PandasSeries(dtype="bool"),
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
                if isinstance(descriptor, PandasSeries) and content_type == "text/csv":
                    assert exc.status_code == 415
                else:
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
