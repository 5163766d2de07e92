"""JSON at the HTTP boundary through msgspec, with the stdlib's answers kept exactly.

msgspec parses and writes JSON several times faster than the stdlib, at a fraction of the
memory (docs/benchmarks.md, "Which JSON library"). What clients get must not change, so each
function here answers what the stdlib would, and hands back to it where msgspec differs:

- parsing: msgspec refuses what ``json.loads`` takes as Python's extensions (``NaN``,
  ``Infinity``, a numeral beyond a float's range, a byte order mark, UTF-16/32, lone
  surrogates) and reports errors in its own words. Where it refuses, the caller runs
  ``json.loads``, which takes the body or says exactly where it is wrong. Where msgspec takes a
  body, its value is the one ``json.loads`` gives (integers of any length, floats correctly
  rounded, the last of duplicate keys).
- writing: msgspec writes NaN and infinity as ``null`` (``json.dumps`` writes ``NaN`` or
  refuses), and writes a float below 1e-4 or from 1e16 up in another form than Python's
  ``repr`` (``0.00001``, ``1e16``; Python: ``1e-05``, ``1e+16``). Those are found in the
  output (or, for arrays, in the values) and the stdlib's form is used instead.
- writing an array: msgspec writes Python objects, so an array went through ``tolist()``
  first, a Python float per element. orjson writes a numpy array's own numbers
  (``encode_array``), as ``repr`` writes a float64 in the range above, and integers and
  booleans as the stdlib does; a 10,000-float answer costs the whole serving tree 14 % less
  CPU per request that way (docs/benchmarks.md, "Writing the answer's array"). Smaller floats
  are widened to float64 first: classic's ``tolist()`` did that, and orjson would write a
  float32 by its own shortest form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

_decoder = msgspec.json.Decoder()

#: a float msgspec may write otherwise than ``repr``: an exponent, or a decimal below 1e-4.
#: Each pattern starts with a literal, which the search finds fast (a character class or a
#: lookbehind first would be tried at every position).
_FLOAT_FORM_DIFFERS = (
    re.compile(rb"e(?<=[0-9]e)"),
    re.compile(rb"0\.0000(?<![0-9]0\.0000)"),
)


#: outputs this long are checked by numpy, a few passes over the bytes: the patterns try every
#: ``e`` and every ``0.0000`` in turn, which costs about as much as msgspec's writing of a
#: large answer (docs/benchmarks.md, "Checking a large JSON answer")
_VECTOR_CHECK_FROM = 16 * 1024


def float_form_differs(out: bytes) -> bool:
    """Whether ``out`` may hold a float msgspec wrote otherwise than ``repr``: what either
    pattern of ``_FLOAT_FORM_DIFFERS`` finds (an ``e`` after a digit; ``0.0000`` after no
    digit), strings included."""
    if len(out) < _VECTOR_CHECK_FROM:
        return any(pattern.search(out) for pattern in _FLOAT_FORM_DIFFERS)
    import numpy as np

    # whole-buffer comparisons into two buffers, reused (each fresh 1 MB temporary is a page
    # fault per 4 KiB where the heap policy is off); listing the dots' positions
    # (flatnonzero) instead took 0.47 ms on a 1.2 MB answer of floats
    data = np.frombuffer(out, np.uint8)
    size = len(data)
    mask = np.equal(data[1:], ord("e"))  # mask[i]: an 'e' at i + 1
    work = np.empty(size, np.uint8)
    if mask.any() and np.logical_and(mask, _digits(data[:-1], work), out=mask).any():
        return True
    zero = np.equal(data, ord("0"), out=work.view(np.bool_))
    run = np.equal(data[1 : size - 4], ord("."), out=mask[: size - 5])  # "0.0000" starts at i
    for start in (0, 2, 3, 4, 5):
        np.logical_and(run, zero[start : size - 5 + start], out=run)
    if not run.any():
        return False
    # at the very start, or after a byte other than a digit
    return bool(run[0] or (run[1:] & ~_digits(data[: size - 6], work)).any())


def _digits(data: Any, work: Any) -> Any:
    """Whether each byte is an ASCII digit, written into ``work``'s memory."""
    import numpy as np

    target = work[: len(data)]
    np.subtract(data, np.uint8(ord("0")), out=target)  # other bytes wrap past 9
    return np.less(target, 10, out=target.view(np.bool_))


#: bodies shorter than this are not scanned for huge exponents: at ~10 µs per such number at
#: worst, a body this size costs msgspec a few milliseconds
_SCAN_FROM = 4096


def decode_or_none(body: bytes) -> tuple[bool, Any]:
    """``(True, value)`` where msgspec reads ``body``, else ``(False, None)``."""
    if has_huge_exponents(body):
        return False, None
    try:
        return True, _decoder.decode(body)
    except (msgspec.DecodeError, RecursionError, MemoryError, ValueError):
        return False, None


def has_huge_exponents(body: bytes) -> bool:
    """Whether a large body holds a number with a positive three-digit exponent (``1e+300``).

    msgspec 0.23 reads a float from about 1e+290 up some 200 times slower than others (~10 µs
    each: a 15 MB body of them took it 20 s, where ``json.loads`` takes under one), so a client
    could buy seconds of a worker with a small body. Such bodies go to ``json.loads``. The scan
    is a few numpy operations over the body's bytes, and only where it holds an ``e`` or ``E``
    (found by memchr); any three-digit exponent counts, which is rare in honest data."""
    if len(body) < _SCAN_FROM or (b"e" not in body and b"E" not in body):
        return False
    import numpy as np

    data = np.frombuffer(body, np.uint8)
    at = np.flatnonzero((data | 0x20) == ord("e"))  # 'E' | 0x20 is 'e'; no other byte is
    at = at[at < len(data) - 4]
    start = at + 1 + (data[at + 1] == ord("+"))
    zero = np.uint8(ord("0"))
    # uint8 arithmetic: a byte other than a digit wraps to above 9
    three = data[start] - zero < 10
    for offset in (1, 2):
        three &= data[start + offset] - zero < 10
    return bool(three.any())


def encode_as_stdlib(obj: Any, default: Callable[[Any], Any]) -> bytes | None:
    """The bytes of ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False, default=default)``, UTF-8, where msgspec can give them; None where its
    output might differ (the caller then runs ``json.dumps``, which also refuses NaN).

    A ``null`` in the output may stand for a NaN: msgspec reads it back and the value must
    equal ``obj`` (NaN equals nothing, so a NaN anywhere fails). A float written in another
    form than ``repr`` (searched for in the output, strings included) sends it to the stdlib.
    """
    try:
        out = msgspec.json.encode(obj, enc_hook=default)
    except Exception:  # a type neither knows, a lone surrogate, an integer key msgspec refuses
        return None
    if float_form_differs(out):
        return None
    # memchr finds the one byte at memory speed; the word is searched for far more slowly
    if b"u" in out and b"null" in out:
        try:
            if _decoder.decode(out) != obj:
                return None
        except Exception:  # a value whose == raises (a numpy array against a list)
            return None
    return out


def encode_numbers(values: Any) -> bytes:
    """``json.dumps(values).encode()`` for ``values`` (the ``tolist()`` of a finite array of
    numbers or booleans, where each float msgspec would write otherwise than ``repr`` is a
    ``msgspec.Raw`` of its ``repr`` already): msgspec's bytes with the stdlib's ``", "``
    separators (there are no strings, so every comma is one)."""
    return msgspec.json.encode(values).replace(b",", b", ")


def as_written(text: str) -> msgspec.Raw:
    """``text`` written into the output as it is (a float as ``repr`` writes it)."""
    return msgspec.Raw(text.encode())


def encode_array(arr: Any) -> bytes | None:
    """``json.dumps(arr.tolist()).encode()`` for an array of booleans, integers, or floats each
    finite and of a magnitude 0 or from 1e-4 up to under 1e16 (the caller checks that), written
    by orjson from the array's memory; None where orjson refuses the array (not C-contiguous,
    a byte order other than the machine's), for the caller's ``tolist()`` path."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize != 8:
        arr = arr.astype("float64")
    try:
        out = orjson.dumps(arr, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        return None
    return out.replace(b",", b", ")  # no strings: every comma is a separator
