"""The walks over a parsed JSON array: the same answers as an element-by-element walk, without a
Python call per element."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bentoml_classic.io._array_paths import first_non_number, ragged_error, strings_of


def _walk(obj: Any, path: list[int] | None = None) -> Iterator[tuple[list[int], Any]]:
    """The reference: every element with its path, depth first, one at a time."""
    path = path or []
    yield path, obj
    if isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _walk(value, [*path, index])


def _reads(kind: str, text: str) -> bool:
    try:
        {"f": float, "i": int}[kind](text)
    except ValueError:
        return False
    return True


def _random_array(rng: random.Random, depth: int = 0) -> Any:
    if depth >= 3 or rng.random() < 0.25:
        return rng.choice([1, 2.5, "7", "x", "", "1_0", " 3 ", "a" * rng.randint(0, 9), None])
    return [_random_array(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def test_answers_match_an_element_by_element_walk():
    rng = random.Random(15)
    for _ in range(400):
        obj = [_random_array(rng) for _ in range(rng.randint(0, 4))]
        elements = list(_walk(obj))[1:]
        strings = [(path, v) for path, v in elements if type(v) is str]
        leaves, longest, where = strings_of(obj)
        assert leaves == sum(not isinstance(v, list) for _, v in elements)
        if strings:
            assert longest == max(len(v) for _, v in strings)
            assert where is not None and len(_value_at(obj, where)) == longest
        else:
            assert (longest, where) == (0, None)
        for kind in "fi":
            expected = next(((p, v) for p, v in strings if len(v) > 3 or not _reads(kind, v)), None)
            assert first_non_number(obj, kind, 3) == expected, (obj, kind)


def _value_at(obj: Any, path: list[int]) -> Any:
    for index in path:
        obj = obj[index]
    return obj


@pytest.mark.parametrize(
    ("obj", "path", "what"),
    [
        ([[1, 2], [3, [4]], 5], [1, 1], "is an array"),  # deeper, but before [2]
        ([[[1, 2], [3]], [[4, 5], [6, 7]], 8], [0, 1], "length 1"),
        ([[1, 2], [3, 4], [5]], [2], "length 1"),
        ([[1, 2], 3], [1], "is a number"),
    ],
)
def test_the_first_odd_element_depth_first_is_named(obj, path, what):
    exc = ragged_error(obj)
    assert exc.detail["path"] == path and what in exc.message


def test_first_non_number_is_first_depth_first_across_depths():
    assert first_non_number([["1", ["x"]], "y"], "f", 100) == ([0, 1, 0], "x")
    assert first_non_number(["1", "2"], "f", 100) is None
    assert first_non_number("z", "i", 100) == ([], "z")
    assert first_non_number(["1", "9" * 101], "f", 100) == ([1], "9" * 101)


def _python_steps(func: Callable[[], Any]) -> int:
    """Python calls and lines run by ``func()`` (a loop over elements in Python runs lines)."""
    steps = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal steps
        steps += 1
        return trace

    sys.settrace(trace)
    try:
        func()
    finally:
        sys.settrace(None)
    return steps


def test_no_python_call_per_element():
    """A walk's Python steps do not grow with the number of elements."""
    small = [["5.9", "3.0", 1.5]] * 10
    large = [["5.9", "3.0", 1.5]] * 20_000
    ragged_small = [*small, [1]]
    ragged_large = [*large, [1]]
    for walk, few, many in (
        (lambda a: strings_of(a), small, large),
        (lambda a: first_non_number(a, "f", 100), small, large),
        (lambda a: ragged_error(a), ragged_small, ragged_large),
    ):
        steps_many = _python_steps(lambda walk=walk, many=many: walk(many))
        assert steps_many <= _python_steps(lambda walk=walk, few=few: walk(few)) + 20
