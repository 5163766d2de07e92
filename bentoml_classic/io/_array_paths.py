"""Where in a parsed JSON array something is: the strings in it, the first element that is not a
number, the first ragged row. ``NumpyNdarray`` asks before numpy sees the values (strings cost
far more as an array than in the body) and after numpy refused them (so that the 400 names the
element instead of repeating numpy's message).

The array is looked at one depth at a time (``_levels``): all elements at one depth in one
list, in depth-first order, each question asked of all of them by C loops (``map`` of a builtin
into ``np.fromiter``, ``itemgetter`` and ``chain``), never a Python step per element;
a body of a million numbers answered in Python took a Python call each. The first match in
depth-first order is the match with the smallest path, whatever its depth. No recursion: a body
can nest as deep as ``json.loads`` allows.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np

from ..exceptions import BadInput, excerpt
from .base import json_type_name

#: how many characters of a client's string an error message repeats
_SHOWN = 40


@dataclass
class _Level:
    """The elements at one depth of an array, in depth-first order, and which are lists."""

    items: list[Any]
    is_list: np.ndarray
    #: the positions of the lists among ``items``, and the cumulated lengths of those lists:
    #: where each list's children end among the next depth's items
    list_positions: np.ndarray
    children_end: np.ndarray


def _flags(items: list[Any], kind: type) -> np.ndarray:
    """Whether each item is a ``kind``: ``isinstance`` in a C loop."""
    return np.fromiter(map(isinstance, items, repeat(kind)), bool, count=len(items))


def _picked(items: list[Any], positions: np.ndarray) -> list[Any]:
    """The items at these positions, in order (``itemgetter`` picks them in a C loop)."""
    if len(positions) == len(items):
        return items
    if len(positions) == 0:
        return []
    picked = operator.itemgetter(*positions.tolist())(items)
    return [picked] if len(positions) == 1 else list(picked)


def _levels(root: list[Any]) -> Iterator[_Level]:
    """Each depth of ``root`` in turn, from its own elements down."""
    items = root
    while items:
        is_list = _flags(items, list)
        positions = np.flatnonzero(is_list)
        lists = _picked(items, positions)
        lengths = np.fromiter(map(len, lists), np.int64, count=len(lists))
        yield _Level(items, is_list, positions, np.cumsum(lengths))
        items = list(chain.from_iterable(lists))


def _path(levels: list[_Level], depth: int, position: int) -> list[int]:
    """The path of the element at ``position`` among the items of ``levels[depth]``."""
    path = []
    for parent in reversed(levels[:depth]):
        ordinal = int(np.searchsorted(parent.children_end, position, side="right"))
        start = int(parent.children_end[ordinal - 1]) if ordinal else 0
        path.append(position - start)
        position = int(parent.list_positions[ordinal])
    path.append(position)
    return path[::-1]


def _strings(level: _Level) -> tuple[list[str], np.ndarray]:
    """The strings at this depth and their positions among its items."""
    positions = np.flatnonzero(_flags(level.items, str))
    return _picked(level.items, positions), positions


def strings_of(obj: Any) -> tuple[int, int, list[int] | None]:
    """The number of scalar elements, the length of the longest string and where it is (None
    without strings; the shallowest, then the first, of equally long ones). A scalar is its own
    only element, at path ``[]``."""
    if type(obj) is not list:
        return 1, (len(obj) if type(obj) is str else 0), ([] if type(obj) is str else None)
    leaves = 0
    longest = -1
    where: tuple[int, int] | None = None
    levels: list[_Level] = []
    for depth, level in enumerate(_levels(obj)):
        levels.append(level)
        leaves += len(level.items) - len(level.list_positions)
        strings, positions = _strings(level)
        if not strings:
            continue
        lengths = np.fromiter(map(len, strings), np.int64, count=len(strings))
        first_longest = int(lengths.argmax())
        if lengths[first_longest] > longest:
            longest = int(lengths[first_longest])
            where = depth, int(positions[first_longest])
    if where is None:
        return leaves, 0, None
    return leaves, longest, _path(levels, *where)


def _first_unread(parse: Callable[[str], Any], strings: list[str]) -> int | None:
    """The index of the first string ``parse`` refuses, else None: ``map`` runs the parser in a
    C loop, and the list's iterator says how far it got."""
    remaining = iter(strings)
    try:
        deque(map(parse, remaining), maxlen=0)
    except (ValueError, OverflowError):
        return len(strings) - operator.length_hint(remaining) - 1
    return None


def first_non_number(obj: Any, kind: str, limit: int) -> tuple[list[int], str] | None:
    """The first string (depth first) that a numeric dtype of ``kind`` cannot read, because it
    is no number or is longer than ``limit`` characters, with its path; None if every string
    reads. numpy reads strings with Python's own ``float`` / ``int`` / ``complex`` (whitespace,
    underscores and all); under a bool dtype every string reads (non-empty is True)."""
    parse: Callable[[str], Any] | None = {"f": float, "c": complex, "i": int, "u": int}.get(kind)
    if type(obj) is not list:
        if type(obj) is str and _first_misread([obj], parse, limit) is not None:
            return [], obj
        return None
    found: list[tuple[list[int], str]] = []
    levels: list[_Level] = []
    for depth, level in enumerate(_levels(obj)):
        levels.append(level)
        strings, positions = _strings(level)
        index = _first_misread(strings, parse, limit) if strings else None
        if index is not None:
            found.append((_path(levels, depth, int(positions[index])), strings[index]))
    return min(found, key=lambda pair: pair[0]) if found else None


def _first_misread(
    strings: list[str], parse: Callable[[str], Any] | None, limit: int
) -> int | None:
    """The index of the first string too long to be a number or that ``parse`` refuses."""
    lengths = np.fromiter(map(len, strings), np.int64, count=len(strings))
    too_long = lengths > limit
    cut = int(too_long.argmax()) if too_long.any() else len(strings)
    if parse is not None:
        unread = _first_unread(parse, strings[:cut])  # none of these is long: cheap to parse
        if unread is not None:
            return unread
    return cut if cut < len(strings) else None


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
    levels: list[_Level] = []
    for index, level in enumerate(_levels(obj)):
        levels.append(level)
        depth = index + 1  # the length of the paths of this level's elements
        is_list = level.is_list
        if depth >= len(shape):  # scalars expected: the first array is the odd one
            if is_list.any():
                path = _path(levels, index, int(is_list.argmax()))
                what = f"element at {path} is an array, expected a scalar like its siblings"
                found.append((path, what, "array"))
            break  # deeper elements are all inside an odd array, after it
        odd = [int((~is_list).argmax())] if not is_list.all() else []
        wrong = np.diff(level.children_end, prepend=0) != shape[depth]
        if wrong.any():
            odd.append(int(level.list_positions[int(wrong.argmax())]))
        if not odd:
            continue
        position = min(odd)
        value = level.items[position]
        path = _path(levels, index, position)
        if isinstance(value, list):
            what = f"row at {path} has length {len(value)}, expected {shape[depth]}"
            found.append((path, what, len(value)))
        else:
            got = json_type_name(value)
            what = f"element at {path} is {got}, expected an array of length {shape[depth]}"
            found.append((path, what, got))
    if not found:
        return BadInput("array rows are ragged (inhomogeneous shape)", detail={"reason": "ragged"})
    path, what, received = min(found, key=lambda odd: odd[0])
    return BadInput(
        f"array rows are ragged: {what}",
        detail={"reason": "ragged", "path": path, "received": received},
    )
