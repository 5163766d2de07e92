"""Request bodies to pandas objects the way classic BentoML read them, one function per wire format.

Classic handed the function what ``pd.read_json(body, orient=..., dtype=...)`` made of a JSON
body (CSV and parquet: ``_pandas_files``), and the values here are the same: pandas' orient
fallbacks (a records-orient API reading ``{"a": [1, 2]}`` as columns), its dtype inference
(numeric strings to numbers, integral floats to ints, large numbers and date-like column names
to datetimes).

For JSON, ``pd.read_json`` parses the body into Python objects, builds the frame, then converts
it, at 20 to 35 times the body (a 15 MB array of numbers took 520 MB). Here the body is read by
``json.loads`` (or, for a large array of plain numbers, by numpy), the object is built with the
same constructor, and pandas' own parser class makes the same conversions: the result is what
``pd.read_json`` gives, at the cost of ``json.loads``. (pandas' parser reads floats with a fast
routine that can be one unit in the last place off; ``json.loads`` reads them exactly.)

What pandas refuses, classic answered with a 500; here it is a 400 that says why, and for JSON
that is not even JSON, ``json.loads`` names the line and column.
"""

from __future__ import annotations

import functools
import inspect
import io
from collections.abc import Callable
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import BadInput, excerpt
from ._pandas_inference import inferred_numeric_frame, known_unchanged, remember_unchanged
from ._pandas_records import numeric_records_frame, records_frame
from .base import load_json_body

#: a look at a frame or series as built from the body, before pandas converts its dtypes
RawCheck = Callable[[Any], None]


def _reason(exc: BaseException) -> str:
    return excerpt(str(exc).strip() or type(exc).__name__)


#: the orients whose bodies are built here from ``json.loads`` as pandas builds them (``split``
#: with pandas' own key check and column names); ``table`` goes to ``pd.read_json`` (a schema)
_CONSTRUCTED = {"records", "columns", "values", "index", "split"}
#: a series' split body (a name besides its data) is ``pd.read_json``'s
_CONSTRUCTED_SERIES = _CONSTRUCTED - {"split"}


def frame_from_json(
    body: bytes, orient: str, dtype: Any, where: str, check: RawCheck | None = None
) -> pd.DataFrame:
    """What ``pd.read_json(body, orient=orient, dtype=dtype)`` gives: classic's call, with
    ``dtype`` True (infer) or the enforced dtypes. ``check`` sees the frame as built, before
    pandas converts it (and may refuse it)."""
    if orient not in _CONSTRUCTED or _pandas_parser("frame") is None:
        return _read_json(body, orient, dtype, "frame", where)
    if orient == "split" and _split_names() is None:
        return _read_json(body, orient, dtype, "frame", where)
    frame = _records(body, dtype) if orient == "records" else None
    if frame is None:
        frame = _built_frame(body, orient, where)
    if check is not None:
        check(frame)
    try:
        result = _as_read_json_would(frame, "frame", orient, dtype)
    except Exception as exc:  # pandas' ValueError, AttributeError, TypeError on odd shapes
        raise _unshapable(exc, orient, "DataFrame", where) from None
    assert isinstance(result, pd.DataFrame)
    return result


def _records(body: bytes, dtype: Any) -> pd.DataFrame | None:
    """A records body read without a dict per record (``_pandas_records``): plain numbers into
    one float64 block where pandas' inference follows, any values as ``pd.DataFrame`` builds
    them otherwise; None where the records differ in their keys, or the body is no list of
    records (then ``_built_frame`` reads it, or says what is wrong)."""
    frame = numeric_records_frame(body) if dtype is True else None
    return records_frame(body) if frame is None else frame


def _built_frame(body: bytes, orient: str, where: str) -> pd.DataFrame:
    """``pd.DataFrame(json.loads(body))``, as pandas builds it for the orient."""
    obj = load_json_body(body, where)
    try:
        if orient == "index":
            if obj == []:
                obj = {}  # the same empty frame, without pandas' deprecated non-dict path
            elif not isinstance(obj, dict):  # pandas fails on it too (and warns first)
                raise TypeError(f"an index-orient body is a JSON object, not {type(obj).__name__}")
            frame = pd.DataFrame.from_dict(obj, dtype=None, orient="index")
        elif orient == "split":
            frame = _split_frame(obj)
        else:
            frame = _constructed(obj)
    except Exception as exc:  # pandas' ValueError, AttributeError, TypeError on odd shapes
        raise _unshapable(exc, orient, "DataFrame", where) from None
    return frame  # and the parsed objects, its largest part, are gone before converting


def series_from_json(
    body: bytes,
    orient: str,
    dtype: Any,
    where: str,
    numbers: Any = None,
    check: RawCheck | None = None,
) -> pd.Series:
    """What ``pd.read_json(body, typ="series", orient=orient, dtype=dtype)`` gives; ``numbers``
    is the body already read by the numeric fast path, if it was; ``check`` as for frames."""
    if orient not in _CONSTRUCTED_SERIES or _pandas_parser("series") is None:
        return _read_json(body, orient, dtype, "series", where)
    obj = load_json_body(body, where) if numbers is None else numbers
    try:
        # (the fast path's array becomes the series' own, without a copy)
        series = _column(obj) if type(obj) is list and obj else pd.Series(obj, copy=False)
    except Exception as exc:
        raise _unshapable(exc, orient, "Series", where) from None
    if check is not None:
        check(series)
    try:
        result = _as_read_json_would(series, "series", orient, dtype)
    except Exception as exc:
        raise _unshapable(exc, orient, "Series", where) from None
    assert isinstance(result, pd.Series)
    return result


def _constructed(obj: Any) -> pd.DataFrame:
    """``pd.DataFrame(obj, dtype=None)``. A body of a few long columns (``{"a": [...], ...}``)
    is built column by column, each list dropped once it is a column: built at once, the lists,
    pandas' object arrays and the columns were all held together (21 times the body)."""
    if not (isinstance(obj, dict) and obj and all(type(v) is list for v in obj.values())):
        return pd.DataFrame(obj, dtype=None)
    lengths = {len(v) for v in obj.values()}
    if len(lengths) != 1 or lengths == {0}:
        return pd.DataFrame(obj, dtype=None)  # pandas' own error, or its dtype for no rows
    columns = {key: _column(obj.pop(key)) for key in list(obj)}
    return pd.DataFrame(columns, copy=False)


def _split_frame(obj: Any) -> pd.DataFrame:
    """What pandas' parser builds of a split body (``{"columns": [...], "index": [...], "data":
    [[...]]}``): its key check, its names for repeated and list-valued columns, then the
    constructor. Rows of nothing but floats (or nothing but integers) are one numpy array
    first: what pandas makes of each of their columns, without its walk over the cells."""
    dedup_names, is_potential_multi_index = _split_names()
    decoded = {str(key): value for key, value in obj.items()}  # not a dict: pandas fails too
    _pandas_parser("frame")("", orient="split", dtype=True).check_keys_split(decoded)
    names = [tuple(name) if isinstance(name, list) else name for name in decoded["columns"]]
    decoded["columns"] = dedup_names(names, is_potential_multi_index(names, None))
    numbers = _plain_rows(decoded.get("data"))
    if numbers is not None:
        decoded["data"] = numbers
    return pd.DataFrame(dtype=None, **decoded)


@functools.cache
def _split_names() -> Any:
    """pandas' helpers that name a split body's columns, or None where this pandas has none
    (then ``pd.read_json`` reads split bodies)."""
    try:
        from pandas.io.common import dedup_names, is_potential_multi_index
    except ImportError:
        return None
    return dedup_names, is_potential_multi_index


def _plain_rows(data: Any) -> np.ndarray | None:
    """``data`` as one array where it is rows of one width holding only floats (float64) or
    only integers within int64; else None. (Rows of ints and floats mixed are left to pandas,
    which makes each column int64 or float64 by its own values.)"""
    if type(data) is not list or not data or set(map(type, data)) != {list}:
        return None
    widths = set(map(len, data))
    if len(widths) != 1 or widths == {0}:
        return None
    kinds = set(map(type, chain.from_iterable(data)))
    if kinds == {float}:
        return np.array(data, dtype=np.float64)
    if kinds == {int}:
        try:
            return np.array(data, dtype=np.int64)
        except OverflowError:
            return None
    return None


def _column(values: list[Any]) -> pd.Series:
    """``pd.Series(values)`` of a non-empty list. A list of plain ints or floats goes through
    numpy, which makes the array in one pass: pandas' inference held some seven arrays of the
    list's length at once (214 MB for 3.75 million ints, numpy 30 MB). Anything else (a bool, a
    string, a null) is left to pandas, whose inference differs from numpy's there."""
    kinds = set(map(type, values))
    if kinds and kinds <= {int, float}:
        try:
            array = np.array(values, dtype=np.int64 if kinds == {int} else np.float64)
        except (OverflowError, ValueError):
            array = None  # integers beyond int64: pandas knows what they become
        if array is not None:
            return pd.Series(array, copy=False)
    return pd.Series(values)


def _read_json(body: bytes, orient: str, dtype: Any, typ: str, where: str) -> Any:
    kind = "DataFrame" if typ == "frame" else "Series"
    if orient == "table" and dtype is True:
        # the table orient carries its own schema: pandas refuses any dtype beside it, and its
        # default (classic passed none) is to infer nothing
        dtype = None
    try:
        result = pd.read_json(io.BytesIO(body), orient=orient, typ=typ, dtype=dtype)
    except Exception as exc:  # pandas raises ValueError, and AttributeError, on odd bodies
        load_json_body(body, where)  # not JSON at all: json.loads says where
        raise _unshapable(exc, orient, kind, where) from None
    return result


def _unshapable(exc: BaseException, orient: str, kind: str, where: str) -> BadInput:
    reason = _reason(exc)
    return BadInput(
        f"orient {orient!r}: the {where} cannot be read as a {kind}: {reason}",
        detail={"orient": orient, "reason": reason},
    )


@functools.cache
def _pandas_parser(typ: str) -> Any:
    """pandas' own parser class, whose conversions ``pd.read_json`` applies after building the
    object; None if this pandas has none where expected (then ``pd.read_json`` is called)."""
    try:
        from pandas.io.json import _json

        parser = _json.FrameParser if typ == "frame" else _json.SeriesParser
        parser("", orient="records", dtype=True)  # the constructor this module relies on
        return parser
    except Exception:
        return None


def _as_read_json_would(obj: Any, typ: str, orient: str, dtype: Any) -> Any:
    """The conversions ``pd.read_json`` makes once it has built ``obj`` from the parsed JSON:
    axis labels ("0" -> 0), dtypes inferred (numeric strings, integral floats, large numbers
    and date-like column names) or forced, by pandas' own parser methods. Since pandas 3 the
    object is handed to them; before, they worked on ``parser.obj``."""
    parser = _pandas_parser(typ)(
        "",
        orient=orient,
        dtype=dtype,
        convert_axes=True,
        convert_dates=True,
        keep_default_dates=True,
        precise_float=False,
        date_unit=None,
    )
    for axis_name in ("index", "columns") if typ == "frame" else ("index",):
        _convert_axis(parser, obj, axis_name)
    if typ == "frame" and dtype is True:
        inferred = inferred_numeric_frame(obj)
        if inferred is not None:
            return inferred
    if "obj" in inspect.signature(parser._try_convert_types).parameters:
        return parser._try_convert_types(obj)
    parser.obj = obj
    parser._try_convert_types()
    return parser.obj


def _convert_axis(parser: Any, obj: Any, axis_name: str) -> None:
    """What pandas' ``_convert_axes`` does to one axis. A ``RangeIndex`` from 0 it leaves as it
    is (0 is no timestamp, and the labels are int64 already), so that one is not turned into a
    Series of as many labels as rows only to find that out; string labels it left unchanged
    before are not tried again (``_pandas_inference``)."""
    axis = getattr(obj, axis_name)
    if isinstance(axis, pd.RangeIndex) and axis.start == 0 and axis.step == 1:
        return
    if known_unchanged(parser.orient, axis_name, axis):
        return
    labels = pd.Series(axis, dtype=axis.dtype, copy=False)
    converted, changed = parser._try_convert_data(
        name=axis_name, data=labels, use_dtypes=False, convert_dates=True, is_axis=True
    )
    if changed:
        setattr(obj, axis_name, pd.Index(converted, dtype=converted.dtype, copy=False))
    else:
        remember_unchanged(parser.orient, axis_name, axis)
