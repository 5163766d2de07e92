"""Short JSON numbers read into numpy by whole-buffer operations: no text parser, no object each.

``_numeric_json`` reads a large body of short numbers (pixels as integers, 0/1 features) as
text, because as Python objects they would take ten times the body. Its way there, eight
grammar patterns and numpy's text parser (``np.fromstring``), takes several times as long as
msgspec's objects would (docs/benchmarks.md, "Short JSON numbers"). This reads the usual such
bodies with a fixed number of numpy operations, over the body's bytes and over one word per
number, in a few times the body's memory.

It answers only where it is exact, and says None otherwise (the caller then goes its previous
way, which also explains what is wrong with a body that is no JSON):

- a number is an integer, or a decimal without exponent (``-12``, ``0.5``), of at most
  ``MAX_CHARS`` characters: the digits of one number fit two 64-bit words;
- a decimal's digits, the point left out, make an integer ``m`` of at most 2**53, and its value
  is ``m / 10**k``: both are exact doubles, so the division rounds once, correctly, which is
  what ``float()`` and ``json.loads`` give for the text (the fast path of Clinger's algorithm);
- every token is JSON's number grammar (no leading zero, a digit on both sides of the point, a
  minus only in front), and sits alone between ``[`` or ``,`` and ``,`` or ``]``.

The caller has checked the body's characters and its brackets (a rectangular array of
``count`` numbers); this checks the numbers and where they sit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: the bytes of the body read at once (see read_numbers)
PIECE = 64 * 1024
#: the most whitespace looked through around a number (an indented body's line breaks)
_MOST_WHITESPACE = 16
#: the longest number read here: two words of eight characters (sign and point included)
MAX_CHARS = 16
#: the body's bytes as digit values: a digit is its value, every other byte 0
_DIGIT_VALUES = bytes(b - 48 if 48 <= b <= 57 else 0 for b in range(256))
#: the bytes in front of the body, so that the word ending at the first number starts inside
_PAD = 16
_COMMA, _MINUS, _POINT, _OPEN, _CLOSE, _ZERO = 44, 45, 46, 91, 93, 48
_ONES = 2**64 - 1
#: the point in every byte of a word
_DOTS = np.uint64(_POINT * 0x0101010101010101)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH = np.uint64(0x8080808080808080)
_EXACT = 2**53
_POW10_FLOAT = 10.0 ** np.arange(17)
#: by a byte's place in a word (0-7): the bytes after it, and the bytes before it
_AFTER_BYTE = np.array([_ONES << (8 * (j + 1)) & _ONES for j in range(8)], np.uint64)
_BEFORE_BYTE = np.array([(1 << (8 * j)) - 1 for j in range(8)], np.uint64)


def _masks(words: int) -> np.ndarray[Any, Any]:
    """For each length 0..MAX_CHARS, the bytes of word ``words`` (0: the last eight characters
    of a number, 1: the eight before them) that belong to a number of that length."""
    masks = []
    for length in range(MAX_CHARS + 1):
        inside = min(8, max(0, length - 8 * words))
        masks.append(0 if inside == 0 else _ONES << (8 * (8 - inside)) & _ONES)
    return np.array(masks, dtype=np.uint64)


_LAST_WORD_MASKS = _masks(0)
_FIRST_WORD_MASKS = _masks(1)


def _words(padded: bytes) -> np.ndarray[Any, Any]:
    """Every eight consecutive bytes of ``padded`` as one little-endian word (overlapping)."""
    return np.ndarray((len(padded) - 7,), np.dtype("<u8"), padded, 0, (1,))


def _eight_digits(words: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Each word's eight digit values (one per byte, the first digit in the lowest byte) as the
    number they write: pairs, then quadruples, then the whole, by multiplications that carry
    each group into its neighbour's byte."""
    pairs = words * np.uint64(10) + (words >> np.uint64(8))
    pairs &= np.uint64(0x00FF00FF00FF00FF)
    quads = pairs * np.uint64(100) + (pairs >> np.uint64(16))
    quads &= np.uint64(0x0000FFFF0000FFFF)
    return (quads * np.uint64(10000) + (quads >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _point_bytes(words: np.ndarray[Any, Any], masks: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The high bit of each byte that is a ``.`` inside its number (exact: no carries between
    bytes)."""
    other = words ^ _DOTS
    nonzero: np.ndarray[Any, Any] = ((other & _LOW7) + _LOW7) | other
    points: np.ndarray[Any, Any] = ~nonzero & _HIGH & masks
    return points


def read_numbers(body: bytes, count: int) -> np.ndarray[Any, Any] | None:
    """The ``count`` numbers of ``body`` in order, int64 where every one is an integer, else
    float64; None where a number is outside what this reads exactly, or no JSON number.

    The body is read in pieces of about ``PIECE`` bytes, cut before a comma (no number spans
    two): the arrays of one piece stay small whatever the body's size, and in the cache."""
    if b"e" in body or b"E" in body or b"+" in body:
        return None
    floats = b"." in body
    out = np.empty(count, np.float64 if floats else np.int64)
    filled = 0
    start = 0
    while start < len(body):
        cut = body.find(b",", start + PIECE) if start + PIECE < len(body) else -1
        stop = len(body) if cut == -1 else cut
        # the piece, and the byte after it (the comma that ends its last number)
        values = _read_piece(body[start : stop + 1], floats)
        if values is None or filled + len(values) > count:
            return None
        out[filled : filled + len(values)] = values
        filled += len(values)
        start = stop
    return out if filled == count else None


def _read_piece(piece: bytes, floats: bool) -> np.ndarray[Any, Any] | None:
    """The numbers of one piece of the body: it starts with ``[`` or ``,`` and ends with the
    byte after its last number."""
    chars = np.frombuffer(piece, np.uint8)
    number = (chars - np.uint8(_MINUS)) < 13  # '-', '.', '/', digits; '/' is not in a body
    if number[0] or number[-1]:
        return None
    edges = np.flatnonzero(number[1:] != number[:-1]) + 1
    starts, ends = edges[0::2], edges[1::2]
    if not starts.size:
        return np.empty(0, np.float64 if floats else np.int64)
    before = _beyond_whitespace(chars, starts - 1, -1)
    if before is None or not ((before == _OPEN) | (before == _COMMA)).all():
        return None
    after = _beyond_whitespace(chars, ends, 1)
    if after is None or not ((after == _COMMA) | (after == _CLOSE)).all():
        return None  # also two numbers with only whitespace between them
    lengths = ends - starts
    if int(lengths.max()) > MAX_CHARS:
        return None
    negative = np.take(chars, starts) == _MINUS
    if np.count_nonzero(chars == _MINUS) != np.count_nonzero(negative):
        return None  # a minus inside a number
    first = starts + negative.view(np.uint8)
    lead = np.take(chars, first)
    if not ((lead - np.uint8(_ZERO)) < 10).all():
        return None  # "-", "-.5", ".5"
    second = np.take(chars, first + 1)
    if ((lead == _ZERO) & (first + 1 < ends) & ((second - np.uint8(_ZERO)) < 10)).any():
        return None  # a leading zero: "01", "-00"
    padded = b"\0" * _PAD + piece
    last = ends + (_PAD - 8)
    last_masks = np.take(_LAST_WORD_MASKS, lengths)
    first_masks = np.take(_FIRST_WORD_MASKS, lengths)
    digit_words = _words(padded.translate(_DIGIT_VALUES))
    low = np.take(digit_words, last) & last_masks
    high = np.take(digit_words, last - 8) & first_masks
    if not floats:
        whole = _number_of(low, high)
        np.negative(whole, out=whole, where=negative)
        return whole
    char_words = _words(padded)
    last_points = _point_bytes(np.take(char_words, last), last_masks)
    first_points = _point_bytes(np.take(char_words, last - 8), first_masks)
    return _decimals(low, high, last_points, first_points, negative)


def _number_of(low: np.ndarray[Any, Any], high: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The integers whose last eight digits are ``low`` and the eight before them ``high``."""
    whole = _eight_digits(low).astype(np.int64)
    whole += _eight_digits(high).astype(np.int64) * 100_000_000
    return whole


def _beyond_whitespace(
    chars: np.ndarray[Any, Any], at: np.ndarray[Any, Any], step: int
) -> np.ndarray[Any, Any] | None:
    """The first byte at or beyond each position of ``at`` (going by ``step``) that is no
    whitespace; None past ``_MOST_WHITESPACE`` of it (the caller's way then reads the body).
    Only the positions still on whitespace are looked at again: ``, `` costs one more look."""
    found = np.take(chars, at)
    waiting = np.flatnonzero(found <= 32)  # the body's only bytes below '+' are whitespace
    position = at[waiting]
    for _ in range(_MOST_WHITESPACE):
        if not waiting.size:
            return found
        position = position + step
        if position.size and (position.min() < 0 or position.max() >= len(chars)):
            return None
        next_bytes = np.take(chars, position)
        found[waiting] = next_bytes
        still = next_bytes <= 32
        waiting, position = waiting[still], position[still]
    return found if not waiting.size else None


def _decimals(
    low: np.ndarray[Any, Any],
    high: np.ndarray[Any, Any],
    last_points: np.ndarray[Any, Any],
    first_points: np.ndarray[Any, Any],
    negative: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any] | None:
    """The values ``m / 10**k`` of numbers whose digit words are ``low`` and ``high`` (the point
    a 0 there, its byte marked in ``last_points`` or ``first_points``): ``m`` the digits
    without the point, ``k`` the digits after it. The digits before the point move one byte
    towards the end, over it, so that ``m`` is read as an integer is."""
    if ((last_points & (last_points - np.uint64(1))) != 0).any():
        return None  # two points in a number
    if ((first_points & (first_points - np.uint64(1))) != 0).any():
        return None
    in_last, in_first = last_points != 0, first_points != 0
    if (in_last & in_first).any():
        return None
    # the point's byte: its high bit is bit 8 * byte + 7, which frexp gives exactly
    last_byte = np.maximum((np.frexp(last_points.astype(np.float64))[1] - 8) // 8, 0)
    first_byte = np.maximum((np.frexp(first_points.astype(np.float64))[1] - 8) // 8, 0)
    after = np.where(in_last, 7 - last_byte, np.where(in_first, 15 - first_byte, 0))
    point = in_last | in_first
    if (point & (after == 0)).any():
        return None  # "1." (the lead check refused "-.5" and ".5")
    eight = np.uint64(8)
    moved_low = np.take(_AFTER_BYTE, last_byte) & low
    moved_low |= (np.take(_BEFORE_BYTE, last_byte) & low) << eight
    moved_low |= high >> np.uint64(56)
    moved_high = np.take(_AFTER_BYTE, first_byte) & high
    moved_high |= (np.take(_BEFORE_BYTE, first_byte) & high) << eight
    low = np.where(in_last, moved_low, low)
    high = np.where(in_last, high << eight, np.where(in_first, moved_high, high))
    mantissa = _number_of(low, high)
    if int(mantissa.max()) > _EXACT:
        return None  # a 16-digit integer among the decimals
    if (negative & ~point & (mantissa == 0)).any():
        # "-0" among floats: json.loads makes it the integer 0 and numpy then +0.0, where
        # numpy's cast of the string (a quoted number, see unquote_numbers) makes -0.0
        return None
    values = mantissa / np.take(_POW10_FLOAT, after)
    np.negative(values, out=values, where=negative)
    return values
