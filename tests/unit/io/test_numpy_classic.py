"""NumpyNdarray against classic BentoML 1.1's own rule, written out here as the oracle: for every
body classic served, the same array (values, dtype, shape); where classic refused (400) or
failed (500), a 400. The bodies include the fast paths' (large arrays of numbers, quoted or not).
"""

from __future__ import annotations

import contextlib
import json
import random
import warnings
from typing import Any

import numpy as np
import pytest

from bentoml_classic.exceptions import BentoMLException
from bentoml_classic.io import NumpyNdarray


class _Refused(Exception):
    """Classic answered this body with an error (a 400 or a 500)."""


def _classic(body: bytes, descriptor: NumpyNdarray) -> np.ndarray:
    """classic's ``from_http_request`` and ``validate_array``, for comparison."""
    dtype, shape = descriptor.dtype, descriptor.shape
    try:
        obj = json.loads(body)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                arr = np.array(obj, dtype=dtype)
            except ValueError:
                arr = np.array(obj)
    except Exception as exc:  # a 500 in classic
        raise _Refused from exc
    if dtype is not None and dtype != arr.dtype:
        if np.can_cast(arr.dtype, dtype, casting="same_kind"):
            with np.errstate(all="ignore"):
                arr = arr.astype(dtype, casting="same_kind")
        elif descriptor.enforce_dtype:
            raise _Refused
    if shape is not None and not (
        len(shape) == arr.ndim and all(s in (-1, a) for s, a in zip(shape, arr.shape, strict=True))
    ):
        if descriptor.enforce_shape:
            raise _Refused
        with contextlib.suppress(ValueError):
            arr = arr.reshape(shape)
    return arr


DESCRIPTORS = [
    NumpyNdarray(),
    NumpyNdarray(dtype="float32"),
    NumpyNdarray(dtype="float32", enforce_dtype=True),
    NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True),
    NumpyNdarray(dtype="int16", shape=(-1, 2)),
    NumpyNdarray(dtype="int64", enforce_dtype=True),
    NumpyNdarray(dtype="uint8", enforce_dtype=True),
    NumpyNdarray(dtype=bool, enforce_dtype=True),
    NumpyNdarray(dtype=str),
    NumpyNdarray(dtype=object),
    NumpyNdarray(dtype="complex64", enforce_dtype=True),
]

BODIES = [
    "[[5.9, 3.0, 5.1, 1.8]]",
    '[["5.9", "3.0", "5.1", "1.8"]]',
    '[["5.9", 3.0, "5.1", 1.8]]',
    '[["5.9", "abc", "5.1", "1.8"]]',
    "[1, 2, 3, 4]",
    "[1.5, -2.7]",
    "[1, null]",
    "[true, false, 2]",
    '[" 7 ", "-8", "1_000"]',
    '["1e3", "inf", "-Infinity", "nan"]',
    '["", "0"]',
    "[[1, 2], [3]]",
    "[[1, 2], [3, 4]]",
    "[300, -1]",
    "[1e300]",
    "[NaN, 1]",
    "[Infinity]",
    "5",
    '"5.9"',
    '"abc"',
    "null",
    '{"a": 1}',
    '[{"a": 1}]',
    "[]",
    "[[]]",
    f"[{10**30}]",
    '["1+2j"]',
]


def _assert_same(ours: np.ndarray, expected: np.ndarray, where: str) -> None:
    assert ours.dtype == expected.dtype, where
    assert ours.shape == expected.shape, where
    if expected.dtype.kind in "fc":
        np.testing.assert_array_equal(ours, expected, err_msg=where)  # NaN == NaN here
    else:
        assert ours.tolist() == expected.tolist(), where


def _check(parse: Any, descriptor: NumpyNdarray, body: bytes) -> str:
    where = f"{descriptor!r} {body[:80]!r}"
    try:
        expected = _classic(body, descriptor)
    except _Refused:
        with pytest.raises(BentoMLException) as info:
            parse(descriptor, body)
        assert info.value.status_code == 400, where
        return "refused"
    _assert_same(parse(descriptor, body), expected, where)
    return "served"


@pytest.mark.parametrize("descriptor", DESCRIPTORS, ids=repr)
def test_what_classic_served_is_served_the_same(parse, descriptor):
    outcomes = {_check(parse, descriptor, body.encode()) for body in BODIES}
    assert "served" in outcomes


@pytest.mark.parametrize("descriptor", DESCRIPTORS, ids=repr)
def test_large_bodies_take_the_fast_paths_to_the_same_array(parse, descriptor):
    rows = [[5.9, 3.0, 5.1, 1.8], [1, 2, 3, 4]] * 4000
    for body in (
        json.dumps(rows),
        json.dumps([[str(v) for v in row] for row in rows]),  # numbers sent as strings
        json.dumps([[str(int(v)) for v in row] for row in rows]),
        json.dumps(list(range(20_000))),
    ):
        _check(parse, descriptor, body.encode())


def test_random_bodies_match_classic(parse):
    rng = random.Random(20261207)
    atoms = ["1", "-2", "2.5", '"3"', '"4.5"', '"x"', '""', "true", "null", "1e400", '" 6 "']
    for _ in range(400):
        width = rng.randint(1, 4)
        rows = [
            "[" + ", ".join(rng.choice(atoms) for _ in range(width)) + "]"
            for _ in range(rng.randint(1, 3))
        ]
        body = ("[" + ", ".join(rows) + "]").encode()
        for descriptor in DESCRIPTORS:
            _check(parse, descriptor, body)


@pytest.mark.parametrize("descriptor", DESCRIPTORS, ids=repr)
def test_large_bodies_of_short_floats_read_by_msgspec_match_classic(parse, descriptor):
    """Bodies of four-decimal numbers (the msgspec path, where numpy is told float64 under a
    float dtype), each with one twist in its middle row that changes what numpy finds."""
    row = ", ".join(f"0.{n:04d}" for n in range(1, 9))
    for twist in (
        "0.5",
        "7",
        f"{2**70}",  # wider than int64: numpy finds objects, not floats
        f"-{2**63}",
        f"{10**400}",  # wider than a double
        "1e5",
        "2E-3",
        "true",
        "false",
        "null",
        "[1]",  # ragged
        "{}",
    ):
        middle = f"[{row}, {twist}]"
        rows = [f"[{row}, 0.9999]"] * 1000 + [middle] + [f"[{row}, 0.25]"] * 1000
        _check(parse, descriptor, ("[" + ", ".join(rows) + "]").encode())
