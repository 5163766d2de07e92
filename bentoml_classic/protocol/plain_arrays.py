"""The pickle-free body of a call or result that holds only plain numeric arrays.

The common case, a call whose arguments are all numpy arrays of booleans, integers, floats or
complex numbers (and a result that is one), skips pickle: the body's first buffer is a one-line
text header (``MARKER``, the method name, each array's dtype and shape) and the arrays follow as
they are. A strided view (every other column, say) is made C-contiguous first: that one copy is
needed to send it in one piece, and it spares the three pickle would make (the array's bytes in
the pickle, the pickle's result, and the array rebuilt from them on the other side). A
Fortran-ordered array is left to pickle, which sends it as it is, out of band. Building and
reading that header costs a fraction of pickle's work, which shows on a cheap model.
``codec.py`` decides when a payload takes this path.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

#: first byte of a header-plus-arrays body; a pickle stream starts with 0x80 instead
MARKER = 0xA7
#: numpy dtype kinds that travel as bare buffers: booleans, integers, floats, complex numbers
_PLAIN_KINDS = "biufc"


def is_plain(value: Any) -> bool:
    kind = type(value)
    return (
        kind.__name__ == "ndarray"
        and kind.__module__ == "numpy"
        and value.dtype.kind in _PLAIN_KINDS
        and (value.flags.c_contiguous or not value.flags.f_contiguous)
    )


def body(method: str, arrays: Sequence[Any]) -> list[Any]:
    return [_arrays_header(method, arrays), *(_raw(array) for array in arrays)]


def _raw(array: Any) -> memoryview:
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    return pickle.PickleBuffer(array).raw()


def _arrays_header(method: str, arrays: Sequence[Any]) -> bytes:
    if len(arrays) != 1:
        return _make_arrays_header(method, arrays)
    array = arrays[0]
    key = (method, array.dtype, array.shape)
    header = _ENCODED_HEADERS.get(key)
    if header is None:
        header = _make_arrays_header(method, arrays)
        _remember(_ENCODED_HEADERS, key, header)
    return header


def _make_arrays_header(method: str, arrays: Sequence[Any]) -> bytes:
    specs = ";".join(f"{a.dtype.str}:{','.join(map(str, a.shape))}" for a in arrays)
    return bytes((MARKER,)) + f"{method}\n{specs}".encode()


#: Array headers made and read, by what they describe and by their bytes. A service sends the
#: same few (one per method and batch size), and building or parsing one anew costs more than
#: the rest of a small call's encoding together: dtype parsing, string splitting, several numpy
#: calls. Bounded: cleared when full, which a peer sending ever new shapes only makes slower.
_ENCODED_HEADERS: dict[tuple[str, Any, tuple[int, ...]], bytes] = {}
_DECODED_HEADERS: dict[bytes, tuple[str, tuple[tuple[Any, tuple[int, ...], int], ...]]] = {}
_HEADER_CACHE_SIZE = 1024
#: headers longer than this (many arrays, long names) are parsed every time
_CACHED_HEADER_MAX = 256


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _HEADER_CACHE_SIZE:
        cache.clear()
    cache[key] = value


def decode(buffers: list[memoryview]) -> tuple[str, tuple[Any, ...]]:
    """The method name (empty in a result) and the arrays, built on the received memory;
    ValueError or TypeError if the body is malformed."""
    import numpy as np

    header = bytes(buffers[0])
    parsed = _DECODED_HEADERS.get(header)
    if parsed is None:
        parsed = _parse_arrays_header(header)
        if len(header) <= _CACHED_HEADER_MAX:
            _remember(_DECODED_HEADERS, header, parsed)
    method, specs = parsed
    if len(specs) != len(buffers) - 1:
        raise ValueError(f"{len(specs)} arrays described, {len(buffers) - 1} sent")
    arrays = []
    for (dtype, shape, nbytes), data in zip(specs, buffers[1:], strict=True):
        if len(data) != nbytes:
            raise ValueError(f"{len(data)} bytes sent for an array of {nbytes}")
        arrays.append(np.ndarray(shape, dtype, data))
    return method, tuple(arrays)


def _parse_arrays_header(
    header: bytes,
) -> tuple[str, tuple[tuple[Any, tuple[int, ...], int], ...]]:
    """The method, and each array's dtype, shape and size in bytes; ValueError if malformed."""
    import numpy as np

    method, newline, specs_text = header[1:].decode("utf-8").partition("\n")
    if not newline:
        raise ValueError("no array descriptions")
    specs = []
    for spec in specs_text.split(";"):
        dtype_text, _, shape_text = spec.partition(":")
        dtype = np.dtype(dtype_text)
        if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or not dtype.itemsize:
            raise ValueError(f"dtype {dtype_text!r} is not one that travels as a bare buffer")
        shape = tuple(_dimension(d) for d in shape_text.split(",")) if shape_text else ()
        nbytes = dtype.itemsize
        for dimension in shape:
            nbytes *= dimension
        specs.append((dtype, shape, nbytes))
    return method, tuple(specs)


def _dimension(text: str) -> int:
    # int() alone would take "-1" (numpy then guesses the size), " 3" and "3_0"
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"bad array dimension {text!r}")
    return int(text)
