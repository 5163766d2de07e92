"""A NumpyNdarray's answer as classic BentoML wrote it: ``json.dumps(arr.tolist())``, byte for
byte, written from the array's memory where the fast libraries give the same bytes."""

from __future__ import annotations

import json

import numpy as np

from ._fast_json import as_written, encode_array, encode_numbers


def render_array(arr: np.ndarray) -> bytes:
    """The bytes classic BentoML sent, ``json.dumps(arr.tolist())``: floats as Python's
    ``repr`` writes them, NaN as ``NaN``, ``", "`` between items. Arrays of booleans,
    integers, and finite floats between 1e-4 and 1e16 are written by orjson from their own
    memory; other finite floats by msgspec, where numpy finds the floats it writes otherwise
    than ``repr`` (below 1e-4, from 1e16 up) and only those are written by ``repr``. Anything
    else is written by ``json.dumps`` itself."""
    kind = arr.dtype.kind
    if kind in "biu":
        return _written_whole(arr) or encode_numbers(arr.tolist())
    if kind != "f" or not arr.size:
        return json.dumps(arr.tolist()).encode()
    # (bounds a little wide of 1e-4 and 1e16: a float32 compares at its own precision, and a
    # float taken for odd that is not is merely written by repr, as the stdlib would)
    magnitude = np.abs(arr)
    if arr.ndim and magnitude.min() >= 1.001e-4 and magnitude.max() < 9.99e15:
        # the usual answer: two reductions say there is no odd float, and no NaN or infinity
        # (either fails a comparison), without the masks below
        return _written_whole(arr) or encode_numbers(arr.tolist())
    if not bool(np.isfinite(arr).all()):
        return json.dumps(arr.tolist()).encode()
    odd = (magnitude < 1.001e-4) & (magnitude != 0)
    if magnitude.dtype.itemsize > 2:  # float16 has none that large
        odd |= magnitude >= 9.99e15
    values = arr.tolist()
    if arr.ndim == 0:
        return repr(values).encode()
    for index in np.argwhere(odd).tolist():  # one per odd float, usually none
        row = values
        for position in index[:-1]:
            row = row[position]
        row[index[-1]] = as_written(repr(row[index[-1]]))
    return encode_numbers(values)


#: arrays this small are written through ``tolist()``: orjson's look at an array costs about a
#: microsecond, four times msgspec's whole answer of iris' one number
_ORJSON_FROM = 64


def _written_whole(arr: np.ndarray) -> bytes | None:
    return encode_array(arr) if arr.size >= _ORJSON_FROM else None
