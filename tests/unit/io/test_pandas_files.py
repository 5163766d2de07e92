"""Parquet bodies read by the shorter way give exactly the frame classic's ``pd.read_parquet``
gives: values, dtypes, column names, index and its type."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.exceptions import BadInput
from bentoml_classic.io import _pandas_files

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

# -- parquet ---------------------------------------------------------------------------------


def _parquet(frame: pd.DataFrame, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", **kwargs)
    return buffer.getvalue()


def _with_attrs() -> pd.DataFrame:
    frame = pd.DataFrame({"a": [1.0]})
    frame.attrs = {"source": "sensor"}
    return frame


_RNG = np.random.default_rng(17)
_FRAMES = {
    "floats": pd.DataFrame(_RNG.random((20, 3)), columns=["a", "b", "c"]),
    "ints, uints, bools, float32": pd.DataFrame(
        {
            "i": [1, 2, 3],
            "u": np.array([1, 2, 3], np.uint8),
            "b": [True, False, True],
            "f": np.array([1, 2, 3], np.float32),
        }
    ),
    "float16": pd.DataFrame({"h": np.array([1, 2], np.float16)}),
    "floats with NaN": pd.DataFrame({"x": [1.0, None, 3.0]}),
    "nullable Int64": pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int64")}),
    "named int index": pd.DataFrame({"a": [1.0, 2.0]}, index=pd.Index([5, 7], name="k")),
    "range index with a step": pd.DataFrame({"a": [1.0, 2.0]}, index=pd.RangeIndex(10, 14, 2)),
    "int column names": pd.DataFrame(_RNG.random((2, 2))),
    "two-level column names": pd.DataFrame(
        [[1.0, 2.0]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    ),
    "string index": pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"]),
    "strings": pd.DataFrame({"s": ["a", None]}),
    "dates with a zone": pd.DataFrame(
        {"d": pd.to_datetime(["2020-01-01", None]).tz_localize("Europe/Paris")}
    ),
    "categories": pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])}),
    "attributes": _with_attrs(),
}


@pytest.mark.parametrize("index", [None, False, True])
@pytest.mark.parametrize("name", list(_FRAMES))
def test_parquet_bodies_read_as_read_parquet_reads_them(name: str, index: bool | None) -> None:
    body = _parquet(_FRAMES[name], index=index)
    expected = pd.read_parquet(io.BytesIO(body), engine="pyarrow")
    got = _pandas_files.frame_from_parquet(body, "request body")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert type(got.index) is type(expected.index)
    assert got.attrs == expected.attrs


def test_parquet_without_pandas_metadata() -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": [1, 2]}), buffer)
    body = buffer.getvalue()
    expected = pd.read_parquet(io.BytesIO(body), engine="pyarrow")
    pd.testing.assert_frame_equal(_pandas_files.frame_from_parquet(body, "body"), expected)


def test_numbers_take_the_shorter_parquet_way_and_the_rest_does_not() -> None:
    def numbers_only(frame: pd.DataFrame) -> bool:
        schema = pq.ParquetFile(pa.BufferReader(_parquet(frame))).schema_arrow
        return _pandas_files._numbers_only(schema)

    assert numbers_only(_FRAMES["floats"])
    assert numbers_only(_FRAMES["ints, uints, bools, float32"])
    for name in ("string index", "strings", "dates with a zone", "categories", "attributes"):
        assert not numbers_only(_FRAMES[name]), name


@pytest.mark.parametrize("body", [b"PAR1", b"PAR1" + bytes(100) + b"PAR1", b"junk"])
def test_garbage_parquet_is_a_400(body: bytes) -> None:
    with pytest.raises(BadInput, match="is not a readable parquet file"):
        _pandas_files.frame_from_parquet(body, "request body")
