"""Large JSON arrays of plain numbers, read straight into numpy: no Python object per element.

``json.loads`` makes an object for every number and a list for every row: a million rows of two
floats, 10 MB of JSON, took about 130 MB that way before numpy copied them into an array. For
a body that is nothing but (nested, rectangular) arrays of JSON numbers, this reads the numbers
with numpy's text parser and takes the shape from the brackets, at a few times the body's size.

It is taken only where the numbers are short (``worth_reading_as_text``): numpy's text parser
is some ten times slower than msgspec's, and worth it only where the objects would cost most.

Anything else (a string, ``true``, ``null``, an object, a ragged row, an integer too wide for
int64, invalid JSON) gives None, and the caller takes the general path, which explains what is
wrong. The result is what ``np.asarray(json.loads(body))`` gives for the same body: int64 when
every number is an integer, else float64.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np

from ._number_tokens import read_numbers

#: below this size the general path is as cheap, and the fast path is not worth its checks
MIN_BODY = 64 * 1024
_WHITESPACE = b" \t\n\r"
_NUMBER_CHARS = b"0123456789+-.eE"
#: what numpy's parser takes but JSON's grammar (RFC 8259) does not: a leading zero ("01",
#: "-01"), a dot without a digit on either side ("1.", ".5"), a sign where none may stand ("+1",
#: "1-2", "--1") or without a digit after it ("-", numpy reads a 0 there), an exponent without
#: digits around it ("e5", "1e", "1e+"), a comma without a value on both sides ("[1,]", "[,1]",
#: numpy reads a 0 there). Each is one linear search that stops at the first match; each starts
#: with its character, which the search finds fast (a lookbehind first would be tried at every
#: position).
_NOT_JSON = [
    re.compile(pattern)
    for pattern in (
        rb"0(?<![0-9.eE+-]0)[0-9]",
        rb"-0[0-9](?<![eE]-0[0-9])",
        rb"\.(?:(?<![0-9]\.)|(?![0-9]))",
        rb"\+(?<![eE]\+)",
        rb"-(?<![eE\[, \t\n\r]-)",
        rb"-(?![0-9])",
        rb"[eE](?:(?<![0-9][eE])|(?![0-9+-])|[+-](?![0-9]))",
        rb",[ \t\n\r]*[,\]]",
        rb"\[[ \t\n\r]*[,\]]",
    )
]
_WIDE_INTEGER_RE = re.compile(rb"[0-9]{19}")
#: ``-0`` written as an integer: ``json.loads`` makes it the integer 0, which numpy then makes
#: +0.0 among floats, where numpy's text parser reads -0.0 (as numpy's cast of a quoted "-0"
#: does: the general path knows which of the two the body means)
_MINUS_ZERO_INTEGER_RE = re.compile(rb"-0(?![.0-9eE])")
_BRACKETS_TO_SPACES = bytes.maketrans(b"[]", b"  ")
_MAX_DIMS = 64


#: what a parsed number costs as a Python object (a float, and its place in a list), in bytes
_OBJECT_BYTES = 32
#: the fast path is taken where a body's numbers as objects would exceed this many times it
TEXT_PATH_OBJECT_FACTOR = 3
#: below this many times the body, the objects (and the array made of them) stay within issue
#: 15's bound of ten times the body, and a plain body is read by msgspec, ten times faster than
#: numpy's text parser (a 100x784 body of ``0.1234, ``: objects 4x, 4 ms against 38 ms)
AFFORDABLE_OBJECT_FACTOR = 6


def object_factor(body: bytes) -> float:
    """How many times its size a large body's numbers would take as Python objects, at most
    (``[1, 0, 1, ...]``: ten times; ``0.8427931`` written in full: about three); 0 for a body
    below ``MIN_BODY``. Counting commas is one pass in C."""
    if len(body) < MIN_BODY:
        return 0.0
    return (count_byte(body, b",") + 1) * _OBJECT_BYTES / len(body)


def count_byte(body: bytes, byte: bytes) -> int:
    """How many times one byte occurs: numpy's comparison counts it about six times faster than
    ``bytes.count``, which searches for a one-byte needle as it would for a longer one."""
    return int(np.count_nonzero(np.frombuffer(body, np.uint8) == byte[0]))


def writes_floats(body: bytes) -> bool:
    """Whether a body without quotes, when it parses to numbers only, holds a float among them:
    a fraction or an exponent is written, and no ``true``, ``false`` or ``null`` (whose ``e``
    is no exponent, and which numpy would not read as float64 by itself).

    Each test looks for one byte (``u`` is in ``null`` and ``true``, ``a`` in ``false``):
    CPython finds a single byte with ``memchr``, and a word far more slowly (``b"null" in``
    a 600 KB body of digits took longer than parsing a tenth of it)."""
    if b"." not in body and b"e" not in body and b"E" not in body:
        return False
    return b"u" not in body and b"a" not in body


def worth_reading_as_text(body: bytes) -> bool:
    """Whether a large body is better read by this module than parsed into objects (by
    msgspec, some ten times faster than numpy's text parser): when its numbers are short, so
    that as Python objects they would take more than ``TEXT_PATH_OBJECT_FACTOR`` times the body.
    Numbers written in full cost less than that as objects, and are parsed as such."""
    return object_factor(body) > TEXT_PATH_OBJECT_FACTOR


def parse_numeric_array(body: bytes) -> np.ndarray[Any, Any] | None:
    """The array ``body`` stands for, when it is a rectangular JSON array of numbers; else None."""
    if len(body) < MIN_BODY or body.translate(None, b"[]," + _WHITESPACE + _NUMBER_CHARS):
        return None  # small, or some other character: a string, a literal, an object
    skeleton = body.translate(None, _WHITESPACE + _NUMBER_CHARS)
    shape = _shape_of(skeleton)
    if shape is None or _skeleton_of(shape) != skeleton:
        return None  # ragged, not an array at the top, or numbers without commas between
    count = math.prod(shape)
    quick = read_numbers(body, count)
    if quick is not None:  # the usual short numbers, read exactly without the text parser
        return quick.reshape(shape)
    flat = read_as_text(body, count)
    return None if flat is None else flat.reshape(shape)


def read_as_text(body: bytes, count: int) -> np.ndarray[Any, Any] | None:
    """The ``count`` numbers of a body whose characters and brackets were checked, by numpy's
    text parser, where every one is a JSON number (exponents and long ones included); else
    None."""
    if any(pattern.search(body) for pattern in _NOT_JSON):
        return None  # not JSON, or an empty list (numpy would read a 0 there)
    floats = any(char in body for char in (b".", b"e", b"E"))
    if not floats and _WIDE_INTEGER_RE.search(body):
        return None  # json.loads would make a Python int wider than int64
    if floats and b"-0" in body and _MINUS_ZERO_INTEGER_RE.search(body):
        return None  # an integer -0 among floats: see _MINUS_ZERO_INTEGER_RE
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns, rather than fails, on text it cannot read
        try:
            flat = np.fromstring(
                body.translate(_BRACKETS_TO_SPACES),
                dtype=np.float64 if floats else np.int64,
                sep=",",
            )
        except (ValueError, DeprecationWarning):
            return None
    return flat if flat.size == count else None


def _shape_of(skeleton: bytes) -> tuple[int, ...] | None:
    """The shape that the first row along each dimension implies (``[[,],[,],[,]]``: (3, 2)),
    assuming the array is rectangular, which the caller then checks."""
    depth = len(skeleton) - len(skeleton.lstrip(b"["))
    first_close = skeleton.find(b"]")
    if not 0 < depth <= _MAX_DIMS or first_close < depth:
        return None
    shape = [skeleton.count(b",", depth, first_close) + 1]
    inner = _skeleton_of(tuple(shape))
    for level in range(depth - 2, 0, -1):  # the first row at each middle level, child by child
        count, position = 0, level + 1
        while skeleton.startswith(inner, position):
            count, position = count + 1, position + len(inner)
            if skeleton[position : position + 1] != b",":
                break
            position += 1
        if count == 0:
            return None
        shape.insert(0, count)
        inner = _skeleton_of(tuple(shape))
    if depth > 1:  # the top level holds the whole skeleton: its length gives the count
        count, rest = divmod(len(skeleton) - 1, len(inner) + 1)
        if rest or count == 0:
            return None
        shape.insert(0, count)
    return tuple(shape)


def _skeleton_of(shape: tuple[int, ...]) -> bytes:
    """The brackets and commas of a rectangular array of ``shape`` (no dimension is 0)."""
    skeleton = b"[" + b"," * (shape[-1] - 1) + b"]"
    for count in reversed(shape[:-1]):
        skeleton = b"[" + (skeleton + b",") * (count - 1) + skeleton + b"]"
    return skeleton


# A quoted number standing alone between delimiters: ``"5.9"`` in ``[["5.9", 3]]``, with spaces
# inside the quotes around it (``" 5.9"``, ``"5.9 "``), which numpy's cast of a string to a
# number strips (as Python's ``float`` and ``int`` do). A JSON string holds no other whitespace
# as it is: a tab or a newline in one is an escape, whose backslash leaves this path.
_QUOTED_NUMBER = re.compile(rb'(?<=[\[, \t\n\r])" *[-+.eE0-9]+ *"(?=[\], \t\n\r])')
_QUOTED_INTEGER = re.compile(rb'(?<=[\[, \t\n\r])" *[-+0-9]+ *"(?=[\], \t\n\r])')
#: a quoted number that opens with a plus before anything but a digit or a dot ("+-5"), which
#: numpy refuses and so must the fast path
_ODD_PLUS = re.compile(rb'"\+[^0-9.]')


def unquote_numbers(body: bytes, *, integers: bool) -> bytes | None:
    """``body`` without the quotes around its numbers, when every quote belongs to one (a
    number sent as a string, ``"5.9"``, or with spaces around it, ``" 5.9"``); else None.
    ``integers`` admits only integers quoted: numpy reads ``"5.0"`` as a float but not as an
    int, and that must not change.

    For a numeric dtype numpy reads such strings as the numbers they spell; so does the fast
    path, once the quotes are gone (the spaces inside them are then JSON's whitespace between
    values), at a few times the body instead of a Python string each. A number the fast path
    would read otherwise than numpy (``" +5.9"``, ``"1."``) is not JSON once unquoted, and the
    fast path refuses it: the general path reads it as before.
    """
    if len(body) < MIN_BODY or body.translate(None, b'"[],' + _WHITESPACE + _NUMBER_CHARS):
        return None
    pattern = _QUOTED_INTEGER if integers else _QUOTED_NUMBER
    quoted = sum(1 for _ in pattern.finditer(body))
    if quoted * 2 != count_byte(body, b'"'):
        return None  # a quote elsewhere: an empty string, a quote inside a token, ...
    if b'"+' in body and _ODD_PLUS.search(body) is None:
        # numpy reads "+5.9" as 5.9: dropping the sign with the quotes keeps such a body
        # (classic took it) on the fast path, at a few times its size instead of a Python str
        # per number. Every quote opens or closes a number here, so '"+' opens one.
        body = body.replace(b'"+', b'"')
    return body.replace(b'"', b"")
