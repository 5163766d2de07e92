"""PandasSeries: what classic BentoML's ``pd.read_json(typ="series")`` made of the body, then its
shape and dtype checks; a large array of plain numbers gives the same Series by a cheaper road."""

from __future__ import annotations

import asyncio
import io
import json
import warnings

import jsonschema
import numpy as np
import pandas as pd
import pytest

from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.io import PandasSeries
from bentoml_classic.io._numeric_json import MIN_BODY
from bentoml_classic.io.base import Part
from bentoml_classic.io.mediatype import parse_media_type

BODIES = [
    "[1, 2]",
    "[1.0, 2.0]",
    "[1, 2.5]",
    '["1", "2"]',
    '["a", 1]',
    "[true, false]",
    "[1, null]",
    "[40000000, 50000000]",
    "[1e20, 1.0]",
    "[9223372036854775808, 1]",
    "[18446744073709551616, -1]",
    "[true, 1]",
    "[1.5, NaN]",
    '{"a": 1, "b": 2}',
    '{"0": 1, "1": 2}',
    '{"name": "n", "index": [5, 6], "data": [1, 2]}',
    '{"data": [1], "other": 1}',
    "[[1, 2], [3]]",
    "[]",
    "5",
    '"x"',
]


def _classic(body: str | bytes, orient: str, **kwargs) -> pd.Series | None:
    data = body.encode() if isinstance(body, str) else body
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.read_json(io.BytesIO(data), typ="series", orient=orient, **kwargs)
    except Exception:
        return None


def _part(descriptor, data, content_type="application/json"):
    part = Part(name="s", data=data, media_type=parse_media_type(content_type))
    return asyncio.run(descriptor.from_part(part))


@pytest.mark.parametrize("orient", ["records", "values", "index", "split"])
def test_every_body_pandas_reads_is_the_series_classic_handed_over(parse, orient):
    descriptor = PandasSeries(orient=orient)
    for body in BODIES:
        expected = _classic(body, orient, dtype=True)
        if expected is None:  # classic answered a 500: a 400 here, or served (json.loads reads
            try:  # integers beyond 64 bits that pandas' own parser refused)
                parse(descriptor, body)
            except BentoMLException as exc:
                assert exc.status_code == 400, (orient, body)
            continue
        pd.testing.assert_series_equal(parse(descriptor, body), expected, obj=f"{orient} {body}")


@pytest.mark.parametrize(
    "values",
    [
        list(range(40_000)),
        [i + 0.5 for i in range(20_000)],
        [float(i) for i in range(20_000)],
        [1_700_000_000_000 + i for i in range(10_000)],
        [-(2**62), 2**62] * 5_000,
    ],
    ids=["ints", "floats", "integral floats", "timestamps", "wide ints"],
)
def test_large_arrays_of_numbers_take_the_fast_path_to_the_same_series(parse, values):
    body = json.dumps(values)
    assert len(body) >= MIN_BODY
    pd.testing.assert_series_equal(parse(PandasSeries(), body), _classic(body, "records"))


def test_the_content_type_is_not_looked_at(parse):
    assert parse(PandasSeries(), "[1, 2]", "text/csv").tolist() == [1, 2]
    assert parse(PandasSeries(), "[1, 2]", None).tolist() == [1, 2]


@pytest.mark.parametrize(
    ("orient", "body", "needle"),
    [
        ("records", "", "empty"),
        ("records", "[1", "invalid JSON"),
        ("split", '{"data": [1], "other": 1}', "unexpected key(s): other"),
    ],
)
def test_bad_bodies(parse_error, orient, body, needle):
    assert needle in parse_error(PandasSeries(orient=orient), body).message


def test_enforced_dtype_and_shape(parse, parse_error):
    descriptor = PandasSeries(dtype="int16", enforce_dtype=True, shape=(3,), enforce_shape=True)
    series = parse(descriptor, '[1, 2.7, "3"]')
    assert series.dtype == np.int16 and series.tolist() == [1, 2, 3]  # as read_json's astype
    exc = parse_error(descriptor, "[1, 2]")
    assert exc.detail == {"expected_shape": [3], "received_shape": [2]}
    exc = parse_error(descriptor, '[1, 2, "three"]')
    assert exc.message.startswith("series: ")
    assert "cannot be used as int16; first at row 2: a string 'three'" in exc.message
    assert exc.detail["expected_dtype"] == "int16"
    assert "out of range" in parse_error(descriptor, "[1, 2, 70000]").message


def test_numeric_strings_under_an_enforced_float_dtype(parse, parse_error):
    descriptor = PandasSeries(dtype="float32", enforce_dtype=True)
    assert parse(descriptor, '["5.9", "3.0"]').tolist() == pytest.approx([5.9, 3.0])
    exc = parse_error(descriptor, '["5.9", "x"]')
    assert "first at row 1: a string 'x'" in exc.message


def test_declared_dtype_without_enforce_is_cast_where_numpy_calls_it_same_kind(parse):
    assert parse(PandasSeries(dtype="float32"), "[1, 2]").dtype == np.float32
    kept = parse(PandasSeries(dtype="float64"), '["a", 1]')  # no same-kind cast: as it came
    assert kept.tolist() == ["a", 1]


def test_from_part_reads_json_whatever_the_type():
    descriptor = PandasSeries(dtype="float64", enforce_dtype=True)
    assert _part(descriptor, b"[1, 2]").tolist() == [1.0, 2.0]
    assert _part(descriptor, b"[1, 2]", "text/csv").tolist() == [1.0, 2.0]
    with pytest.raises(BentoMLException) as info:
        _part(descriptor, b'["x"]')
    assert info.value.detail["part"] == "s"


@pytest.mark.parametrize("orient", ["records", "values", "index", "split"])
def test_output(render, parse, orient):
    series = pd.Series([1.5, 2.5], index=[0, 1], name="n")
    descriptor = PandasSeries(orient=orient)
    body = render(descriptor, series).body
    assert body == series.to_json(orient=orient).encode()
    assert parse(descriptor, body).tolist() == [1.5, 2.5]


def _validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_and_from_sample(parse):
    descriptor = PandasSeries.from_sample(pd.Series([1, 2, 3], dtype="int32"), enforce_dtype=True)
    assert descriptor.dtype == np.int32 and descriptor.shape == (-1,)
    validator = _validator(descriptor.openapi_schema())
    assert descriptor.openapi_example() == [1, 2, 3]
    assert validator.is_valid(descriptor.openapi_example())
    assert validator.is_valid(["1", 2.5])  # numeric strings and truncated floats are taken
    assert not validator.is_valid({"a": 1}) and not validator.is_valid([2**40])
    split = _validator(PandasSeries(orient="split").openapi_schema())
    assert split.is_valid({"name": "x", "data": [1]}) and not split.is_valid({"index": [1]})
    index = _validator(
        PandasSeries(orient="index", shape=(1,), enforce_shape=True).openapi_schema()
    )
    assert index.is_valid({"a": 1}) and not index.is_valid({"a": 1, "b": 2})


@pytest.mark.parametrize("kwargs", [{"orient": "columns"}, {"dtype": {"a": "int64"}},
                                    {"shape": (1, 2)}])  # fmt: skip
def test_unusable_arguments(kwargs):
    with pytest.raises(InvalidArgument):
        PandasSeries(**kwargs)


def test_enforce_without_a_dtype_or_shape_warns_as_classic_took_it():
    with pytest.warns(UserWarning, match="enforces nothing"):
        PandasSeries(enforce_dtype=True)
    with pytest.warns(UserWarning, match="enforces nothing"):
        PandasSeries(enforce_shape=True)
