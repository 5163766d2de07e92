"""JSON Schemas of the JSON bodies PandasDataFrame / PandasSeries accept, orient by orient.

A schema here is a promise about what the server accepts: cell types appear only where the
dtype is enforced (without ``enforce_dtype``, ``"1.5"`` is converted to a float column, so
"number" would be a lie); ``required`` and ``additionalProperties: false`` only where the
columns are enforced. The declared dtype is always shown as the ``x-pandas-dtype`` annotation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ._pandas_dtypes import dtype_name, family, is_nullable

SCALAR_TYPES = ["string", "number", "boolean", "null"]
_TYPED_FAMILIES = ("int", "float", "bool", "string", "datetime", "timedelta")


def cell_schema(dtype: Any | None, *, typed: bool) -> dict[str, Any]:
    """One cell: any JSON scalar, or the JSON type of an enforced dtype (with its range)."""
    if dtype is None:
        return {"type": list(SCALAR_TYPES)}
    annotation = {"x-pandas-dtype": dtype_name(dtype)}
    kind = family(dtype)
    if not typed or kind not in _TYPED_FAMILIES:
        return {"type": list(SCALAR_TYPES), **annotation}
    json_type = {"int": "integer", "float": "number", "bool": "boolean"}.get(kind, "string")
    schema: dict[str, Any] = {"type": [json_type, "null"] if is_nullable(dtype) else json_type}
    numpy_dtype = getattr(dtype, "numpy_dtype", dtype)
    if kind == "int":
        info = np.iinfo(numpy_dtype)
        schema["minimum"], schema["maximum"] = int(info.min), int(info.max)
    elif kind == "float" and np.finfo(numpy_dtype).bits < 64:
        finfo = np.finfo(numpy_dtype)
        schema["minimum"], schema["maximum"] = float(finfo.min), float(finfo.max)
    return {**schema, **annotation}


def _sized(schema: dict[str, Any], size: int | None) -> dict[str, Any]:
    if size is not None and size != -1:
        schema["minItems"] = schema["maxItems"] = size
    return schema


def _sized_object(schema: dict[str, Any], shape: tuple[int, ...] | None) -> dict[str, Any]:
    """Rows keyed by label (orient 'index'): the row count is the number of properties."""
    if shape is not None and shape[0] != -1:
        schema["minProperties"] = schema["maxProperties"] = shape[0]
    return schema


def frame_schema(
    orient: str,
    *,
    columns: Sequence[Hashable] | None,
    dtype: Any,
    typed: bool,
    enforce_columns: bool,
    apply_column_names: bool,
    shape: tuple[int, ...] | None,
) -> dict[str, Any]:
    """``shape`` is given only when enforced; ``dtype`` is one dtype or a column -> dtype dict."""
    per_column = dtype if isinstance(dtype, dict) else {}
    names = list(columns) if columns is not None else list(per_column)
    props = {
        str(c): cell_schema(per_column.get(c) if per_column else dtype, typed=typed) for c in names
    }
    any_cell = cell_schema(None if per_column else dtype, typed=typed)

    row_object: dict[str, Any] = {"type": "object", "additionalProperties": any_cell}
    if props:
        row_object["properties"] = props
    if enforce_columns:
        row_object["required"] = list(props)
        row_object["additionalProperties"] = False

    row_array: dict[str, Any] = {"type": "array", "items": any_cell}
    width = shape[1] if shape is not None else None
    if apply_column_names and columns:
        row_array["prefixItems"] = list(props.values())
        width = len(columns)
    _sized(row_array, width)

    if orient == "index":
        return _sized_object({"type": "object", "additionalProperties": row_object}, shape)
    if orient == "columns":
        return _columns_schema(props, any_cell, enforce_columns)
    count = shape[0] if shape is not None else None
    if orient == "records":
        objects = _sized({"type": "array", "items": row_object}, count)
        if not apply_column_names:
            return objects
        # every row an object, or (with declared names) every row an array: never a mix
        return {"anyOf": [objects, _sized({"type": "array", "items": row_array}, count)]}
    rows = _sized({"type": "array", "items": row_array}, count)
    if orient == "values":
        return rows
    return {
        "type": "object",
        "properties": {
            "columns": {"type": "array", "items": {"type": ["string", "integer"]}},
            "index": {"type": "array", "items": cell_schema(None, typed=False)},
            "data": rows,
        },
        "required": ["data"],
        "additionalProperties": False,
    }


def _column_values(cell: dict[str, Any]) -> dict[str, Any]:
    """A column in orient 'columns': ``{"row": value}`` (pandas' form) or ``[values]``."""
    return {
        "anyOf": [
            {"type": "object", "additionalProperties": cell},
            {"type": "array", "items": cell},
        ]
    }


def _columns_schema(
    props: dict[str, Any], any_cell: dict[str, Any], enforce_columns: bool
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": _column_values(any_cell)}
    if props:
        schema["properties"] = {name: _column_values(cell) for name, cell in props.items()}
    if enforce_columns:
        schema["required"] = list(props)
        schema["additionalProperties"] = False
    return schema


def series_schema(
    orient: str, dtype: Any | None, *, typed: bool, shape: tuple[int, ...] | None
) -> dict[str, Any]:
    cell = cell_schema(dtype, typed=typed)
    if orient == "index":
        return _sized_object({"type": "object", "additionalProperties": cell}, shape)
    values = _sized({"type": "array", "items": cell}, shape[0] if shape is not None else None)
    if orient != "split":
        return values
    return {
        "type": "object",
        "properties": {
            "name": cell_schema(None, typed=False),
            "index": {"type": "array", "items": cell_schema(None, typed=False)},
            "data": values,
        },
        "required": ["data"],
        "additionalProperties": False,
    }
