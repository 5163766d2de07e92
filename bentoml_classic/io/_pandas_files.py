"""CSV and parquet request bodies to the frame classic BentoML's ``pd.read_csv`` /
``pd.read_parquet`` call made of them, by a shorter way where the body allows it.

Both readers spend part of their time on what most bodies of numbers do not need, and the
shorter way is taken only where it gives the same frame; any other body is read by classic's
own call, so what the function receives never depends on which way was taken:

- CSV: ``pd.read_csv`` compares every cell with its list of NA spellings. Where the body is
  numbers, no cell can match one and still parse as a number that differs (``NaN``, ``nan``,
  ``inf`` parse to the same floats either way), so the comparison is switched off
  (``na_filter=False``) and the result kept only where every column and the index came out
  numeric or boolean. A cell that matched a spelling, or any text, makes a text column instead:
  then the body is read again by classic's call. Bodies whose first row already has text or an
  empty cell go to classic's call at once, so a frame of strings is not read twice.
- parquet: ``pd.read_parquet`` goes through pyarrow's dataset layer and its thread pool, then
  converts with the pandas metadata. Where every column of the file is a number or a boolean,
  the file is read by ``ParquetFile`` on the calling thread and converted by ``to_pandas``
  (the same conversion pandas calls, with the same metadata: index, column names, nullable
  dtypes); files with text, dates, categories or pandas attributes go to ``pd.read_parquet``,
  whose own steps (time zones, attributes) may then apply. Threads cost more than they save
  on a body of this size when every CPU is already serving requests.

A CSV frame is also handed over with its columns of one dtype in one block, as pandas 2 (under
classic BentoML) built it: pandas 3's ``read_csv`` keeps a block per column, which makes every
row-wise operation of the model (a sum, ``to_numpy``) walk them one by one, and the runner call
send and rebuild each.

What pandas or pyarrow refuses, classic answered with a 500; here it is a 400 that says why.
"""

from __future__ import annotations

import codecs
import contextlib
import importlib.util
import io
import re
from typing import Any

import pandas as pd

from ..exceptions import BadInput, UnsupportedMediaType, excerpt
from ..frame_dtypes import column_dtypes

_LINE = re.compile(r"line (\d+)")
#: what a first row of numbers may hold besides digits: separators, signs, points, exponents,
#: quotes and spaces (a letter or an empty cell means text or NA spellings further on)
_NUMBER_BYTES = b'0123456789.,+-eE" \t\r'
#: how much of the body the first-row look reads at most
_FIRST_ROW_BYTES = 4096


def _reason(exc: BaseException) -> str:
    return excerpt(str(exc).strip() or type(exc).__name__)


def frame_from_csv(body: bytes, charset: str | None, dtype: Any, where: str) -> pd.DataFrame:
    """``pd.read_csv`` of the bytes (a StringIO of the text would hold four bytes a character)."""
    encoding = "utf-8"
    if charset:
        # classic never looked at the charset: an unusable one is ignored
        with contextlib.suppress(LookupError, ValueError):
            encoding = codecs.lookup(charset).name
    if dtype is None and _first_row_is_numbers(body):
        frame = _numbers_frame(body, encoding)
        if frame is not None:
            return _one_block_per_dtype(frame)
    try:
        return _one_block_per_dtype(pd.read_csv(io.BytesIO(body), encoding=encoding, dtype=dtype))
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{where} is not valid {encoding}: {exc.reason} at byte {exc.start}",
            detail={"charset": encoding, "byte_offset": exc.start},
        ) from None
    except Exception as exc:  # ParserError, EmptyDataError, ValueError for dtypes, ...
        reason = _reason(exc)
        match = _LINE.search(reason)
        line = int(match.group(1)) if match else None
        at = f" at line {line}" if line is not None else ""
        raise BadInput(
            f"invalid CSV{at} in the {where}: {reason}", detail={"line": line, "reason": reason}
        ) from None


def _one_block_per_dtype(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its columns of one dtype joined into one block (one copy of them)."""
    consolidate = getattr(frame, "_consolidate_inplace", None)
    if consolidate is not None:  # pandas' own, not public: without it the frame stays as read
        consolidate()
    return frame


def _first_row_is_numbers(body: bytes) -> bool:
    """Whether the row after the header holds only numbers (no text, no empty cell)."""
    start = body.find(b"\n", 0, _FIRST_ROW_BYTES) + 1
    if start == 0:
        return False
    end = body.find(b"\n", start, start + _FIRST_ROW_BYTES)
    row = body[start : end if end != -1 else start + _FIRST_ROW_BYTES].rstrip(b"\r")
    if not row or row.translate(None, _NUMBER_BYTES):
        return False
    return not (row.startswith(b",") or row.endswith(b",") or b",," in row)


def _numbers_frame(body: bytes, encoding: str) -> pd.DataFrame | None:
    """``pd.read_csv`` without its NA comparison, where every column and the index came out
    numbers or booleans (then no cell was an NA spelling); else None."""
    try:
        frame = pd.read_csv(io.BytesIO(body), encoding=encoding, na_filter=False)
    except Exception:  # classic's call says what is wrong, in its own words
        return None
    if frame.index.dtype.kind not in "iufb":
        return None
    if not all(dtype.kind in "iufb" for dtype in column_dtypes(frame)):
        return None
    return frame


def have_pyarrow() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def frame_from_parquet(body: bytes, where: str) -> pd.DataFrame:
    if not have_pyarrow():
        raise UnsupportedMediaType(
            "parquet input needs pyarrow, which is not installed on this server; send JSON or CSV",
            detail={
                "reason": "pyarrow not installed",
                "expected": ["application/json", "text/csv"],
            },
        )
    try:
        return _read_parquet(body)
    except Exception as exc:  # pyarrow's errors (ArrowInvalid, OSError, ...) on hostile bytes
        reason = _reason(exc)
        raise BadInput(
            f"{where} is not a readable parquet file: {reason}",
            detail={"reason": reason, "exception": type(exc).__name__},
        ) from None


def _read_parquet(body: bytes) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet_file = pq.ParquetFile(pa.BufferReader(body))
    schema = parquet_file.schema_arrow
    if not _numbers_only(schema):
        return pd.read_parquet(io.BytesIO(body), engine="pyarrow")
    table = parquet_file.read(use_threads=False, use_pandas_metadata=True)
    frame = table.to_pandas(use_threads=False)
    assert isinstance(frame, pd.DataFrame)
    return frame


def _numbers_only(schema: Any) -> bool:
    """Every column (index columns included) an integer, a float or a boolean, and no pandas
    attributes to restore."""
    import pyarrow.types as types

    if schema.metadata and b"PANDAS_ATTRS" in schema.metadata:
        return False
    return all(
        types.is_integer(kind) or types.is_floating(kind) or types.is_boolean(kind)
        for kind in schema.types
    )
