"""CSV and parquet bodies read by the shorter way give exactly the frame classic's
``pd.read_csv`` / ``pd.read_parquet`` gives: values, dtypes, column names, index and its type."""

from __future__ import annotations

import io
import random

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.exceptions import BadInput
from bentoml_classic.io import _pandas_files

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

#: pandas' default NA spellings, and cells near them that are numbers or text
_NA_SPELLINGS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
_OTHER_CELLS = [
    "inf", "-inf", "Infinity", "1e5", "1E-5", ".5", "5.", "+5", "-0", " 1", "1 ", "True",
    "False", "TRUE", "x", '"1"', '"NA"', '"1,5"', "18446744073709551615",
    "9223372036854775808", "-9223372036854775809", "0x10", "1_000", "é",
]  # fmt: skip


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert type(got.index) is type(expected.index)
    assert got.columns.dtype == expected.columns.dtype
    for position, dtype in enumerate(expected.dtypes):
        if isinstance(dtype, np.dtype) and dtype.kind in "iufb":  # NaN's sign bit too
            got_bytes = got.iloc[:, position].to_numpy().tobytes()
            assert got_bytes == expected.iloc[:, position].to_numpy().tobytes()


def _classic_csv(body: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(body))


def _csv(body: bytes) -> pd.DataFrame:
    return _pandas_files.frame_from_csv(body, None, None, "request body")


@pytest.mark.parametrize("cell", _NA_SPELLINGS + _OTHER_CELLS)
@pytest.mark.parametrize("first", ["1", "1.5", "True"])
def test_a_cell_after_numbers_reads_as_read_csv_reads_it(cell: str, first: str) -> None:
    body = f"a,b\n{first},2\n{cell},3\n4,5\n".encode()
    _same(_csv(body), _classic_csv(body))


@pytest.mark.parametrize(
    "body",
    [
        "a,b\n1,2\n3,4\n",  # ints
        "a,b\n1,2.5\n3,4\n",  # an int and a float column
        "NA,null\n1,2\n",  # NA spellings as column names stay names
        "a,a,a\n1,2,3\n",  # repeated names: a, a.1, a.2
        "é,ü,名前\n1,2,3\n",  # unicode names
        '"x,y",b\n1,2\n',  # a quoted name with the separator in it
        'a,b\n"1","2"\n3,4\n',  # quoted numbers
        "a,b\n1,2,3\n4,5,6\n",  # one more field than names: the first is the index
        "a,b\nNA,2,3\n4,5,6\n",  # ... and an NA spelling in that index
        "a,b,c\n1,2\n",  # a short row, padded with NaN
        "a,b\n1,2\n\n3,4\n",  # an empty line
        "a,b\r\n1,2\r\n3,4\r\n",  # CRLF
        "a,b\n1,\n3,4\n",  # an empty cell in the first row
        "a,b\n1e300,-0\n1e-320,inf\n",  # extremes
        "a\n18446744073709551615\n1\n",  # beyond int64
        "a,b\n1,2",  # no newline at the end
        "a,b\n",  # names only
    ],
)
def test_bodies_read_as_read_csv_reads_them(body: str) -> None:
    _same(_csv(body.encode()), _classic_csv(body.encode()))


def test_generated_bodies_read_as_read_csv_reads_them() -> None:
    cells = ["1", "2.5", "-3", "0", "1e3"] * 6 + _NA_SPELLINGS + _OTHER_CELLS
    draw = random.Random(17)
    for _ in range(150):
        width = draw.randint(1, 4)
        rows = [",".join(f"c{i}" for i in range(width))]
        rows += [",".join(draw.choice(cells) for _ in range(width)) for _ in range(6)]
        body = "\n".join(rows).encode()
        try:
            expected = _classic_csv(body)
        except Exception:
            with pytest.raises(BadInput):
                _csv(body)
            continue
        _same(_csv(body), expected)


def test_numbers_take_the_shorter_way_and_text_does_not() -> None:
    """The short way is what the numbers get (else this module would only cost a check)."""
    numbers = b"a,b\n1,2.5\n3,4\n"
    assert _pandas_files._first_row_is_numbers(numbers)
    assert _pandas_files._numbers_frame(numbers, "utf-8") is not None
    later_na = b"a,b\n1,2\nNA,4\n"
    assert _pandas_files._first_row_is_numbers(later_na)
    assert _pandas_files._numbers_frame(later_na, "utf-8") is None  # then read_csv itself
    for text in (b"a,b\nx,2\n", b"a,b\n1,\n", b"a,b\n,1\n", b"a,b\n1,,2\n", b"a,b\n\n1,2\n"):
        assert not _pandas_files._first_row_is_numbers(text)


@pytest.mark.parametrize("body", [b"a,b,c\n1,2.5,3\n4,5,6\n", b"a,b,c\nx,2.5,3\nNA,5,6\n"])
def test_csv_columns_of_a_dtype_are_one_block(body: bytes) -> None:
    """As pandas 2 built them: one block per dtype, not one per column."""
    frame = _csv(body)
    assert frame._mgr.nblocks == frame.dtypes.nunique()
    _same(frame, _classic_csv(body))


def test_enforced_dtypes_and_charsets_still_read_csv() -> None:
    frame = _pandas_files.frame_from_csv(b"zip,n\n00123,1\n", None, {"zip": "str"}, "body")
    assert frame["zip"].tolist() == ["00123"]
    latin = "n\n1\n".encode("latin-1")
    _same(_pandas_files.frame_from_csv(latin, "latin-1", None, "body"), _classic_csv(latin))


def test_bad_csv_is_the_same_400() -> None:
    with pytest.raises(BadInput) as caught:
        _csv(b"a,b\n1,2\n3,4,5\n")
    assert caught.value.detail["line"] == 3


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
