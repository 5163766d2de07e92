"""``io._numeric_json``: large bodies of plain numbers read without a Python object per element
give exactly what ``np.asarray(json.loads(body))`` gives, and anything else is left to it."""

from __future__ import annotations

import json
import random
import tracemalloc
from typing import Any

import numpy as np
import pytest

from bentoml_classic.io import NumpyNdarray
from bentoml_classic.io._numeric_json import (
    MIN_BODY,
    count_byte,
    parse_numeric_array,
    writes_floats,
)


def padded(body: bytes) -> bytes:
    """``body`` with trailing whitespace (valid JSON) up to the size the fast path takes."""
    return body + b" " * max(0, MIN_BODY - len(body))


def general(body: bytes) -> np.ndarray:
    return np.asarray(json.loads(body))


def random_array(rng: random.Random) -> Any:
    shape = [rng.randint(1, 4) for _ in range(rng.randint(1, 4))]
    kind = rng.choice(["int", "float", "mixed"])

    def number() -> Any:
        pick = kind if kind != "mixed" else rng.choice(["int", "float"])
        if pick == "int":
            return rng.choice([0, -1, 7, -(2**40), 2**59, rng.randint(-1000, 1000)])
        return rng.choice([0.0, -0.0, 1e-300, 1e308, 2.5e-05, -3.75, rng.uniform(-1e6, 1e6)])

    def build(dims: list[int]) -> Any:
        if not dims:
            return number()
        return [build(dims[1:]) for _ in range(dims[0])]

    return build(shape)


@pytest.mark.parametrize("seed", range(200))
def test_the_same_array_as_the_general_path(seed: int) -> None:
    rng = random.Random(seed)
    value = random_array(rng)
    separators = rng.choice([(",", ":"), (", ", ": "), (" ,\n", ":")])
    body = padded(json.dumps(value, separators=separators).encode())
    fast = parse_numeric_array(body)
    expected = general(body)
    assert fast is not None
    assert fast.dtype == expected.dtype and fast.shape == expected.shape
    np.testing.assert_array_equal(fast, expected)


@pytest.mark.parametrize(
    "body",
    [
        b"[[1, 2], [3]]",  # ragged
        b"[[1, [2]]]",
        b"[[[1], 2]]",
        b"[]",
        b"[[], []]",
        b"[1, 9223372036854775808]",  # wider than int64
        b'[1, "2"]',
        b"[1, true]",
        b"[1, null]",
        b"[NaN]",
        b'{"a": [1]}',
        b"1",
    ],
)
def test_valid_json_it_does_not_take_is_left_to_the_general_path(body: bytes) -> None:
    json.loads(body)  # valid JSON: the general path answers it
    assert parse_numeric_array(padded(body)) is None


@pytest.mark.parametrize(
    "body",
    [
        *(b"[01]", b"[-01]", b"[00]", b"[1.]", b"[.5]", b"[+1]", b"[1-2]", b"[--1]", b"[1e]"),
        *(b"[1e+]", b"[e5]", b"[1.2.3]", b"[1e5e5]", b"[1.e5]", b"[1,]", b"[,1]", b"[1,,2]"),
        *(b"[1 2]", b"[1][2]", b"[[1,2],[3,4]", b"[[1,2],[3,4]]]", b"[[1,2] [3,4]]"),
        b"[[1,2],[3,4],]",
    ],
)
def test_invalid_json_is_left_to_the_general_path(body: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(body)
    assert parse_numeric_array(padded(body)) is None


def test_small_bodies_take_the_general_path() -> None:
    assert parse_numeric_array(b"[[5.9, 3, 5.1, 1.8]]") is None


def test_a_large_body_costs_a_few_times_its_size() -> None:
    body = json.dumps([[1.5, 2.5]] * 200_000).encode()
    tracemalloc.start()
    try:
        array = parse_numeric_array(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert array is not None and array.shape == (200_000, 2)
    assert peak < 4 * len(body)  # json.loads alone made about 13 times the body


def test_the_descriptor_applies_shape_and_dtype_to_the_fast_result() -> None:
    body = json.dumps([[1, 2]] * 50_000).encode()
    assert len(body) >= MIN_BODY
    array = NumpyNdarray(dtype="float32", shape=(-1, 2), enforce_shape=True).parse_bytes(body)
    assert array.dtype == np.float32 and array.shape == (50_000, 2)
    from bentoml_classic.exceptions import BadInput

    with pytest.raises(BadInput, match="shape"):
        NumpyNdarray(shape=(-1, 3), enforce_shape=True).parse_bytes(body)
    with pytest.raises(BadInput, match="out of range"):
        NumpyNdarray(dtype="int8").parse_bytes(json.dumps([300, 1] * 20_000).encode())


@pytest.mark.parametrize("integers", [False, True])
def test_signed_quoted_numbers_lose_their_plus_with_their_quotes(integers: bool) -> None:
    from bentoml_classic.io._numeric_json import unquote_numbers

    words = ["+5", "-3", "7"] if integers else ["+5.9", "1e+5", "-3", "+.5"]
    body = json.dumps(words * 12000).encode()  # over MIN_BODY without its quotes too
    plain = unquote_numbers(body, integers=integers)
    assert plain is not None and b'"' not in plain and b"[+" not in plain and b" +" not in plain
    dtype = "int64" if integers else "float64"
    expected = np.asarray(words * 12000).astype(dtype)  # numpy's reading of the strings
    fast = parse_numeric_array(plain)
    if integers:
        assert fast is not None and np.array_equal(fast.astype(dtype), expected)
    else:  # ".5" is no JSON number: the fast path refuses it, and the general path reads it
        assert fast is None and b"1e+5" in plain


def test_a_plus_before_a_sign_stays_and_is_refused_as_before() -> None:
    from bentoml_classic.io._numeric_json import unquote_numbers

    body = padded(json.dumps(["+5.9"] * 4000 + ["+-5"]).encode())
    plain = unquote_numbers(body, integers=False)
    assert plain is not None and plain.rstrip().endswith(b"+-5]")
    assert parse_numeric_array(plain) is None


@pytest.mark.parametrize(
    ("words", "dtype"),
    [
        ([" 5.9", "3.0 ", "  -1e5  ", "7"], "float32"),
        ([" 5.9", "+2.5 ", "0.125", " -0.0"], "float64"),
        ([" 5", "-3 ", "  12  ", "+4"], "int64"),
    ],
)
def test_numbers_quoted_with_spaces_are_what_numpy_casts_them_to(
    words: list[str], dtype: str
) -> None:
    """numpy's cast of a string to a number strips the spaces around it: such a body loses its
    quotes and takes the fast path, with the values numpy gives for the strings."""
    from bentoml_classic.io._numeric_json import unquote_numbers

    rows = [words] * 4000
    body = json.dumps(rows).encode()
    plain = unquote_numbers(body, integers=dtype.startswith("int"))
    assert plain is not None and b'"' not in plain
    assert parse_numeric_array(plain) is not None
    array = NumpyNdarray(dtype=dtype, enforce_dtype=True).parse_bytes(body)
    expected = np.asarray(rows).astype(dtype)
    assert array.dtype == expected.dtype and np.array_equal(array, expected)


@pytest.mark.parametrize(
    ("word", "integers"),
    [(" +5.9", False), ("1. ", False), (" - ", False), (" .5", False), (" 5.0", True)],
)
def test_doubtful_spaced_numbers_keep_the_general_path(word: str, integers: bool) -> None:
    """A spaced string the fast path would not read as numpy does stays quoted or is refused
    by the fast path once unquoted: the general path reads it, as before."""
    from bentoml_classic.io._numeric_json import unquote_numbers

    body = json.dumps([["1.5", word]] * 6000).encode()
    plain = unquote_numbers(body, integers=integers)
    assert plain is None or parse_numeric_array(plain) is None


def test_count_byte_counts_as_bytes_count_does():
    for body in (b"", b",", b"[1, 2, 3]", b'"a","b"' * 1000, bytes(range(256)) * 3):
        for byte in (b",", b'"', b"\x00", b"\xff"):
            assert count_byte(body, byte) == body.count(byte)


@pytest.mark.parametrize(
    ("body", "floats"),
    [
        (b"[1.5, 2]", True),
        (b"[1e5, 2]", True),
        (b"[2E-3]", True),
        (b"[1, 2]", False),
        (b"[1.5, true]", False),  # numpy finds float64 here too, but the rule stays simple
        (b"[1.5, false]", False),
        (b"[1.5, null]", False),
        (b"[true, false]", False),  # the e of a literal is no exponent
    ],
)
def test_writes_floats_only_where_a_float_is_written_and_no_literal(body, floats):
    assert writes_floats(body) is floats


def test_a_quoted_minus_zero_among_floats_keeps_numpy_s_sign() -> None:
    """numpy casts the string ``"-0"`` to -0.0, where ``json.loads`` makes the number ``-0``
    the integer 0 (+0.0 among floats): the fast ways leave such a body to the general path."""
    rows = [[" 5.9", "0.125", " -0"]] * 4000
    array = NumpyNdarray(dtype="float64", enforce_dtype=True).parse_bytes(json.dumps(rows).encode())
    assert list(np.signbit(array[0])) == [False, False, True]
