"""Records bodies of plain numbers read into one float64 block, without a dict per record.

The common body of a tabular model, ``[{"f0": 0.84, "f1": 0.16, ...}, ...]``, was parsed into a
dict per record, and pandas then walked the dicts key by key, a Python step per cell. Both
showed in the API worker's profile under load as most of its CPU per request, and the dicts
were most of its memory per request (a small record's dict weighs ten times its JSON).

Here the first record names the columns (it is parsed alone, from the body up to its first
``}``), and msgspec reads the whole body against a struct of those fields, each an integer
within float64's exact range or a float. Each record then becomes a struct of a few slots, not
a dict, and the columns are pulled out of the structs one whole column at a time
(``np.fromiter``), into the block pandas would have made: C-ordered, one row per column.

The frame is what the general path builds, less one difference that pandas' inference erases:
an integer column is float64 here. ``pd.read_json(dtype=True)`` makes an integral float64
column int64 again, so this path is taken only where that inference runs
(``_pandas_inference.inferred_numeric_frame``: no enforced dtypes, no column named like a
date) and every integer is exact as a float (at most 2**53 in size).

Any other body, and any body where a record lacks a field, has another field, or holds a
string, a boolean, a null, a nested value or a wider integer, is refused by msgspec as it reads
(a ``None`` here), and the general path reads it and says what is wrong.
"""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any

import msgspec
import numpy as np
import pandas as pd

from ._fast_json import has_huge_exponents
from ._pandas_inference import DATE_LIKE

#: float64 holds every integer up to this size exactly
_EXACT = 2**53
_Number = Annotated[int, msgspec.Meta(ge=-_EXACT, le=_EXACT)] | float
#: the most columns and the most characters of names read this way (each set of names keeps
#: a decoder in a small cache)
_MAX_COLUMNS = 1024
_MAX_NAME_CHARS = 16384
_first_record = msgspec.json.Decoder(list[dict[str, _Number]])
_WHITESPACE = b" \t\n\r"
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, MemoryError, ValueError)


def numeric_records_frame(body: bytes) -> pd.DataFrame | None:
    """The frame ``pd.DataFrame(json.loads(body))`` gives, but for integer columns as float64,
    where ``body`` is a non-empty list of records of the same plain-number fields; else None."""
    names = _column_names(body)
    if names is None or has_huge_exponents(body):
        return None
    decoder, fields, columns = _reader(names)
    try:
        records = decoder.decode(body)
    except _DECODE_ERRORS:  # ValidationError is a DecodeError
        return None
    count = len(records)
    block = np.empty((len(names), count), dtype=np.float64)
    for position, field in enumerate(fields):
        block[position] = np.fromiter(map(field, records), np.float64, count=count)
    del records
    return pd.DataFrame(block.T, columns=columns, copy=False)


def _column_names(body: bytes) -> tuple[str, ...] | None:
    """The keys of the body's first record, where it starts as a list of plain-number records
    and no key looks like a date; else None."""
    start = len(body) - len(body.lstrip(_WHITESPACE))
    if body[start : start + 1] != b"[":
        return None
    end = body.find(b"}", start)
    if end < 0:
        return None
    try:
        first = _first_record.decode(body[start : end + 1] + b"]")
    except _DECODE_ERRORS:  # a nested value, a string, a "}" inside a key: not this path
        return None
    if len(first) != 1 or not first[0] or len(first[0]) > _MAX_COLUMNS:
        return None
    names = tuple(first[0])
    if sum(map(len, names)) > _MAX_NAME_CHARS or any(DATE_LIKE.search(n) for n in names):
        return None
    return names


@functools.lru_cache(maxsize=64)
def _reader(
    names: tuple[str, ...],
) -> tuple[msgspec.json.Decoder[Any], list[operator.attrgetter[Any]], pd.Index]:
    """For records of exactly these fields, each a plain number: their decoder, a getter per
    field, and the column labels (an Index is immutable, and pandas takes some time to make
    one of strings). Fields are named by position and renamed to the keys, so that any key (not
    only identifiers) works. The structs are not tracked by the garbage collector (they hold
    only numbers), which makes each cheaper to make and to free."""
    fields = [f"c{position}" for position in range(len(names))]
    record = msgspec.defstruct(
        "Record",
        [(field, _Number) for field in fields],
        forbid_unknown_fields=True,
        rename=dict(zip(fields, names, strict=True)),
        gc=False,
    )
    decoder = msgspec.json.Decoder(list[record])  # type: ignore[valid-type]
    return decoder, [operator.attrgetter(field) for field in fields], pd.Index(names)
