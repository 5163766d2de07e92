"""Request bodies to pandas objects, one function per wire format, each failing with a 400 that
says where: JSON (already parsed by ``load_json_body``) in each pandas orient, CSV, parquet.

JSON is checked before pandas sees it: pandas would quietly pad ragged rows with NaN, take a
nested list as a cell, or build a frame from the wrong orient, and the client would never know.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
from collections.abc import Hashable, Sequence
from typing import Any

import pandas as pd

from ..exceptions import BadInput, UnsupportedMediaType
from .base import json_type_name

_INT_LABEL = re.compile(r"-?[0-9]{1,18}")
_LINE = re.compile(r"line (\d+)")
_MAX_REASON = 200
_ARRAY_ROWS_HINT = " (rows as arrays need an API declared with columns and apply_column_names)"


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def orient_error(orient: str, expected: str, obj: Any) -> BadInput:
    got = json_type_name(obj)
    return BadInput(
        f"orient {orient!r} expects {expected}, got {got}",
        detail={"orient": orient, "expected": expected, "received": got},
    )


def _cell_error(where: str, value: Any) -> BadInput:
    got = json_type_name(value)
    return BadInput(
        f"{where} is {got}; cells must be numbers, strings, booleans or null",
        detail={"location": where, "received": got},
    )


def _check_row(row: list[Any], index: int, width: int | None, names: Sequence[Any] | None) -> None:
    if width is not None and len(row) != width:
        columns = f" (columns {', '.join(map(str, names))})" if names and len(names) <= 10 else ""
        raise BadInput(
            f"row {index} has {len(row)} values, expected {width}{columns}",
            detail={"row": index, "received": len(row), "expected": width},
        )
    for j, value in enumerate(row):
        if not _is_scalar(value):
            raise _cell_error(f"row {index}, value {j}", value)


def _check_object(row: dict[str, Any], where: str, required: Sequence[Any] | None) -> None:
    for key, value in row.items():
        if not _is_scalar(value):
            raise _cell_error(f"{where}, column {key!r}", value)
    if required is not None and set(row) != set(required):
        missing = [c for c in required if c not in row]
        unexpected = [k for k in row if k not in set(required)]
        parts = ([f"missing {missing}"] if missing else []) + (
            [f"unexpected {unexpected}"] if unexpected else []
        )
        raise BadInput(
            f"{where} does not have the declared columns: {'; '.join(parts)}",
            detail={"location": where, "missing": missing, "unexpected": unexpected},
        )


def _rows(obj: Any, orient: str, names: Sequence[Any] | None) -> list[list[Any]]:
    """A list of equally long lists of scalars (the ``values`` orient, and ``split``'s data)."""
    if not isinstance(obj, list):
        raise orient_error(orient, "an array of arrays", obj)
    width = len(names) if names is not None else None
    for i, row in enumerate(obj):
        if not isinstance(row, list):
            raise BadInput(
                f"row {i} is {json_type_name(row)}; orient {orient!r} expects rows as arrays",
                detail={"row": i, "received": json_type_name(row), "orient": orient},
            )
        if width is None:
            width = len(row)
        _check_row(row, i, width, names)
    return obj


def maybe_int_labels(labels: Sequence[str]) -> list[Any]:
    """JSON object keys are strings; "0", "1", ... were integer labels (pandas does the same)."""
    if labels and all(isinstance(k, str) and _INT_LABEL.fullmatch(k) for k in labels):
        return [int(k) for k in labels]
    return list(labels)


def frame_from_json(
    obj: Any, orient: str, names: Sequence[Any] | None, required: Sequence[Any] | None
) -> pd.DataFrame:
    """``names`` label rows sent without names; ``required`` rows must have exactly these keys."""
    try:
        return _frame_from_json(obj, orient, names, required)
    except (ValueError, TypeError, OverflowError) as exc:
        # The checks above should leave pandas nothing to refuse; if it still does, the body
        # is at fault all the same, and the client gets pandas' own reason.
        reason = str(exc)[:_MAX_REASON] or type(exc).__name__
        raise BadInput(
            f"orient {orient!r}: the body cannot be made into a DataFrame: {reason}",
            detail={"orient": orient, "reason": reason},
        ) from None


def _frame_from_json(
    obj: Any, orient: str, names: Sequence[Any] | None, required: Sequence[Any] | None
) -> pd.DataFrame:
    if orient == "records":
        if not isinstance(obj, list):
            raise orient_error(orient, "an array of objects", obj)
        if not obj:
            return pd.DataFrame(columns=list(names or required or []))
        if names is not None and all(isinstance(row, list) for row in obj):
            return pd.DataFrame(_rows(obj, orient, names), columns=list(names))
        for i, row in enumerate(obj):
            if not isinstance(row, dict):
                hint = "" if names is not None else _ARRAY_ROWS_HINT
                raise BadInput(
                    f"row {i} is {json_type_name(row)}; orient 'records' expects objects "
                    f'like {{"column": value}}{hint}',
                    detail={"row": i, "received": json_type_name(row), "orient": orient},
                )
            _check_object(row, f"row {i}", required)
        return pd.DataFrame(obj)
    if orient == "values":
        rows = _rows(obj, orient, names)
        return pd.DataFrame(rows, columns=list(names) if names is not None else None)
    if orient == "split":
        return _split_frame(obj, names)
    if not isinstance(obj, dict):
        raise orient_error(orient, "an object", obj)
    if orient == "index":
        for key, row in obj.items():
            if not isinstance(row, dict):
                raise BadInput(
                    f"row {key!r} is {json_type_name(row)}; orient 'index' expects "
                    '{"row": {"column": value}}',
                    detail={"row": key, "received": json_type_name(row), "orient": orient},
                )
            _check_object(row, f"row {key!r}", required)
        frame = pd.DataFrame.from_dict(obj, orient="index") if obj else pd.DataFrame()
        frame.index = maybe_int_labels(list(frame.index))
        return frame
    return _columns_frame(obj)


def _columns_frame(obj: dict[str, Any]) -> pd.DataFrame:
    """``{"column": {"row": value}}`` (pandas' own orient) or ``{"column": [values]}``."""
    kinds = {type(v) for v in obj.values()}
    first = next(iter(obj.values()), None)
    for key, column in obj.items():
        if isinstance(column, (dict, list)) and type(column) is type(first):
            continue
        raise BadInput(
            f"column {key!r} is {json_type_name(obj[key])}; orient 'columns' expects every "
            "column as an object {row: value} or every column as an array",
            detail={"column": key, "received": json_type_name(obj[key]), "orient": "columns"},
        )
    length = None
    for key, column in obj.items():
        cells = column.values() if isinstance(column, dict) else column
        for cell in cells:
            if not _is_scalar(cell):
                raise _cell_error(f"column {key!r}", cell)
        if isinstance(column, list):
            if length is not None and len(column) != length:
                raise BadInput(
                    f"column {key!r} has {len(column)} values, the first column has {length}",
                    detail={"column": key, "received": len(column), "expected": length},
                )
            length = len(column)
    frame = pd.DataFrame(obj)
    if kinds == {dict}:
        frame.index = maybe_int_labels(list(frame.index))
    return frame


def _split_frame(obj: Any, names: Sequence[Any] | None) -> pd.DataFrame:
    expected = 'an object {"columns": [...], "index": [...], "data": [[...]]}'
    if not isinstance(obj, dict):
        raise orient_error("split", expected, obj)
    unexpected = sorted(set(obj) - {"columns", "index", "data"})
    if unexpected or "data" not in obj:
        what = f"unexpected keys {unexpected}" if unexpected else "no 'data' key"
        raise BadInput(
            f"orient 'split' expects {expected}; the body has {what}",
            detail={"orient": "split", "unexpected": unexpected},
        )
    columns = obj.get("columns", names)
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, (str, int)) for c in columns)
    ):
        raise BadInput(
            "'columns' must be an array of strings", detail={"received": json_type_name(columns)}
        )
    rows = _rows(obj["data"], "split", columns)
    index = obj.get("index")
    if index is not None:
        if not isinstance(index, list) or not all(_is_scalar(v) for v in index):
            raise BadInput("'index' must be an array of scalars", detail={"key": "index"})
        if len(index) != len(rows):
            raise BadInput(
                f"'index' has {len(index)} labels for {len(rows)} rows",
                detail={"key": "index", "received": len(index), "expected": len(rows)},
            )
    return pd.DataFrame(rows, columns=columns, index=index)


def series_from_json(obj: Any, orient: str) -> pd.Series:
    if orient in ("records", "values"):
        if not isinstance(obj, list):
            raise orient_error(orient, "an array", obj)
        data, index, name = obj, None, None
    elif orient == "index":
        if not isinstance(obj, dict):
            raise orient_error(orient, 'an object {"label": value}', obj)
        data, index, name = list(obj.values()), maybe_int_labels(list(obj)), None
    else:
        expected = 'an object {"name": ..., "index": [...], "data": [...]}'
        if not isinstance(obj, dict):
            raise orient_error(orient, expected, obj)
        unexpected = sorted(set(obj) - {"name", "index", "data"})
        if unexpected or not isinstance(obj.get("data"), list):
            what = f"unexpected keys {unexpected}" if unexpected else "no 'data' array"
            raise BadInput(
                f"orient 'split' expects {expected}; the body has {what}",
                detail={"orient": "split", "unexpected": unexpected},
            )
        data, index, name = obj["data"], obj.get("index"), obj.get("name")
        if index is not None and (
            not isinstance(index, list)
            or len(index) != len(data)
            or not all(_is_scalar(v) for v in index)
        ):
            raise BadInput(
                f"'index' must be an array of {len(data)} scalar labels, one per value",
                detail={"key": "index", "expected": len(data)},
            )
        if not _is_scalar(name):
            raise BadInput("'name' must be a string, number or null", detail={"key": "name"})
    for i, value in enumerate(data):
        if not _is_scalar(value):
            where = f"element {i}" if index is None else f"element {index[i]!r}"
            raise _cell_error(where, value)
    return pd.Series(data, index=index, name=name, dtype=None if data else object)


def frame_from_csv(
    body: bytes, charset: str, text_dtypes: dict[Hashable, Any] | Any, where: str
) -> pd.DataFrame:
    """CSV with a header row; rows with more or fewer fields than the header are refused.

    pandas pads short rows with NaN, so the field counts are checked first with ``csv`` (C
    code, and it knows quoting, so line numbers are right for quoted newlines too).
    """
    try:
        # decoded once to refuse bad bytes with their offset; read below from the bytes, in
        # chunks (a StringIO of the text would hold four bytes per character, twice)
        body.decode(charset)
    except LookupError:
        raise UnsupportedMediaType(
            f"unsupported charset {charset!r} in the Content-Type of the {where}",
            detail={"charset": charset},
        ) from None
    except UnicodeError as exc:
        offset = getattr(exc, "start", None)
        raise BadInput(
            f"{where} is not valid {charset}: {getattr(exc, 'reason', exc)} at byte {offset}",
            detail={"charset": charset, "byte_offset": offset},
        ) from None
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(body), encoding=charset, newline=""))
    width = None
    try:
        for row in reader:
            if not row:
                continue  # blank line: pandas skips those too
            if width is None:
                width = len(row)
            elif len(row) != width:
                fields = f"{len(row)} field" + ("" if len(row) == 1 else "s")
                raise BadInput(
                    f"CSV line {reader.line_num} has {fields}, the header has {width}",
                    detail={"line": reader.line_num, "fields": len(row), "expected": width},
                )
    except csv.Error as exc:
        raise BadInput(
            f"invalid CSV at line {reader.line_num}: {exc}",
            detail={"line": reader.line_num, "reason": str(exc)},
        ) from None
    if width is None:
        raise BadInput(f"CSV in the {where} has no header row", detail={"reason": "no header"})
    try:
        return pd.read_csv(io.BytesIO(body), encoding=charset, dtype=text_dtypes)
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError) as exc:
        reason = str(exc).strip()[:_MAX_REASON] or type(exc).__name__
        match = _LINE.search(reason)
        line = int(match.group(1)) if match else None
        where = f" at line {line}" if line is not None else ""
        raise BadInput(
            f"invalid CSV{where}: {reason}", detail={"line": line, "reason": reason}
        ) from None


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
        return pd.read_parquet(io.BytesIO(body), engine="pyarrow")
    except Exception as exc:  # pyarrow's errors (ArrowInvalid, OSError, ...) on hostile bytes
        reason = str(exc).strip()[:_MAX_REASON] or type(exc).__name__
        raise BadInput(
            f"{where} is not a readable parquet file: {reason}",
            detail={"reason": reason, "exception": type(exc).__name__},
        ) from None
