"""Where in a parsed JSON array something is: the strings in it, the first element that is not a
number, the first ragged row. ``NumpyNdarray`` asks before numpy sees the values (strings cost
far more as an array than in the body) and after numpy refused them (so that the 400 names the
element instead of repeating numpy's message).

Every walk here is one pass without recursion: a body can nest as deep as ``json.loads`` allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..exceptions import BadInput, excerpt
from .base import json_type_name

#: how many characters of a client's string an error message repeats
_SHOWN = 40


def strings_of(obj: Any) -> tuple[int, int, list[int] | None]:
    """The number of scalar elements, the length of the longest string and where it is (None
    without strings); one pass, without building paths for the rest. A scalar is its own only
    element, at path ``[]``."""
    if type(obj) is not list:
        return 1, (len(obj) if type(obj) is str else 0), ([] if type(obj) is str else None)
    leaves = 0
    longest = -1
    where: tuple[list[Any], int] | None = None
    stack: list[list[Any]] = [obj]
    parents: dict[int, tuple[list[Any], int]] = {}
    while stack:
        items = stack.pop()
        for index, value in enumerate(items):
            if type(value) is list:
                parents[id(value)] = (items, index)
                stack.append(value)
            else:
                leaves += 1
                if type(value) is str and len(value) > longest:
                    longest, where = len(value), (items, index)
    if where is None:
        return leaves, 0, None
    return leaves, longest, _path_to(obj, where, parents)


def _path_to(
    root: list[Any], where: tuple[list[Any], int], parents: dict[int, tuple[list[Any], int]]
) -> list[int]:
    items, index = where
    path = [index]
    while items is not root:
        items, index = parents[id(items)]
        path.append(index)
    return path[::-1]


def walk(obj: Any) -> Iterator[tuple[list[int], Any]]:
    """``(path, value)`` for every element of nested lists (and the root), depth first, in
    order, without recursion. Only the current path is held: memory grows with the depth, not
    with the number of elements."""
    yield [], obj
    if not isinstance(obj, list):
        return
    stack: list[tuple[list[Any], int]] = [(obj, 0)]
    while stack:
        items, index = stack[-1]
        if index == len(items):
            stack.pop()
            continue
        stack[-1] = (items, index + 1)
        value = items[index]
        yield [i - 1 for _, i in stack[:-1]] + [index], value
        if isinstance(value, list):
            stack.append((value, 0))


def _reads_as(kind: str, text: str) -> bool:
    """Whether numpy reads ``text`` as a number of dtype kind ``kind`` (it uses Python's own
    ``float`` / ``int`` / ``complex`` parsers, whitespace, underscores and all)."""
    parse = {"f": float, "c": complex, "i": int, "u": int}.get(kind)
    if parse is None:  # bool: numpy calls every non-empty string True
        return True
    try:
        parse(text)
    except (ValueError, OverflowError):
        return False
    return True


def first_non_number(obj: Any, kind: str, limit: int) -> tuple[list[int], str] | None:
    """The first string (depth first) that a numeric dtype of ``kind`` cannot read, because it
    is no number or is longer than ``limit`` characters, with its path; None if every string
    reads."""
    for path, value in walk(obj):
        if type(value) is str and (len(value) > limit or not _reads_as(kind, value)):
            return path, value
    return None


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
    """Find the first element whose length or nesting differs from the first row's."""
    shape: list[int] = []
    first: Any = obj
    while isinstance(first, list):
        shape.append(len(first))
        first = first[0] if first else None
    for path, value in walk(obj):
        depth = len(path)
        if depth == 0:
            continue
        want_list = depth < len(shape)
        if want_list and not isinstance(value, list):
            got = json_type_name(value)
            message = f"element at {path} is {got}, expected an array of length {shape[depth]}"
            received: Any = got
        elif not want_list and isinstance(value, list):
            message = f"element at {path} is an array, expected a scalar like its siblings"
            received = "array"
        elif want_list and len(value) != shape[depth]:
            message = f"row at {path} has length {len(value)}, expected {shape[depth]}"
            received = len(value)
        else:
            continue
        return BadInput(
            f"array rows are ragged: {message}",
            detail={"reason": "ragged", "path": path, "received": received},
        )
    return BadInput("array rows are ragged (inhomogeneous shape)", detail={"reason": "ragged"})
