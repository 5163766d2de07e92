"""JSON Schemas of PandasDataFrame / PandasSeries bodies, orient by orient: the form pandas
writes for the declared orient, which is what a client should send.

pandas reads more than that (other orients' shapes, numeric strings), so a schema here never
refuses what the server takes within its form: cell types appear only where the dtype is
enforced, and then numeric cells also admit strings (``"5.9"`` is read as 5.9); column names
are never required (as in classic BentoML, ``columns`` only documents). The declared dtype is
always shown as the ``x-pandas-dtype`` annotation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ._pandas_dtypes import dtype_name, family, is_nullable

_TYPED_FAMILIES = ("int", "float", "bool", "string", "datetime", "timedelta")


def cell_schema(dtype: Any | None, *, typed: bool) -> dict[str, Any]:
    """One cell: any JSON value (pandas keeps arrays and objects as cells), or what an enforced
    dtype takes: its JSON type, numeric strings, and for integers the range (floats are
    truncated toward zero)."""
    if dtype is None:
        return {}
    annotation = {"x-pandas-dtype": dtype_name(dtype)}
    kind = family(dtype)
    if not typed or kind not in _TYPED_FAMILIES:
        return annotation
    types = {
        "int": ["number", "string"],
        "float": ["number", "string"],
        "bool": ["boolean", "number", "string"],
    }.get(kind, ["string"])
    schema: dict[str, Any] = {"type": [*types, "null"] if is_nullable(dtype) else types}
    if kind == "int":
        info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))
        schema["exclusiveMinimum"], schema["exclusiveMaximum"] = (
            int(info.min) - 1,
            int(info.max) + 1,
        )
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

    row_array: dict[str, Any] = {"type": "array", "items": any_cell}
    width = shape[1] if shape is not None else None
    if apply_column_names and columns:
        row_array["prefixItems"] = list(props.values())
        width = len(columns)
    _sized(row_array, width)

    if orient == "index":
        return _sized_object({"type": "object", "additionalProperties": row_object}, shape)
    if orient == "columns":
        return _columns_schema(props, any_cell)
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
    if orient == "table":
        return _table_schema(_sized({"type": "array", "items": row_object}, count))
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


def _table_schema(data: dict[str, Any]) -> dict[str, Any]:
    """pandas' ``table`` orient: a Table Schema and the rows as objects."""
    return {
        "type": "object",
        "properties": {"schema": {"type": "object"}, "data": data},
        "required": ["schema", "data"],
    }


def _column_values(cell: dict[str, Any]) -> dict[str, Any]:
    """A column in orient 'columns': ``{"row": value}`` (pandas' form) or ``[values]``."""
    return {
        "anyOf": [
            {"type": "object", "additionalProperties": cell},
            {"type": "array", "items": cell},
        ]
    }


def _columns_schema(props: dict[str, Any], any_cell: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": _column_values(any_cell)}
    if props:
        schema["properties"] = {name: _column_values(cell) for name, cell in props.items()}
    return schema


def series_schema(
    orient: str, dtype: Any | None, *, typed: bool, shape: tuple[int, ...] | None
) -> dict[str, Any]:
    cell = cell_schema(dtype, typed=typed)
    if orient == "index":
        return _sized_object({"type": "object", "additionalProperties": cell}, shape)
    values = _sized({"type": "array", "items": cell}, shape[0] if shape is not None else None)
    if orient == "table":
        return _table_schema({"type": "array", "items": {"type": "object"}})
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
