"""NumpyNdarray: a JSON array in the body, an ``np.ndarray`` in the API function.

Parsing goes JSON -> nested lists -> ``np.asarray``; a large body of nothing but numbers goes
straight into numpy instead (``_numeric_json.py``), without a Python object per element. Every
way that can fail on a client's body (ragged rows, nulls, more than 64 dimensions, values the
declared dtype cannot hold) is a 400 that names the place, never a numpy exception that would
surface as a 500.

Strings cost more as an array than as JSON: numpy stores them at a fixed width, every element
as wide as the longest (a long string among three numbers made an array four times its size),
and casting a long string to a number took hundreds of times its size. So before numpy sees a
body with strings in it, one pass over the parsed values refuses a string that a numeric dtype
would have to parse but that is longer than any number is written (``NUMBER_TEXT_LIMIT``), and
an array whose fixed-width strings would take more than ``MEMORY_FACTOR`` times its body.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..exceptions import BadInput, InvalidArgument, excerpt
from ._numeric_json import parse_numeric_array
from .base import (
    REQUEST_BODY,
    JsonBodyDescriptor,
    json_type_name,
    load_json_body,
    require_nonempty,
)

if TYPE_CHECKING:
    from numpy.typing import DTypeLike
    from starlette.responses import Response

#: the longest string a numeric dtype parses: more digits than any float or int64 is written with
NUMBER_TEXT_LIMIT = 100
#: an array of strings may take at most this many times the size of its body (with a floor of
#: ``MEMORY_FLOOR`` bytes, so that small bodies of short strings are never refused)
MEMORY_FACTOR = 6
MEMORY_FLOOR = 1024 * 1024
#: numpy's fixed-width unicode strings: bytes per character
_UNICODE_CHAR_BYTES = 4

_JSON_TYPE_BY_KIND = {
    "f": "number",
    "i": "integer",
    "u": "integer",
    "b": "boolean",
    "U": "string",
    "S": "string",
}


class NumpyNdarray(JsonBodyDescriptor[np.ndarray]):
    mime_type: ClassVar[str] = "application/json"
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400, 415})

    def __init__(
        self,
        dtype: DTypeLike | None = None,
        enforce_dtype: bool = False,
        shape: Sequence[int] | None = None,
        enforce_shape: bool = False,
    ) -> None:
        if enforce_dtype and dtype is None:
            raise InvalidArgument("NumpyNdarray(enforce_dtype=True) needs a dtype")
        if enforce_shape and shape is None:
            raise InvalidArgument("NumpyNdarray(enforce_shape=True) needs a shape")
        self.dtype: np.dtype[Any] | None = None if dtype is None else _to_dtype(dtype)
        self.shape: tuple[int, ...] | None = None if shape is None else _to_shape(shape)
        self.enforce_dtype = enforce_dtype
        self.enforce_shape = enforce_shape
        self._sample: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"NumpyNdarray(dtype={self.dtype}, enforce_dtype={self.enforce_dtype}, "
            f"shape={self.shape}, enforce_shape={self.enforce_shape})"
        )

    # -- input ---------------------------------------------------------------------------------

    def parse_bytes(self, body: bytes, where: str = REQUEST_BODY) -> np.ndarray:
        """JSON bytes -> validated array: the one path for request bodies and multipart parts."""
        numbers = parse_numeric_array(require_nonempty(body, where))
        if numbers is not None:  # a large body of plain numbers: no Python object per element
            return self._checked(numbers)
        obj = load_json_body(body, where)
        if b'"' in body and isinstance(obj, list):  # without a quote there is no string
            self._check_strings(obj, len(body))
        return self.validate(obj)

    def _check_strings(self, obj: list[Any], body_size: int) -> None:
        """Refuse strings that would cost far more as an array than in the body (see above)."""
        leaves, longest, path = _strings_of(obj)
        if path is None:
            return
        numeric = self.dtype is not None and self.dtype.kind in "biufc"
        if numeric and longest > NUMBER_TEXT_LIMIT:
            raise BadInput(
                f"array element at {path} is a string of {longest} characters where {self.dtype} "
                f"wants a number (at most {NUMBER_TEXT_LIMIT} characters)",
                detail={"reason": "string too long for a number", "path": path, "length": longest},
            )
        size = leaves * max(longest, 1) * _UNICODE_CHAR_BYTES
        budget = max(MEMORY_FACTOR * body_size, MEMORY_FLOOR)
        if size > budget:
            raise BadInput(
                f"array of {leaves} elements would take {size / 2**20:.0f} MiB as numpy strings, "
                f"each as wide as the longest ({longest} characters, at {path}), more than "
                f"{MEMORY_FACTOR} times its body: send shorter strings or fewer of them",
                detail={"reason": "strings too large", "path": path, "length": longest},
            )

    def validate(self, obj: Any) -> np.ndarray:
        """Turn a parsed JSON value into the array the API function receives, or raise BadInput."""
        if not isinstance(obj, list):
            raise BadInput(
                f"expected a JSON array, got {json_type_name(obj)}",
                detail={"expected": "array", "received": json_type_name(obj)},
            )
        return self._checked(
            _as_array(obj, allow_object=self.dtype is not None and self.dtype.kind == "O")
        )

    def _checked(self, arr: np.ndarray) -> np.ndarray:
        """The declared shape checked and the declared dtype applied."""
        if self.enforce_shape:
            self._check_shape(arr)
        if self.dtype is not None:
            arr = self._convert_dtype(arr)
        return arr

    def _check_shape(self, arr: np.ndarray) -> None:
        expected = self.shape
        assert expected is not None
        fits = arr.ndim == len(expected) and all(
            want in (-1, got) for want, got in zip(expected, arr.shape, strict=True)
        )
        if not fits:
            raise BadInput(
                f"array shape {list(arr.shape)} does not match the expected shape {list(expected)}"
                " (-1 means any size)",
                detail={"expected_shape": list(expected), "received_shape": list(arr.shape)},
            )

    def _convert_dtype(self, arr: np.ndarray) -> np.ndarray:
        dtype = self.dtype
        assert dtype is not None
        if _same_dtype(arr.dtype, dtype):
            return arr
        detail = {"expected_dtype": str(dtype), "received_dtype": str(arr.dtype)}
        if arr.dtype.kind in "US" and dtype.kind == "b":  # numpy: any non-empty string is True
            raise BadInput(
                f"strings cannot be converted to {dtype}: send JSON true/false", detail=detail
            )
        if self.enforce_dtype and arr.size and not _castable(arr.dtype, dtype):
            raise BadInput(
                f"array dtype {arr.dtype} cannot be used as {dtype} without loss", detail=detail
            )
        if dtype.kind in "iu" and arr.dtype.kind in "biuf" and arr.size:
            _check_int_range(arr, dtype, detail)
        try:
            with np.errstate(invalid="raise", over="raise"):
                return arr.astype(dtype)
        except (ValueError, TypeError, OverflowError, FloatingPointError) as exc:
            raise BadInput(
                f"array values cannot be converted to {dtype}: {excerpt(exc)}", detail=detail
            ) from None

    # -- output --------------------------------------------------------------------------------

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        arr = obj if isinstance(obj, np.ndarray) else np.asarray(obj)
        if arr.dtype.kind == "O" and arr.ndim == 0:
            raise TypeError(
                f"NumpyNdarray output expects an ndarray or an array-like value, "
                f"got {type(obj).__name__}"
            )
        # json.dumps with default separators: the exact bytes classic BentoML sends.
        return Response(json.dumps(arr.tolist()), media_type=self.mime_type)

    # -- documentation -------------------------------------------------------------------------

    def openapi_schema(self) -> dict[str, Any]:
        if self.shape is None:
            return {"type": "array", "items": {}}
        schema: dict[str, Any] = {}
        if self.dtype is not None and self.dtype.kind in _JSON_TYPE_BY_KIND:
            schema = {"type": _JSON_TYPE_BY_KIND[self.dtype.kind], **_value_range(self.dtype)}
        for dim in reversed(self.shape):
            schema = {"type": "array", "items": schema}
            if self.enforce_shape and dim != -1:
                schema["minItems"] = schema["maxItems"] = dim
        return schema

    def openapi_example(self) -> Any:
        return None if self._sample is None else self._sample.tolist()

    @classmethod
    def from_sample(
        cls, sample: Any, enforce_dtype: bool = False, enforce_shape: bool = False, **_: Any
    ) -> NumpyNdarray:
        """Take dtype and shape from ``sample``; the first dimension becomes -1 (any batch)."""
        arr = np.asarray(sample)
        if arr.ndim == 0:
            raise InvalidArgument("NumpyNdarray.from_sample needs an array with at least 1 dim")
        descriptor = cls(
            dtype=arr.dtype,
            enforce_dtype=enforce_dtype,
            shape=(-1, *arr.shape[1:]),
            enforce_shape=enforce_shape,
        )
        descriptor._sample = arr
        return descriptor


def _to_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise InvalidArgument(f"NumpyNdarray: invalid dtype {dtype!r}: {exc}") from None


def _to_shape(shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    dims = tuple(shape)
    if not dims or not all(isinstance(d, int) and d >= -1 for d in dims):
        raise InvalidArgument(
            f"NumpyNdarray: shape must be a non-empty sequence of ints >= -1, got {shape!r}"
        )
    return dims


def _value_range(dtype: np.dtype[Any]) -> dict[str, Any]:
    """Bounds a declared dtype puts on values: the server refuses what the dtype cannot hold
    (integers out of range, floats that overflow float32/16), so the schema says so too."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return {"minimum": int(info.min), "maximum": int(info.max)}
    if dtype.kind == "f" and dtype.itemsize < 8:
        limit = float(np.finfo(dtype).max)
        return {"minimum": -limit, "maximum": limit}
    return {}


def _same_dtype(have: np.dtype[Any], want: np.dtype[Any]) -> bool:
    # An unsized flexible dtype (np.dtype(str) is <U0) means "strings of any length".
    if want.kind in "USV" and want.itemsize == 0:
        return have.kind == want.kind
    return have == want


def _castable(have: np.dtype[Any], want: np.dtype[Any]) -> bool:
    # JSON integers parse as int64, which numpy will not call same_kind with float32/16;
    # ints into any float are what "ints into float are fine" means to a client.
    if have.kind in "biu" and want.kind in "fc":
        return True
    return bool(np.can_cast(have, want, casting="same_kind"))


def _check_int_range(arr: np.ndarray, dtype: np.dtype[Any], detail: dict[str, Any]) -> None:
    """numpy wraps integers silently (1000 -> int8 is -24); refuse values the dtype cannot hold."""
    info = np.iinfo(dtype)
    low: float
    high: float
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise BadInput(
                f"array contains NaN or infinity, which {dtype} cannot hold", detail=detail
            )
        low, high = float(arr.min()), float(arr.max())
        fits = info.min - 1 < low and high < info.max + 1  # casting truncates toward zero
    else:
        low, high = int(arr.min()), int(arr.max())
        fits = info.min <= low and high <= info.max
    if not fits:
        bad = low if low < info.min else high
        raise BadInput(
            f"array value {bad} is out of range for {dtype} ({info.min}..{info.max})",
            detail={**detail, "value": bad},
        )


def _as_array(obj: list[Any], *, allow_object: bool) -> np.ndarray:
    try:
        arr = np.asarray(obj)
    except ValueError as exc:
        if "maximum number of dimension" in str(exc):
            raise BadInput(
                "array has more dimensions than numpy supports (64)",
                detail={"reason": "too many dimensions", "max_dims": 64},
            ) from None
        raise _ragged_error(obj) from None
    except (TypeError, OverflowError, RecursionError) as exc:
        raise BadInput(f"JSON value is not a usable array: {excerpt(exc)}") from None
    if arr.dtype.kind == "O" and not allow_object:
        raise _object_error(obj)
    return arr


def _strings_of(obj: list[Any]) -> tuple[int, int, list[int] | None]:
    """The number of scalar elements, the length of the longest string and where it is (None
    without strings); one pass, without recursion and without building paths for the rest."""
    leaves = 0
    longest = -1
    where: tuple[list[Any], int] | None = None
    stack: list[list[Any]] = [obj]
    parents: dict[int, tuple[list[Any], int]] = {}
    while stack:
        items = stack.pop()
        for index, value in enumerate(items):
            if type(value) is list:
                parents[id(value)] = (items, index)
                stack.append(value)
            else:
                leaves += 1
                if type(value) is str and len(value) > longest:
                    longest, where = len(value), (items, index)
    if where is None:
        return leaves, 0, None
    return leaves, longest, _path_to(obj, where, parents)


def _path_to(
    root: list[Any], where: tuple[list[Any], int], parents: dict[int, tuple[list[Any], int]]
) -> list[int]:
    items, index = where
    path = [index]
    while items is not root:
        items, index = parents[id(items)]
        path.append(index)
    return path[::-1]


def _walk(obj: list[Any]) -> Any:
    """Yield ``(path, value)`` for every element of nested lists, depth first, without recursion."""
    stack: list[tuple[list[int], Any]] = [([], obj)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, list):
            stack.extend(([*path, i], v) for i, v in reversed(list(enumerate(value))))


def _ragged_error(obj: list[Any]) -> BadInput:
    """Find the first element whose length or nesting differs from the first row's."""
    shape: list[int] = []
    first: Any = obj
    while isinstance(first, list):
        shape.append(len(first))
        first = first[0] if first else None
    for path, value in _walk(obj):
        depth = len(path)
        if depth == 0:
            continue
        want_list = depth < len(shape)
        if want_list and not isinstance(value, list):
            got = json_type_name(value)
            message = f"element at {path} is {got}, expected an array of length {shape[depth]}"
            received: Any = got
        elif not want_list and isinstance(value, list):
            message = f"element at {path} is an array, expected a scalar like its siblings"
            received = "array"
        elif want_list and len(value) != shape[depth]:
            message = f"row at {path} has length {len(value)}, expected {shape[depth]}"
            received = len(value)
        else:
            continue
        return BadInput(
            f"array rows are ragged: {message}",
            detail={"reason": "ragged", "path": path, "received": received},
        )
    return BadInput("array rows are ragged (inhomogeneous shape)", detail={"reason": "ragged"})


def _object_error(obj: list[Any]) -> BadInput:
    """Name the first element that made numpy fall back to dtype=object."""
    for path, value in _walk(obj):
        if isinstance(value, list):
            continue
        if value is None or isinstance(value, dict):
            what = json_type_name(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            if -(2**63) <= value < 2**64:
                continue
            what = "an integer too large for 64 bits"
        else:
            continue
        return BadInput(
            f"array element at {path} is {what}; arrays hold numbers, strings or booleans",
            detail={"reason": "unsupported element", "path": path, "received": what},
        )
    return BadInput(
        "array elements must be numbers, strings or booleans of one kind",
        detail={"reason": "unsupported element"},
    )
