"""Records bodies read into a frame without a dict per record.

The common body of a tabular model, ``[{"f0": 0.84, "f1": "red", ...}, ...]``, was parsed into a
dict per record, and pandas then walked the dicts key by key, a Python step per cell. Both
showed in the API worker's profile under load as most of its CPU per request, and the dicts
were most of its memory per request (a small record's dict weighs ten times its JSON).

Here the first record names the columns (it is parsed alone, from the body up to the ``}`` that
closes it), and msgspec reads the whole body against a struct of those fields. Each record then
becomes a struct of a few slots, not a dict, and the columns are pulled out of the structs one
whole column at a time. Two structs:

- every field a plain number (``numeric_records_frame``): an integer within float64's exact
  range or a float, pulled out with ``np.fromiter`` into the float64 block pandas would have
  made, C-ordered, one row per column. An integer column is float64 here, which pandas'
  inference erases: ``pd.read_json(dtype=True)`` makes an integral float64 column int64 again,
  so this path is taken only where that inference runs (``_pandas_inference``: no enforced
  dtypes, no column named like a date) and every integer is exact as a float (at most 2**53).
- any JSON value (``records_frame``): each column is an object array of the values, converted
  by the function pandas' constructor applies to each column of a list of dicts
  (``convert_object_array``: numbers, booleans, pandas 3's ``str`` dtype for strings, NaN for
  nulls among numbers, object for the rest), and the frame is assembled by the constructor's own
  last step. The frame is exactly ``pd.DataFrame(json.loads(body))``, whatever the dtype asked.

Any other body, and any body where a record lacks a field or has another one, is refused by
msgspec as it reads (a ``None`` here), and the general path reads it and says what is wrong.
The structs are not tracked by the garbage collector: values decoded from JSON never refer back
to their struct, so no struct is ever part of a cycle, and each is cheaper to make and to free.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
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
#: how far into the body, and over how many ``}``, the end of the first record is looked for:
#: each try parses the body up to one ``}``, so the search is bounded by their product
_FIRST_RECORD_BYTES = 65536
_FIRST_RECORD_TRIES = 64
_first_record = msgspec.json.Decoder(list[dict[str, Any]])
_WHITESPACE = b" \t\n\r"
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, MemoryError, ValueError)


def numeric_records_frame(body: bytes) -> pd.DataFrame | None:
    """The frame ``pd.DataFrame(json.loads(body))`` gives, but for integer columns as float64,
    where ``body`` is a non-empty list of records of the same plain-number fields; else None."""
    first = _first_record_of(body)
    if first is None or not all(type(value) in (int, float) for value in first.values()):
        return None
    names = tuple(first)
    if any(DATE_LIKE.search(name) for name in names):
        return None
    reader = _numeric_reader(names)
    if reader is None:
        return None
    decoder, fields, columns = reader
    records = _decoded(decoder, body)
    if records is None:
        return None
    count = len(records)
    block = np.empty((len(names), count), dtype=np.float64)
    for position, field in enumerate(fields):
        block[position] = np.fromiter(map(field, records), np.float64, count=count)
    del records
    return pd.DataFrame(block.T, columns=columns, copy=False)


def records_frame(body: bytes) -> pd.DataFrame | None:
    """Exactly ``pd.DataFrame(json.loads(body))``, where ``body`` is a non-empty list of records
    of the same fields, each any JSON value; else None."""
    pandas_steps = _pandas_constructor_steps()
    first = _first_record_of(body)
    if pandas_steps is None or first is None:
        return None
    convert_column, assemble = pandas_steps
    reader = _any_reader(tuple(first))
    if reader is None:
        return None
    decoder, fields, columns = reader
    records = _decoded(decoder, body)
    if records is None:
        return None
    count = len(records)
    try:
        arrays = [
            convert_column(np.fromiter(map(field, records), object, count=count))
            for field in fields
        ]
        del records
        return assemble(arrays, columns, count)
    except Exception:  # anything pandas' constructor would refuse: the general path says it
        return None


def _decoded(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    """The body's records, or None where msgspec refuses them (or is slow on them)."""
    if has_huge_exponents(body):
        return None
    try:
        return decoder.decode(body)
    except _DECODE_ERRORS:  # ValidationError is a DecodeError
        return None


def _first_record_of(body: bytes) -> dict[str, Any] | None:
    """The body's first record, where the body starts as a list of records and that record has
    keys, not too many nor too long; else None. Each ``}`` near the start is tried as its end in
    turn (a ``}`` may close a nested object, or stand in a string), and the first that closes it
    is the one: a complete JSON value ends at one place only."""
    start = len(body) - len(body.lstrip(_WHITESPACE))
    if body[start : start + 1] != b"[":
        return None
    limit = min(len(body), start + _FIRST_RECORD_BYTES)
    end = start
    for _ in range(_FIRST_RECORD_TRIES):
        end = body.find(b"}", end + 1, limit)
        if end < 0:
            return None
        try:
            first = _first_record.decode(body[start : end + 1] + b"]")
        except _DECODE_ERRORS:
            continue
        if len(first) != 1:
            return None
        record = first[0]
        if not record or len(record) > _MAX_COLUMNS or sum(map(len, record)) > _MAX_NAME_CHARS:
            return None
        return record
    return None


#: a field of a struct, as ``map`` takes it
Getter = Callable[[Any], Any]


def _struct_reader(
    names: tuple[str, ...], value_type: Any
) -> tuple[msgspec.json.Decoder[Any], list[Getter]] | None:
    """The decoder of a list of structs of exactly these keys, each holding ``value_type``, and
    a getter per field. Fields are named by position and renamed to the keys, so that any key
    (not only identifiers) works; None for a key msgspec cannot match so (one holding a quote,
    a backslash, a control character or a lone surrogate)."""
    fields = [f"c{position}" for position in range(len(names))]
    try:
        record = msgspec.defstruct(
            "Record",
            [(field, value_type) for field in fields],
            forbid_unknown_fields=True,
            rename=dict(zip(fields, names, strict=True)),
            gc=False,
        )
    except (UnicodeError, ValueError):
        return None
    decoder = msgspec.json.Decoder(list[record])  # type: ignore[valid-type]
    return decoder, [operator.attrgetter(field) for field in fields]


@functools.lru_cache(maxsize=64)
def _numeric_reader(
    names: tuple[str, ...],
) -> tuple[msgspec.json.Decoder[Any], list[Getter], pd.Index] | None:
    """For records of exactly these fields, each a plain number: their decoder, a getter per
    field, and the column labels (an Index is immutable, and pandas takes some time to make
    one of strings)."""
    reader = _struct_reader(names, _Number)
    return None if reader is None else (*reader, pd.Index(names))


@functools.lru_cache(maxsize=64)
def _any_reader(
    names: tuple[str, ...],
) -> tuple[msgspec.json.Decoder[Any], list[Getter], list[str]] | None:
    """For records of exactly these fields, each any JSON value: their decoder, a getter per
    field, and the keys (pandas makes the Index of them, as its constructor does)."""
    reader = _struct_reader(names, Any)
    return None if reader is None else (*reader, list(names))


Converter = Callable[[np.ndarray], Any]
Assembler = Callable[[list[Any], list[str], int], pd.DataFrame]


@functools.cache
def _pandas_constructor_steps() -> tuple[Converter, Assembler] | None:
    """The two steps by which ``pd.DataFrame(list_of_dicts)`` turns its object columns into a
    frame: the conversion of each column, and the assembly of the converted columns under a
    range index. None where this pandas has neither (then the general path reads records)."""
    try:
        from pandas.core.internals.construction import convert_object_array

        def convert(column: np.ndarray) -> Any:
            (converted,) = convert_object_array([column], dtype=None)
            return converted

        def assemble(arrays: list[Any], columns: list[str], count: int) -> pd.DataFrame:
            frame = pd.DataFrame._from_arrays(arrays, columns, pd.RangeIndex(count))
            assert isinstance(frame, pd.DataFrame)
            return frame

        assemble([convert(np.array(["x"], dtype=object))], ["a"], 1)  # the calls relied on
    except Exception:
        return None
    return convert, assemble
