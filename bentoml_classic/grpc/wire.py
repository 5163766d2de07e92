"""Arrays, series and tables as ``bentoml.grpc.v1`` messages, both ways, as classic read them.

An ``NDArray`` carries its values flattened (C order) in the one ``*_values`` field of its
element type, its ``shape`` and optionally its ``dtype`` enum; a ``Series`` one list of values;
a ``DataFrame`` its columns (``columns`` orient), each a ``Series`` named by ``column_names``.

Reading is strict where classic answered a 500 or guessed: values in two fields, values in a
field that disagrees with the ``dtype`` enum, a shape whose size is not the number of values,
columns of unequal length and names that do not match the columns are each a ``BadInput``
naming the field. Everything else a descriptor checks (its dtype and shape) is left to the
descriptor, so a gRPC client gets the same message as an HTTP one. Used by the server's
codec and by the Python client; imports nothing of either.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import BadInput

#: the NDArray.DType enum's numbers, as the proto numbers them
DTYPE_UNSPECIFIED, DTYPE_FLOAT, DTYPE_DOUBLE, DTYPE_BOOL = 0, 1, 2, 3
DTYPE_INT32, DTYPE_INT64, DTYPE_UINT32, DTYPE_UINT64, DTYPE_STRING = 4, 5, 6, 7, 8

#: which values field each dtype enum uses, and the numpy dtype it makes
NDARRAY_FIELDS: dict[int, tuple[str, str]] = {
    DTYPE_FLOAT: ("float_values", "float32"),
    DTYPE_DOUBLE: ("double_values", "float64"),
    DTYPE_BOOL: ("bool_values", "bool"),
    DTYPE_INT32: ("int32_values", "int32"),
    DTYPE_INT64: ("int64_values", "int64"),
    DTYPE_UINT32: ("uint32_values", "uint32"),
    DTYPE_UINT64: ("uint64_values", "uint64"),
    DTYPE_STRING: ("string_values", "str"),
}
_DTYPE_BY_FIELD = {field: dtype for field, dtype in NDARRAY_FIELDS.values()}
_ENUM_BY_FIELD = {field: enum for enum, (field, _) in NDARRAY_FIELDS.items()}

#: a Series' value fields, and the numpy dtype each makes
SERIES_FIELDS: dict[str, str] = {
    "bool_values": "bool",
    "float_values": "float32",
    "int32_values": "int32",
    "int64_values": "int64",
    "string_values": "object",
    "double_values": "float64",
}

#: numpy dtype -> the NDArray field that holds it without loss (narrow types widened)
_FIELD_BY_KIND_SIZE: dict[tuple[str, int], str] = {
    ("f", 2): "float_values",
    ("f", 4): "float_values",
    ("f", 8): "double_values",
    ("b", 1): "bool_values",
    ("i", 1): "int32_values",
    ("i", 2): "int32_values",
    ("i", 4): "int32_values",
    ("i", 8): "int64_values",
    ("u", 1): "uint32_values",
    ("u", 2): "uint32_values",
    ("u", 4): "uint32_values",
    ("u", 8): "uint64_values",
}
_SERIES_FIELD_BY_KIND_SIZE: dict[tuple[str, int], str] = {
    ("f", 2): "float_values",
    ("f", 4): "float_values",
    ("f", 8): "double_values",
    ("b", 1): "bool_values",
    ("i", 1): "int32_values",
    ("i", 2): "int32_values",
    ("i", 4): "int32_values",
    ("i", 8): "int64_values",
    ("u", 1): "int32_values",
    ("u", 2): "int32_values",
    ("u", 4): "int64_values",
}


def _filled(message: Any, fields: Any) -> list[str]:
    return [field for field in fields if len(getattr(message, field))]


def ndarray_to_numpy(message: Any, where: str = "ndarray") -> np.ndarray:
    """The array an ``NDArray`` message holds, before any descriptor's dtype or shape."""
    filled = _filled(message, _DTYPE_BY_FIELD)
    declared = message.dtype
    if declared not in NDARRAY_FIELDS and declared != DTYPE_UNSPECIFIED:
        raise BadInput(
            f"{where}.dtype {declared} is not one of the NDArray.DType values",
            detail={"field": f"{where}.dtype", "received": declared},
        )
    if len(filled) > 1:
        raise BadInput(
            f"{where} has values in {filled}: an NDArray holds its values in one field",
            detail={"field": where, "filled": filled},
        )
    if declared != DTYPE_UNSPECIFIED:
        field, dtype = NDARRAY_FIELDS[declared]
        if filled and filled[0] != field:
            raise BadInput(
                f"{where}.dtype is {_enum_name(declared)}, whose values go in {where}.{field}, "
                f"but the values are in {where}.{filled[0]}",
                detail={"field": f"{where}.{filled[0]}", "expected": f"{where}.{field}"},
            )
    elif filled:
        field = filled[0]
        dtype = _DTYPE_BY_FIELD[field]
    else:
        field, dtype = "", "float64"
    values = getattr(message, field) if field else ()
    arr = np.array(list(values), dtype=dtype) if dtype == "str" else np.array(values, dtype)
    shape = list(message.shape)
    if not shape:
        return arr
    if any(dim < 0 for dim in shape):
        raise BadInput(
            f"{where}.shape {shape} has a negative dimension",
            detail={"field": f"{where}.shape", "received_shape": shape},
        )
    size = 1
    for dim in shape:
        size *= dim
    if size != arr.size:
        raise BadInput(
            f"{where}.shape {shape} holds {size} values, and {arr.size} were sent",
            detail={"field": f"{where}.shape", "received_shape": shape, "values": arr.size},
        )
    return arr.reshape(shape)


def numpy_to_ndarray(arr: np.ndarray, message: Any) -> Any:
    """Fill ``message`` (an empty ``NDArray``) with ``arr``; TypeError for what it cannot hold."""
    kind = arr.dtype.kind
    if kind in "USO":
        if kind == "O" and not all(isinstance(item, str) for item in arr.flat):
            raise TypeError(f"an NDArray cannot hold an array of dtype {arr.dtype}")
        field = "string_values"
        values: Any = [str(item) for item in arr.flat]
    else:
        found = _FIELD_BY_KIND_SIZE.get((kind, arr.dtype.itemsize))
        if found is None:
            raise TypeError(f"an NDArray cannot hold an array of dtype {arr.dtype}")
        field = found
        values = arr.ravel().tolist()
    message.dtype = _ENUM_BY_FIELD[field]
    message.shape.extend(arr.shape)
    getattr(message, field).extend(values)
    return message


def ndarray_from_bytes(data: bytes, dtype: np.dtype[Any], where: str) -> np.ndarray:
    """``serialized_bytes`` for a NumpyNdarray: the raw buffer of its declared dtype."""
    if dtype.kind in "OV" or dtype.itemsize == 0:
        raise BadInput(
            f"{where}: an array of dtype {dtype} cannot be sent as raw bytes; send an ndarray",
            detail={"field": where, "expected_dtype": str(dtype)},
        )
    if len(data) % dtype.itemsize:
        raise BadInput(
            f"{where} has {len(data)} bytes, not a whole number of {dtype} values "
            f"({dtype.itemsize} bytes each)",
            detail={"field": where, "bytes": len(data), "itemsize": dtype.itemsize},
        )
    return np.frombuffer(data, dtype=dtype).copy()


def series_values(message: Any, where: str = "series") -> np.ndarray:
    """The values of a ``Series`` message, from the one field that holds them."""
    filled = _filled(message, SERIES_FIELDS)
    if len(filled) > 1:
        raise BadInput(
            f"{where} has values in {filled}: a Series holds its values in one field",
            detail={"field": where, "filled": filled},
        )
    if not filled:
        return np.array([], dtype="float64")
    field = filled[0]
    return np.array(list(getattr(message, field)), dtype=SERIES_FIELDS[field])


def fill_series(values: Any, message: Any) -> Any:
    """Fill ``message`` (an empty ``Series``) with a pandas Series' or an array's values."""
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind in "USO" or str(getattr(values, "dtype", "")).startswith(("str", "string")):
        items = arr.tolist()
        if not all(isinstance(item, str) for item in items):
            raise TypeError(f"a Series message cannot hold values of dtype {arr.dtype}")
        message.string_values.extend(items)
        return message
    field = _SERIES_FIELD_BY_KIND_SIZE.get((kind, arr.dtype.itemsize))
    if field is None:
        raise TypeError(f"a Series message cannot hold values of dtype {arr.dtype}")
    getattr(message, field).extend(arr.ravel().tolist())
    return message


def frame_columns(message: Any, where: str = "dataframe") -> dict[str, np.ndarray]:
    """The columns of a ``DataFrame`` message, by name, checked to fit together."""
    names = list(message.column_names)
    columns = list(message.columns)
    if len(names) != len(columns):
        raise BadInput(
            f"{where} has {len(names)} column_names and {len(columns)} columns",
            detail={"field": where, "column_names": len(names), "columns": len(columns)},
        )
    if len(set(names)) != len(names):
        raise BadInput(
            f"{where}.column_names repeats a name", detail={"field": f"{where}.column_names"}
        )
    result: dict[str, np.ndarray] = {}
    length: int | None = None
    for index, (name, column) in enumerate(zip(names, columns, strict=True)):
        values = series_values(column, f"{where}.columns[{index}]")
        if length is not None and len(values) != length:
            raise BadInput(
                f"{where}.columns[{index}] ({name!r}) has {len(values)} values, and the "
                f"columns before it {length}",
                detail={"field": f"{where}.columns[{index}]", "expected": length},
            )
        length = len(values)
        result[name] = values
    return result


def _enum_name(value: int) -> str:
    names = {
        DTYPE_FLOAT: "DTYPE_FLOAT",
        DTYPE_DOUBLE: "DTYPE_DOUBLE",
        DTYPE_BOOL: "DTYPE_BOOL",
        DTYPE_INT32: "DTYPE_INT32",
        DTYPE_INT64: "DTYPE_INT64",
        DTYPE_UINT32: "DTYPE_UINT32",
        DTYPE_UINT64: "DTYPE_UINT64",
        DTYPE_STRING: "DTYPE_STRING",
    }
    return names.get(value, str(value))
