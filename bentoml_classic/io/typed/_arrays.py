"""numpy arrays and pandas DataFrames as fields of the generated request model.

pydantic knows neither type. A parameter annotated with one gets a field that takes JSON (nested
lists for an array; records or columns for a DataFrame), builds the value, and documents itself
in the JSON schema. The dtype comes from the annotation when it names one: the typing form
``np.ndarray[Any, np.dtype[np.uint8]]`` and the shorter ``np.ndarray[Any, np.uint8]`` that the
distributed-services guide writes.

An array of strings takes, in numpy, the width of its longest string for every element; a body
of many short strings and one long one would take far more memory than it is long, so such
arrays are bounded (as NumpyNdarray bounds them).
"""

from __future__ import annotations

import json
import sys
import types
import typing
import warnings
from typing import Annotated, Any

from ...exceptions import excerpt
from .._array_paths import strings_of
from ._hints import strip_annotated

#: bytes an array of strings may take as numpy's fixed-width unicode
_STRING_ARRAY_BUDGET = 64 * 2**20
_UNICODE_CHAR_BYTES = 4


def is_ndarray(annotation: Any) -> bool:
    np = sys.modules.get("numpy")
    bare = strip_annotated(annotation)
    return np is not None and (bare is np.ndarray or typing.get_origin(bare) is np.ndarray)


def is_tensor(annotation: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and strip_annotated(annotation) is torch.Tensor


def tensor_field() -> Any:
    """A ``torch.Tensor`` parameter: nested lists, made an array by numpy, then a tensor."""
    from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

    def to_tensor(value: Any) -> Any:
        import torch

        if isinstance(value, torch.Tensor):
            return value
        return torch.from_numpy(make_array(value, None))

    schema = {"type": "array", "items": {}, "description": "a torch tensor, as nested lists"}
    return Annotated[
        Any,
        PlainValidator(to_tensor),
        PlainSerializer(lambda tensor: tensor.tolist(), when_used="json"),
        WithJsonSchema(schema),
    ]


def is_dataframe(annotation: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and strip_annotated(annotation) is pd.DataFrame


def ndarray_dtype(annotation: Any) -> Any:
    """The ``np.dtype`` an ndarray annotation names, or None (``Any``, a type variable, an
    abstract scalar type such as ``np.floating``)."""
    import numpy as np

    args = typing.get_args(strip_annotated(annotation))
    if len(args) < 2:
        return None
    scalar = args[1]
    if typing.get_origin(scalar) is np.dtype:
        inner = typing.get_args(scalar)
        scalar = inner[0] if inner else None
    if not (isinstance(scalar, type) and issubclass(scalar, np.generic)):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            dtype = np.dtype(scalar)
        except (TypeError, ValueError, DeprecationWarning):
            return None
    # np.dtype(np.floating) was once float64; an abstract type names no one dtype
    return dtype if dtype.type is scalar else None


def ndarray_field(annotation: Any) -> Any:
    """An ``Annotated`` type pydantic validates as the array (JSON in, ``tolist`` out)."""
    from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

    dtype = ndarray_dtype(annotation)
    schema: dict[str, Any] = {"type": "array", "items": {}}
    if dtype is not None:
        schema["description"] = f"a numpy array of dtype {dtype}, as nested lists"
        schema["x-numpy-dtype"] = str(dtype)
    else:
        schema["description"] = "a numpy array, as nested lists"

    def to_array(value: Any) -> Any:
        return make_array(value, dtype)

    return Annotated[
        Any,
        PlainValidator(to_array),
        PlainSerializer(lambda arr: arr.tolist(), when_used="json"),
        WithJsonSchema(schema),
    ]


def make_array(value: Any, dtype: Any) -> Any:
    """``np.array(value, dtype)`` for nested lists, with what numpy refuses as a ValueError
    (pydantic reports it under the field's name)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value if dtype is None else value.astype(dtype)
    if not isinstance(value, list):
        raise ValueError(f"expected an array (nested lists), got {type(value).__name__}")
    # A numeric dtype bounds the array's memory by its element count (numpy parses "1.5" into
    # it), so only other arrays need the walk that finds their strings (in Python: slow).
    numeric = dtype is not None and dtype.kind in "biufc"
    leaves, longest, path = (0, 0, None) if numeric else strings_of(value)
    if path is not None:
        size = leaves * max(longest, 1) * _UNICODE_CHAR_BYTES
        if size > _STRING_ARRAY_BUDGET:
            raise ValueError(
                f"an array of {leaves} strings as wide as the longest ({longest} characters, at "
                f"{path}) would take {size / 2**20:.0f} MiB: send shorter strings or fewer"
            )
    try:
        with np.errstate(all="ignore"):
            arr = np.array(value, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        what = "an array" if dtype is None else f"an array of {dtype}"
        raise ValueError(f"cannot be read as {what}: {excerpt(exc, 120)}") from None
    if dtype is None and arr.dtype.kind == "O":
        raise ValueError("expected a rectangular array of numbers, strings or booleans")
    return arr


def dataframe_field() -> Any:
    """An ``Annotated`` type for a DataFrame: a list of records or an object of columns."""
    from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

    schema = {
        "description": "a pandas DataFrame: a list of records, or an object of columns",
        "anyOf": [
            {"type": "array", "items": {"type": "object"}},
            {"type": "object", "additionalProperties": {"type": "array"}},
        ],
    }
    return Annotated[
        Any,
        PlainValidator(make_frame),
        PlainSerializer(lambda df: df.to_dict(orient="records"), when_used="json"),
        WithJsonSchema(schema),
    ]


def make_frame(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return pd.DataFrame.from_records(value)
    if isinstance(value, dict) and all(isinstance(col, list) for col in value.values()):
        try:
            return pd.DataFrame(value)
        except ValueError as exc:  # columns of different lengths
            raise ValueError(f"cannot be read as a DataFrame: {excerpt(exc, 120)}") from None
    raise ValueError("expected a list of records (objects) or an object of columns (arrays)")


def mentions_dataframe(annotation: Any) -> bool:
    """Whether a DataFrame is anywhere in the annotation (``list[pd.DataFrame]``, ...)."""
    return is_dataframe(annotation) or any(
        mentions_dataframe(arg) for arg in typing.get_args(annotation)
    )


class FrameEncoder(json.JSONEncoder):
    """``json.dumps`` of values that hold DataFrames, each written as its records."""

    def default(self, o: Any) -> Any:
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(o, pd.DataFrame):
            return o.to_dict(orient="records")
        return super().default(o)


def with_pydantic_fields(annotation: Any) -> Any:
    """The annotation with every ndarray / DataFrame in it (inside Optional, list, dict, ...)
    replaced by its field type; the annotation itself where there is none."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:  # the metadata (a Field's description, constraints) is kept
        inner = with_pydantic_fields(args[0])
        return annotation if inner is args[0] else Annotated[(inner, *annotation.__metadata__)]
    if is_ndarray(annotation):
        return ndarray_field(annotation)
    if is_dataframe(annotation):
        return dataframe_field()
    if is_tensor(annotation):
        return tensor_field()
    if origin is None or not args:
        return annotation
    new_args = tuple(with_pydantic_fields(arg) for arg in args)
    if all(new is old for new, old in zip(new_args, args, strict=True)):
        return annotation
    if origin in (typing.Union, types.UnionType):
        return typing.Union[new_args]  # noqa: UP007
    try:
        return annotation.copy_with(new_args)
    except AttributeError:
        return origin[new_args]
