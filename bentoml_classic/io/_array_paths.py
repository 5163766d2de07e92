"""Where in a parsed JSON array something is: the strings in it, the first element that is not a
number, the first ragged row. ``NumpyNdarray`` asks before numpy sees the values (strings cost
far more as an array than in the body) and after numpy refused them (so that the 400 names the
element instead of repeating numpy's message).

The array is looked at one depth at a time (``_levels``): all elements at one depth in one
list, in depth-first order, and each question is asked of all of them in C loops (``map`` of a
builtin or a bound method, ``itertools.compress``, ``accumulate``, ``chain``, ``bisect``),
never a Python step per element: a walk element by element took a Python step or call each,
seconds on a large body. What each element is takes one byte (``bytes``), where each list is
8 bytes (``array``): a body of many short strings must not cost much more to walk than it
costs parsed. No numpy either: its fixed cost per call would make a small body
(one row of four strings) pay more than the walk did. The first match depth first is the one
with the smallest path, whatever its depth. No recursion: a body can nest as deep as
``json.loads`` allows.
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, compress, count, islice, repeat
from typing import Any

from ..exceptions import BadInput, excerpt
from .base import json_type_name

#: how many characters of a client's string an error message repeats
_SHOWN = 40


@dataclass
class _Level:
    """The elements at one depth of an array, in depth-first order, and which are lists."""

    items: list[Any]
    #: one byte per item, 1 for a list (bytes: one byte each, where a list of bools takes 8)
    is_list: bytes
    bounds: _Bounds


@dataclass
class _Bounds:
    """Where one depth's lists are (their positions among its items) and where each list's
    children end among the next depth's items: what finds an element's path, kept for every
    depth above it (the items themselves are not)."""

    list_positions: array[int]
    children_end: array[int]


def _flags(items: Iterable[Any], kind: type) -> bytes:
    """One byte per item, 1 where it is a ``kind``."""
    return bytes(map(isinstance, items, repeat(kind)))


def _first(flags: Iterable[Any]) -> int | None:
    """The index of the first true flag, else None."""
    return next(compress(count(), flags), None)


def _nth(flags: bytes, index: int) -> int:
    """The position of the ``index``-th (from 0) true flag."""
    return next(islice(compress(count(), flags), index, None))


def _levels(root: list[Any]) -> Iterator[_Level]:
    """Each depth of ``root`` in turn, from its own elements down."""
    items = root
    while items:
        is_list = _flags(items, list)
        positions = array("q", compress(count(), is_list))
        ends = array("q", accumulate(map(len, compress(items, is_list))))
        yield _Level(items, is_list, _Bounds(positions, ends))
        items = list(chain.from_iterable(compress(items, is_list)))


def _path(above: list[_Bounds], position: int) -> list[int]:
    """The path of the element at ``position`` among the items of the depth below ``above``."""
    path = []
    for parent in reversed(above):
        ordinal = bisect_right(parent.children_end, position)
        start = parent.children_end[ordinal - 1] if ordinal else 0
        path.append(position - start)
        position = parent.list_positions[ordinal]
    path.append(position)
    return path[::-1]


def strings_of(obj: Any) -> tuple[int, int, list[int] | None]:
    """The number of scalar elements, the length of the longest string and where it is (None
    without strings; the shallowest, then the first, of equally long ones). A scalar is its own
    only element, at path ``[]``."""
    if type(obj) is not list:
        return 1, (len(obj) if type(obj) is str else 0), ([] if type(obj) is str else None)
    leaves = 0
    longest = -1
    where: list[int] | None = None
    above: list[_Bounds] = []
    for level in _levels(obj):
        leaves += len(level.items) - len(level.bounds.list_positions)
        is_str = _flags(level.items, str)
        if 1 in is_str:
            most = max(map(len, compress(level.items, is_str)))
            if most > longest:
                index = _first(map(most.__eq__, map(len, compress(level.items, is_str))))
                assert index is not None
                longest, where = most, _path(above, _nth(is_str, index))
        above.append(level.bounds)
    if where is None:
        return leaves, 0, None
    return leaves, longest, where


def _first_unread(parse: Callable[[str], Any], strings: Iterable[str]) -> int | None:
    """The index of the first string ``parse`` refuses, else None: ``map`` runs the parser in a
    C loop, and a counter zipped to the strings says how far it got."""
    counter = count()
    try:
        counted = map(operator.itemgetter(1), zip(counter, strings, strict=False))
        deque(map(parse, counted), maxlen=0)
    except (ValueError, OverflowError):
        return next(counter) - 1
    return None


def first_non_number(obj: Any, kind: str, limit: int) -> tuple[list[int], str] | None:
    """The first string (depth first) that a numeric dtype of ``kind`` cannot read, because it
    is no number or is longer than ``limit`` characters, with its path; None if every string
    reads. numpy reads strings with Python's own ``float`` / ``int`` / ``complex`` (whitespace,
    underscores and all); under a bool dtype every string reads (non-empty is True)."""
    parse: Callable[[str], Any] | None = {"f": float, "c": complex, "i": int, "u": int}.get(kind)
    if type(obj) is not list:
        if type(obj) is str and _first_misread([obj], b"\x01", parse, limit) is not None:
            return [], obj
        return None
    found: list[tuple[list[int], str]] = []
    above: list[_Bounds] = []
    for level in _levels(obj):
        is_str = _flags(level.items, str)
        index = _first_misread(level.items, is_str, parse, limit) if 1 in is_str else None
        if index is not None:
            position = _nth(is_str, index)
            found.append((_path(above, position), level.items[position]))
        above.append(level.bounds)
    return min(found, key=lambda pair: pair[0]) if found else None


def _first_misread(
    items: list[Any], is_str: bytes, parse: Callable[[str], Any] | None, limit: int
) -> int | None:
    """Among the strings of ``items``, the index of the first too long to be a number or that
    ``parse`` refuses."""
    too_long = _first(map(limit.__lt__, map(len, compress(items, is_str))))
    if parse is not None:
        # the strings before the first long one: none is long, each is cheap to parse
        strings = islice(compress(items, is_str), too_long)
        unread = _first_unread(parse, strings)
        if unread is not None:
            return unread
    return too_long


def not_a_number_error(path: list[int], text: str, dtype: Any, limit: int) -> BadInput:
    """The 400 for a string where a numeric dtype is enforced: where, and a short excerpt."""
    if len(text) > limit:
        reason = f"a string of {len(text)} characters (a number has at most {limit})"
    else:
        reason = f"{excerpt(text, _SHOWN)!r}, which is not a number"
    where = f"array element at {path}" if path else "the value"
    return BadInput(
        f"{where} is {reason}, and dtype {dtype} is enforced",
        detail={
            "reason": "not a number",
            "path": path,
            "expected_dtype": str(dtype),
            "received": excerpt(text, _SHOWN),
        },
    )


def ragged_error(obj: list[Any]) -> BadInput:
    """Find the first element (depth first) whose length or nesting differs from the first
    row's."""
    shape: list[int] = []
    first: Any = obj
    while isinstance(first, list):
        shape.append(len(first))
        first = first[0] if first else None
    found: list[tuple[list[int], str, Any]] = []  # (path, what is odd there, received)
    above: list[_Bounds] = []
    for index, level in enumerate(_levels(obj)):
        depth = index + 1  # the length of the paths of this level's elements
        if depth >= len(shape):  # scalars expected: the first array is the odd one
            position = _first(level.is_list)
            if position is not None:
                path = _path(above, position)
                what = f"element at {path} is an array, expected a scalar like its siblings"
                found.append((path, what, "array"))
            break  # deeper elements are all inside an odd array, after it
        odd = []
        scalar = _first(map(operator.not_, level.is_list))
        if scalar is not None:
            odd.append(scalar)
        ends = level.bounds.children_end
        wrong = _first(map(shape[depth].__ne__, map(operator.sub, ends, chain((0,), ends))))
        if wrong is not None:
            odd.append(level.bounds.list_positions[wrong])
        if odd:
            position = min(odd)
            value = level.items[position]
            path = _path(above, position)
            if isinstance(value, list):
                what = f"row at {path} has length {len(value)}, expected {shape[depth]}"
                found.append((path, what, len(value)))
            else:
                got = json_type_name(value)
                what = f"element at {path} is {got}, expected an array of length {shape[depth]}"
                found.append((path, what, got))
        above.append(level.bounds)
    if not found:
        return BadInput("array rows are ragged (inhomogeneous shape)", detail={"reason": "ragged"})
    path, what, received = min(found, key=lambda odd: odd[0])
    return BadInput(
        f"array rows are ragged: {what}",
        detail={"reason": "ragged", "path": path, "received": received},
    )
