"""``io._number_tokens``: short JSON numbers read by whole-buffer operations give exactly what
``np.asarray(json.loads(body))`` gives, bit for bit, or None; never another value."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from bentoml_classic.io._number_tokens import MAX_CHARS, read_numbers
from bentoml_classic.io._numeric_json import MIN_BODY, parse_numeric_array

SEPARATORS = [", ", ",", " , ", ",\n  ", ",\t", " ,\r\n"]


def classic(body: bytes) -> np.ndarray:
    return np.asarray(json.loads(body))


def same(got: np.ndarray, expected: np.ndarray) -> bool:
    """Equal in dtype, shape and every bit (so -0.0 differs from 0.0)."""
    return (
        got.dtype == expected.dtype
        and got.shape == expected.shape
        and got.tobytes() == expected.tobytes()
    )


def short_number(rng: random.Random, kind: str) -> str:
    """A number of at most MAX_CHARS characters, as a client writes it."""
    if kind == "int":
        return str(rng.choice([0, 1, 255, rng.randint(0, 255), rng.randint(-(10**9), 10**9)]))
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 13)))
    digits = digits.lstrip("0") or "0"
    after = rng.randint(1, min(len(digits), 13))
    whole = digits[:-after] or "0"
    text = f"{whole}.{digits[-after:].rjust(after, '0')}"
    return ("-" if rng.random() < 0.3 else "") + text


def body_of(rows: list[list[str]], rng: random.Random) -> bytes:
    separator = rng.choice(SEPARATORS)
    text = "[" + ",\n".join("[" + separator.join(row) + "]" for row in rows) + "]"
    return text.encode() + b" " * rng.randint(0, 3)


@pytest.mark.parametrize("seed", range(150))
def test_short_numbers_read_as_json_and_numpy_read_them(seed: int) -> None:
    rng = random.Random(seed)
    kinds = rng.choice([["int"], ["decimal"], ["int", "decimal"]])
    width = rng.randint(1, 30)
    rows = [
        [short_number(rng, rng.choice(kinds)) for _ in range(width)]
        for _ in range(rng.randint(1, 30))
    ]
    body = body_of(rows, rng)
    got = read_numbers(body, sum(len(row) for row in rows))
    assert got is not None  # every number here is short: this way must answer
    expected = classic(body)
    assert same(got.reshape(expected.shape), expected)


def test_decimals_are_the_floats_python_reads() -> None:
    """Every decimal of up to 15 significant digits, one division each, is what ``float()``
    makes of its text (the fast path of Clinger's algorithm: both operands exact)."""
    rng = random.Random(15)
    words = []
    for _ in range(20_000):
        digits = str(rng.randint(1, 10 ** rng.randint(1, 15) - 1))
        after = rng.randint(1, min(len(digits), MAX_CHARS - 2))
        words.append(f"{digits[:-after] or '0'}.{digits[-after:]}")
    body = ("[" + ", ".join(words) + "]").encode()
    got = read_numbers(body, len(words))
    assert got is not None
    assert got.tobytes() == np.array([float(word) for word in words]).tobytes()


@pytest.mark.parametrize(
    ("word", "why"),
    [
        ("01", "a leading zero"),
        ("-01", "a leading zero"),
        ("00", "a leading zero"),
        ("1.", "no digit after the point"),
        (".5", "no digit before the point"),
        ("-.5", "no digit before the point"),
        ("-", "a sign alone"),
        ("--1", "two signs"),
        ("1-2", "a sign inside"),
        ("1.2.3", "two points"),
        ("1e5", "an exponent: not read here"),
        ("+1", "a plus: no JSON"),
        ("1 2", "two numbers in one place"),
        ("12345678901234567", "longer than MAX_CHARS"),
        ("0.1234567890123457", "more digits than a double holds exactly"),
        ("-0", "an integer -0 among floats"),
    ],
)
def test_what_it_does_not_read_exactly_gives_none(word: str, why: str) -> None:
    words = ["0.5", "7", word, "2.25"]
    body = ("[" + ", ".join(words * 3) + "]").encode()
    assert read_numbers(body, len(words) * 3) is None, why


def test_minus_zero_keeps_its_sign_where_json_keeps_it() -> None:
    floats = read_numbers(b"[-0.0, 0.5, -0.000, 0.0]", 4)
    assert floats is not None and list(np.signbit(floats)) == [True, False, True, False]
    integers = read_numbers(b"[-0, 5, 0]", 3)
    assert integers is not None and integers.dtype == np.int64 and list(integers) == [0, 5, 0]


def test_integers_stay_integers_and_decimals_make_floats() -> None:
    integers = read_numbers(b"[[1, -2], [255, 0]]", 4)
    assert integers is not None and integers.dtype == np.int64
    mixed = read_numbers(b"[[1, -2.5], [255, 0]]", 4)
    assert mixed is not None and mixed.dtype == np.float64
    assert list(mixed) == [1.0, -2.5, 255.0, 0.0]


def test_a_count_that_does_not_match_gives_none() -> None:
    assert read_numbers(b"[1, 2, 3]", 4) is None


@pytest.mark.parametrize(
    "body",
    [b"[1, -, 2]", b"[0.5, -0, 1e5]", b"[[1, -], [2, 3]]"],
)
def test_the_text_path_no_longer_takes_a_lone_minus_or_an_integer_minus_zero(
    body: bytes,
) -> None:
    """numpy's text parser read ``-`` as 0 (no JSON: a 400 from the general path), and an
    integer ``-0`` among floats as -0.0 (classic's array holds +0.0 there)."""
    padded = body + b" " * MIN_BODY
    fast = parse_numeric_array(padded)
    try:
        expected = classic(padded)
    except ValueError:
        assert fast is None
        return
    assert fast is None or same(fast, expected)


def test_the_text_path_takes_this_way_for_short_numbers() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (100, 784))
    body = json.dumps(pixels.tolist()).encode()
    got = parse_numeric_array(body)
    assert got is not None and same(got, pixels.astype(np.int64))
