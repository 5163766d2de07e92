"""NumpyNdarray: a JSON value in the body, an ``np.ndarray`` in the API function.

What the function gets is what classic BentoML 1.1 handed it: ``np.array(value, dtype=dtype)``,
and when numpy cannot read the values as ``dtype`` (strings that are no numbers, NaN for an
integer dtype), ``np.array(value)`` as it is; then a declared dtype is applied where numpy calls
the cast ``same_kind``, and a declared shape by ``reshape`` where the sizes allow. With
``enforce_dtype`` / ``enforce_shape`` what still differs is a 400. So numeric strings
(``[["5.9", "3.0"]]``) are read as numbers, a JSON scalar is a 0-d array, ``null`` under a float
dtype is NaN, and the Content-Type is not looked at.

Where classic answered a 500 (invalid JSON, ragged rows, a value out of an integer dtype's range)
this answers a 400 that names the place. A large body of nothing but numbers goes straight into
numpy (``_numeric_json.py``), without a Python object per element.

Strings cost more as an array than as JSON: numpy stores them at a fixed width, every element
as wide as the longest (a long string among three numbers made an array four times its size),
and its string-to-number cast took hundreds of times a long string's size. So before numpy sees
a body with strings in it, one pass over the parsed values finds the longest: numpy parses
strings as numbers only when none is longer than any number is written
(``NUMBER_TEXT_LIMIT``), and an array of strings is built only if, at the width of the longest,
it takes at most ``MEMORY_FACTOR`` times its body (``_numpy_values.py`` makes the array).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..exceptions import BadInput, InvalidArgument
from ._array_paths import first_non_number, not_a_number_error, strings_of
from ._array_render import render_array
from ._fast_json import decode_or_none
from ._numeric_json import (
    AFFORDABLE_OBJECT_FACTOR,
    TEXT_PATH_OBJECT_FACTOR,
    object_factor,
    parse_numeric_array,
    unquote_numbers,
    writes_floats,
)
from ._numpy_values import (
    PARSED_KINDS,
    NotNumbers,
    check_int_range,
    check_string_budget,
    construct,
)
from .base import REQUEST_BODY, JsonBodyDescriptor, load_json_body, require_nonempty

if TYPE_CHECKING:
    from numpy.typing import DTypeLike
    from starlette.responses import Response

#: the longest string a numeric dtype parses: more digits than any float or int64 is written with
NUMBER_TEXT_LIMIT = 100


_JSON_TYPES_BY_KIND: dict[str, list[str]] = {
    # what np.array(values, dtype) takes for each kind: numbers and booleans, numeric strings,
    # and for floats null (NaN); an integer dtype truncates floats
    "f": ["number", "boolean", "string", "null"],
    "c": ["number", "boolean", "string", "null"],
    "i": ["number", "boolean", "string"],
    "u": ["number", "boolean", "string"],
    "b": ["boolean", "number", "string"],
}


class NumpyNdarray(JsonBodyDescriptor[np.ndarray]):
    mime_type: ClassVar[str] = "application/json"

    def __init__(
        self,
        dtype: DTypeLike | None = None,
        enforce_dtype: bool = False,
        shape: Sequence[int] | None = None,
        enforce_shape: bool = False,
    ) -> None:
        for what, enforced, declared in (
            ("dtype", enforce_dtype, dtype),
            ("shape", enforce_shape, shape),
        ):
            if enforced and declared is None:  # classic took it, and enforced nothing
                warnings.warn(
                    f"NumpyNdarray(enforce_{what}=True) without a {what} enforces nothing",
                    UserWarning,
                    stacklevel=2,
                )
        self.dtype: np.dtype[Any] | None = None if dtype is None else _to_dtype(dtype)
        self.shape: tuple[int, ...] | None = None if shape is None else _to_shape(shape)
        self.enforce_dtype = enforce_dtype and dtype is not None
        self.enforce_shape = enforce_shape and shape is not None
        self._sample: np.ndarray | None = None
        #: what an unenforced shape reshapes to: the shape, or the sample's own (classic's)
        self._reshape_to = self.shape

    def __repr__(self) -> str:
        return (
            f"NumpyNdarray(dtype={self.dtype}, enforce_dtype={self.enforce_dtype}, "
            f"shape={self.shape}, enforce_shape={self.enforce_shape})"
        )

    # -- input ---------------------------------------------------------------------------------

    def parse_bytes(self, body: bytes, where: str = REQUEST_BODY) -> np.ndarray:
        """JSON bytes -> validated array: the one path for request bodies and multipart parts."""
        if not body:
            require_nonempty(body, where)
        factor = object_factor(body)
        if factor > TEXT_PATH_OBJECT_FACTOR:
            if b'"' not in body and factor <= AFFORDABLE_OBJECT_FACTOR:
                # numbers written at some length: their objects are affordable, and msgspec
                # reads them ten times faster; what it refuses (1e999) goes the text way
                parsed, obj = decode_or_none(body)
                if parsed:
                    numbers = self._plain_numbers(obj, body)
                    if numbers is not None:
                        return self.validate_array(self._typed(numbers))
                    return self.validate_array(self._to_array(obj, None))
            numbers = self._numbers(body)
            if numbers is not None:  # a large body of plain numbers: no object per element
                return self.validate_array(self._typed(numbers))
        obj = load_json_body(body, where)
        # without a quote there is no string, and nothing to measure
        return self.validate_array(self._to_array(obj, len(body) if b'"' in body else None))

    def _numbers(self, body: bytes) -> np.ndarray | None:
        """The fast path's array, for a body of plain numbers (or numbers sent as strings under a
        numeric dtype). Not for other dtypes (strings, objects, dates): ints among floats are
        read as floats here, and those would show it."""
        dtype = self.dtype
        if dtype is not None and dtype.kind not in "biufc":
            return None
        numbers = parse_numeric_array(body)
        if numbers is None and dtype is not None and dtype.kind in "fciu":
            plain = unquote_numbers(body, integers=dtype.kind in "iu")  # "5.9" is 5.9
            numbers = None if plain is None else parse_numeric_array(plain)
        return numbers

    def _plain_numbers(self, obj: Any, body: bytes) -> np.ndarray | None:
        """What the text path (``_numbers``) reads, made from msgspec's objects instead: an
        int64 or float64 array, under the same dtypes; None where it would not read them
        (ragged, huge integers, anything but numbers).

        Under a float dtype, where the body writes a fraction or an exponent and no literal
        (``writes_floats``), numpy is told float64: that spares it a pass over every object to
        find the dtype. It would find float64 there too, or objects for an integer wider than
        int64, which the general path then reads as floats of the dtype, as this does. Ragged
        rows and objects raise either way, and take the general path as before."""
        dtype = self.dtype
        if dtype is not None and dtype.kind not in "biufc":
            return None
        floats = dtype is not None and dtype.kind == "f" and writes_floats(body)
        told = np.float64 if floats else None
        try:
            numbers = np.asarray(obj, dtype=told)
        except (ValueError, TypeError, OverflowError):  # ragged, an object, a huge integer
            return None
        return numbers if numbers.dtype.kind in "if" else None

    def _to_array(self, obj: Any, body_size: int | None) -> np.ndarray:
        """``np.array(obj, dtype)``, falling back to ``np.array(obj)`` as classic did, except
        that strings numpy would make too costly are refused first (see the module's doc)."""
        dtype = self.dtype
        if body_size is not None:
            leaves, longest, path = strings_of(obj)
            if path is not None and (dtype is None or dtype.kind in "USV"):
                check_string_budget(leaves, longest, path, body_size)  # fixed-width strings
            elif path is not None and dtype is not None and dtype.kind in PARSED_KINDS:
                if longest <= NUMBER_TEXT_LIMIT:
                    try:
                        return construct(obj, dtype)
                    except NotNumbers:
                        pass
                return self._unparsed(obj, leaves, longest, path, body_size)
        try:
            return construct(obj, dtype)
        except NotNumbers:
            return construct(obj, None)  # e.g. NaN under an integer dtype: kept as floats

    def _unparsed(
        self, obj: Any, leaves: int, longest: int, path: list[int], body_size: int
    ) -> np.ndarray:
        """Values numpy did not (or was not let) read as the dtype, as numpy makes them without
        one: refused under ``enforce_dtype``, naming the first string that is no number."""
        dtype = self.dtype
        assert dtype is not None
        if self.enforce_dtype:
            misfit = first_non_number(obj, dtype.kind, NUMBER_TEXT_LIMIT)
            if misfit is not None:
                raise not_a_number_error(*misfit, dtype, NUMBER_TEXT_LIMIT)
        check_string_budget(leaves, longest, path, body_size)
        return construct(obj, None)

    def _typed(self, numbers: np.ndarray) -> np.ndarray:
        """What ``np.array(values, dtype)`` makes of the numbers the fast path read (int64 or
        float64): numpy refuses integers out of the dtype's range, and so does this."""
        dtype = self.dtype
        if dtype is None or numbers.dtype == dtype:
            return numbers
        if dtype.kind in "iu" and numbers.size:
            check_int_range(numbers, dtype)
        try:
            with np.errstate(over="ignore"):  # 1e308 as float32 is inf, as in numpy
                return numbers.astype(dtype)
        except (TypeError, ValueError):
            return numbers  # numpy would not make them that dtype either: classic's fallback

    def validate_array(self, arr: np.ndarray) -> np.ndarray:
        """Classic's last step: the dtype where numpy calls the cast ``same_kind``, a declared
        shape by ``reshape``; what still differs is a 400 only where it is enforced."""
        dtype = self.dtype
        if dtype is not None and not _same_dtype(arr.dtype, dtype):
            if np.can_cast(arr.dtype, dtype, casting="same_kind"):
                with np.errstate(over="ignore"):
                    arr = arr.astype(dtype, casting="same_kind")
            elif self.enforce_dtype:
                nan = arr.dtype.kind == "f" and bool(np.isnan(arr).any())
                raise BadInput(
                    f"array of dtype {arr.dtype}{' (with NaN)' if nan else ''} cannot be used "
                    f"as the enforced dtype {dtype}",
                    detail={"expected_dtype": str(dtype), "received_dtype": str(arr.dtype)},
                )
        if self.shape is not None and not _shape_matches(self.shape, arr.shape):
            if self.enforce_shape:
                raise BadInput(
                    f"array shape {list(arr.shape)} does not match the expected shape "
                    f"{list(self.shape)} (-1 means any size)",
                    detail={
                        "expected_shape": list(self.shape),
                        "received_shape": list(arr.shape),
                    },
                )
            with contextlib.suppress(ValueError):  # else classic handed it over as it came
                arr = arr.reshape(self._reshape_to)
        return arr

    # -- output --------------------------------------------------------------------------------

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        arr = obj if isinstance(obj, np.ndarray) else np.asarray(obj)
        if arr.dtype.kind == "O" and arr.ndim == 0 and not isinstance(obj, np.ndarray):
            raise TypeError(
                f"NumpyNdarray output expects an ndarray or an array-like value, "
                f"got {type(obj).__name__}"
            )
        if self.dtype is not None or self.shape is not None:
            arr = self._output_checked(arr)
        return Response(render_array(arr), media_type=self.mime_type)

    def _output_checked(self, arr: np.ndarray) -> np.ndarray:
        """The declared dtype and shape applied to a returned array as classic did; a mismatch
        that is enforced is the function's fault, a 500."""
        try:
            return self.validate_array(arr)
        except BadInput as exc:
            raise TypeError(f"NumpyNdarray output: {exc.message}") from None

    # -- documentation -------------------------------------------------------------------------

    def openapi_schema(self) -> dict[str, Any]:
        """What a request may hold. Without a shape any JSON value is an array to numpy; without
        ``enforce_dtype`` any element is handed over as numpy reads it."""
        if self.shape is None:
            return {}
        schema: dict[str, Any] = {}
        dtype = self.dtype
        if self.enforce_dtype and dtype is not None and dtype.kind in _JSON_TYPES_BY_KIND:
            schema = {"type": list(_JSON_TYPES_BY_KIND[dtype.kind])}
            if dtype.kind in "iu":  # out of range is refused; floats are truncated toward zero
                info = np.iinfo(dtype)
                schema["exclusiveMinimum"] = int(info.min) - 1
                schema["exclusiveMaximum"] = int(info.max) + 1
        for dim in reversed(self.shape):
            schema = {"type": "array", "items": schema}
            if self.enforce_shape and dim != -1:
                schema["minItems"] = schema["maxItems"] = dim
        return schema

    def to_spec(self) -> dict[str, Any]:
        return {
            "id": "bentoml.io.NumpyNdarray",
            "args": {
                "dtype": None if self.dtype is None else str(self.dtype),
                "shape": None if self.shape is None else list(self.shape),
                "enforce_dtype": self.enforce_dtype,
                "enforce_shape": self.enforce_shape,
            },
        }

    def openapi_responses(self) -> dict[str, Any]:
        schema = self.openapi_schema() if self.enforce_shape else {}
        return {"content": {self.mime_type: {"schema": schema}}}

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
        # classic declared the sample's own shape: unenforced, that is what it reshaped to
        descriptor._reshape_to = arr.shape
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


def _shape_matches(expected: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    return len(expected) == len(shape) and all(
        want in (-1, got) for want, got in zip(expected, shape, strict=True)
    )


def _same_dtype(have: np.dtype[Any], want: np.dtype[Any]) -> bool:
    # An unsized flexible dtype (np.dtype(str) is <U0) means "strings of any length".
    if want.kind in "USV" and want.itemsize == 0:
        return have.kind == want.kind
    return have == want
