"""``io._fast_json``: msgspec at the HTTP boundary, with exactly the stdlib's answers. Every body
and value here is also given to ``json.loads`` / ``json.dumps`` and the results compared: the
value (types included), the exact bytes written, or the same refusal."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import numpy as np
import pytest

from bentoml_classic.exceptions import BadInput
from bentoml_classic.io import JSON, NumpyNdarray, _fast_json
from bentoml_classic.io._array_render import render_array
from bentoml_classic.io._fast_json import (
    as_written,
    decode_or_none,
    encode_array,
    encode_as_stdlib,
    encode_numbers,
    float_form_differs,
    has_huge_exponents,
)
from bentoml_classic.io.base import load_json_body
from bentoml_classic.io.json import default_json


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (1 is not 1.0; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def stdlib_load(body: bytes) -> tuple[str, Any]:
    try:
        return "value", json.loads(body)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__name__


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[[5.9,3,5.1,1.8]]",
        b"18446744073709551616",  # past 64 bits: an exact int, not a float
        b"-9223372036854775809",
        b"1" * 4300,  # Python's longest integer
        b"[1e999, -1e999]",  # infinity, as Python reads it
        b"[-1e-400]",
        b"[NaN, Infinity, -Infinity]",
        b"\xef\xbb\xbf[1]",  # a byte order mark
        '[1, "é"]'.encode("utf-16"),
        b'"\\ud800"',  # a lone surrogate
        b'{"a": 1, "a": 2}',
        b"-0",
        b"[-0.0, 0.1, 1E5, 2.5e-05]",
        b' \n{"x": [true, false, null]} \t',
        b'"\\u00e9\\n\\"\\/"',
    ],
)
def test_a_body_reads_as_json_loads_reads_it(body):
    kind, expected = stdlib_load(body)
    assert kind == "value"
    assert same(load_json_body(body), expected)


@pytest.mark.parametrize(
    "body",
    [b"[1,]", b"01", b"[.5]", b'"a\nb"', b"\xff", b"[1] x", b"1" * 4301, b"[" * 100_000, b"{"],
)
def test_what_neither_reads_is_the_stdlibs_400(body):
    with pytest.raises(BadInput):
        load_json_body(body)
    assert stdlib_load(body)[0] == "error"


def random_json_text(rng: random.Random) -> bytes:
    alphabet = [*'[]{},:"0123456789.-+eE \\', "true", "null", "NaN", "1e400", '"k"', "9" * 25]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))).encode()


def test_random_texts_give_json_loads_answer():
    rng = random.Random(15)
    for _ in range(20_000):
        body = random_json_text(rng)
        kind, expected = stdlib_load(body)
        parsed, value = decode_or_none(body)
        if parsed:  # msgspec takes only what the stdlib takes, and reads it the same
            assert kind == "value" and same(value, expected), body
        if kind == "value":
            assert same(load_json_body(body), expected), body
        else:
            with pytest.raises(BadInput):
                load_json_body(body)


# -- writing arrays --------------------------------------------------------------------------


def random_float(rng: random.Random) -> float:
    pick = rng.randrange(3)
    if pick == 0:
        value = struct.unpack("d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        return value if math.isfinite(value) else 0.5
    if pick == 1:
        return rng.uniform(-1, 1) * 10 ** rng.randint(-12, 22)
    return rng.choice([0.0, -0.0, 1e-4, 1e-5, 9.99e-5, 1e15, 1e16, 1.5e16, 0.1, 5e-324])


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_float_arrays_are_written_as_json_dumps_writes_them(dtype):
    rng = random.Random(dtype)
    for _ in range(300):
        shape = [rng.randint(1, 5) for _ in range(rng.randint(1, 3))]
        with np.errstate(over="ignore"):
            arr = np.array(
                [random_float(rng) for _ in range(int(np.prod(shape)))], dtype=dtype
            ).reshape(shape)
        assert render_array(arr) == json.dumps(arr.tolist()).encode(), arr


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_arrays_within_the_plain_range_are_written_as_json_dumps_writes_them(dtype):
    """The shortcut for arrays whose every float msgspec writes as ``repr`` does (checked by
    their smallest and largest magnitude), at the edges of that range and just outside."""
    edges = [1e-4, 1.0001e-4, 1.001e-4, 1.002e-4, 0.1, 1.0, 9.98e15, 9.99e15, 1e16]
    rng = random.Random(dtype)
    for _ in range(200):
        values = [rng.choice([-1, 1]) * rng.choice([*edges, rng.uniform(1e-3, 1e6)])]
        values += [rng.uniform(-1e6, 1e6) for _ in range(rng.randint(0, 4))]
        with np.errstate(over="ignore"):
            arr = np.array(values, dtype=dtype)
        assert render_array(arr) == json.dumps(arr.tolist()).encode(), arr


@pytest.mark.parametrize(
    "arr",
    [
        np.array([2]),  # iris' answer
        np.array([[1e16, 1e-05, 0.5], [-3.2e-07, 0.0, -0.0]]),
        np.array([np.nan, 1.0, np.inf, -np.inf]),  # NaN as classic wrote it
        np.array(1.5),
        np.array(7, dtype=np.uint64),
        np.array([2**64 - 1], dtype=np.uint64),
        np.array([True, False]),
        np.array([[1, 2], [3, 4]], dtype=np.int8),
        np.array([], dtype=float),
        np.array(["a", "b, c"]),
        np.array([[1, None]], dtype=object),
        np.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
    ],
    ids=repr,
)
def test_arrays_are_written_byte_for_byte_as_classic(arr, render):
    expected = json.dumps(arr.tolist()).encode()
    assert render_array(arr) == expected
    assert render(NumpyNdarray(), arr).body == expected


@pytest.mark.parametrize(
    "arr",
    [
        np.array([[0.1, 2.5], [3.0, -0.0]]),
        np.array([0.1, 1e15, 123456.789], dtype=np.float32),  # widened, as tolist() does
        np.array([1.5, 2.25], dtype=np.float16),
        np.array([[1, -2], [3, 2**62]]),
        np.array([2**64 - 1, 0], dtype=np.uint64),
        np.array([[True], [False]]),
        np.zeros((2, 0)),
    ],
    ids=repr,
)
def test_orjson_writes_an_arrays_own_numbers_as_json_dumps_writes_them(arr):
    assert encode_array(arr) == json.dumps(arr.tolist()).encode()


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
        np.array([0.5, 1.5], dtype=">f8"),  # not the machine's byte order
    ],
    ids=repr,
)
def test_arrays_orjson_refuses_go_the_tolist_way(arr):
    assert encode_array(arr) is None
    assert render_array(arr) == json.dumps(arr.tolist()).encode()


def test_an_array_json_cannot_write_is_the_same_error():
    with pytest.raises(TypeError, match="complex"):
        render_array(np.array([1 + 2j]))


def test_the_iris_answer_bytes(render):
    assert render(NumpyNdarray(), np.array([2])).body == b"[2]"
    assert render(NumpyNdarray(), np.array([[0.1, 1e-05]])).body == b"[[0.1, 1e-05]]"


def test_encode_numbers_writes_the_stdlibs_separators_and_raw_floats_as_given():
    assert encode_numbers([as_written("1e-05"), 0.5]) == b"[1e-05, 0.5]"
    assert encode_numbers([[1, 2], [3, 4]]) == b"[[1, 2], [3, 4]]"


# -- writing JSON() values -------------------------------------------------------------------


def random_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(9 if depth < 3 else 6)
    if pick == 0:
        return random_float(rng)
    if pick == 1:
        return rng.choice([0, -1, 2**70, True, False, None])
    if pick == 2:
        return rng.choice(["", "é", "1e5", "0.00001", "null", 'a\x01\n"\\', "\u2028", "x" * 50])
    if pick == 3:
        return rng.choice([float("nan"), float("inf"), np.float32(0.1), np.int64(3)])
    if pick == 4:
        return rng.choice([np.array([1.5, 1e-7]), (1, "t")])
    if pick == 5:
        return rng.uniform(0, 1)
    if pick in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["a", "b", "1e5", "null", "ü"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def stdlib_render(obj: Any) -> tuple[str, Any]:
    options: dict[str, Any] = {"separators": (",", ":"), "allow_nan": False}
    try:
        return "bytes", json.dumps(
            obj, ensure_ascii=False, default=default_json, **options
        ).encode()
    except (ValueError, TypeError) as exc:
        return "error", type(exc).__name__


def test_json_values_are_written_as_json_dumps_writes_them(render):
    rng = random.Random(17)
    fast = 0
    for _ in range(5000):
        value = random_value(rng)
        kind, expected = stdlib_render(value)
        out = encode_as_stdlib(value, default_json)
        if out is not None:
            fast += 1
            assert kind == "bytes" and out == expected, value
        if kind == "bytes":
            assert JSON().render(value) == expected, value
        else:
            with pytest.raises(ValueError):  # NaN or infinity, as classic refused them
                JSON().render(value)
    assert fast > 1000  # most values do take msgspec


def test_a_null_that_was_nan_is_refused_as_before():
    assert encode_as_stdlib({"a": None}, default_json) == b'{"a":null}'
    assert encode_as_stdlib({"a": float("nan")}, default_json) is None
    with pytest.raises(ValueError):
        JSON().render({"a": [None, float("inf")]})


@pytest.mark.parametrize(
    ("numbers", "huge"),
    [
        ("1e+308", True),
        ("1E300", True),
        ("2.5e+299", True),
        ("1e-308", False),
        ("1e+28", False),
        ("0.1234", False),
    ],
)
def test_bodies_with_three_digit_exponents_are_left_to_json_loads(numbers: str, huge: bool) -> None:
    """msgspec reads floats from about 1e+290 up ~200 times slower than json.loads: a small
    body of them would buy seconds of a worker, so such bodies go to json.loads."""
    body = ("[" + ", ".join([numbers] * 2000) + "]").encode()
    assert has_huge_exponents(body) is huge
    assert decode_or_none(body)[0] is not huge
    assert load_json_body(body) == json.loads(body)


def test_text_with_the_letter_e_is_not_taken_for_an_exponent() -> None:
    """(Text such as ``"e999"`` is: a false alarm costs only json.loads' speed.)"""
    body = json.dumps([{"name": "see e+ eee E1", "score": 1.5e-300, "e": 1e22}] * 500).encode()
    assert len(body) > 4096 and not has_huge_exponents(body)
    assert decode_or_none(body) == (True, json.loads(body))


def test_a_float_ndarray_body_read_by_msgspec_equals_the_stdlib_reading() -> None:
    """Numbers written at some length take msgspec's way into NumpyNdarray, not the text
    parser's; the array is the one json.loads would give."""
    rows = np.random.default_rng(7).random((100, 784)).round(4)
    body = json.dumps(rows.tolist()).encode()
    array = NumpyNdarray(dtype="float32", shape=(-1, 784), enforce_shape=True).parse_bytes(body)
    assert array.dtype == np.float32
    assert np.array_equal(array, np.asarray(json.loads(body), dtype=np.float32))


#: pieces of JSON text around the two float forms the check looks for, harmless ones first
_HARMLESS = [b"[0.5,", b'"label":"cat",', b"10.0001,", b"0.0001,", b"-3.25,", b'"seen":', b"1.0,"]
_TELLING = [
    b"1e-05,",
    b"1e+16,",
    b"0.00001,",
    b"-0.00002,",
    b'"0.00003"',
    b'"x0.00004"',
    b"10.00001,",
    b"20.00005,",
    b"90.00007,",
    b'"e9"',
    b'"see"',
    b"3e",
    b"9e+20,",
    b"0.0000",
    b".0000",
    b"00.0000",
]


@pytest.mark.parametrize("seed", range(60))
def test_long_outputs_are_checked_for_float_forms_as_the_patterns_check_them(seed: int) -> None:
    """Past ``_VECTOR_CHECK_FROM`` bytes numpy looks for the forms; its answer is the
    patterns' on texts with none, one, or several of them, at the start, the end or inside."""
    rng = random.Random(seed)
    pieces = [rng.choice(_HARMLESS) for _ in range(4000)]
    for _ in range(rng.choice([0, 0, 1, 2, 5])):
        pieces.insert(
            rng.choice([0, len(pieces), rng.randrange(len(pieces))]), rng.choice(_TELLING)
        )
    out = b"".join(pieces)
    assert len(out) >= _fast_json._VECTOR_CHECK_FROM
    expected = any(pattern.search(out) for pattern in _fast_json._FLOAT_FORM_DIFFERS)
    assert float_form_differs(out) is expected


@pytest.mark.parametrize("telling", [*_TELLING, b""])
@pytest.mark.parametrize("where", ["start", "end"])
def test_a_float_form_at_either_edge_of_a_long_output(telling: bytes, where: str) -> None:
    filler = b"[0.5," * 4000 + b"7"  # a digit last: before the first byte is no digit
    out = telling + filler if where == "start" else filler + telling
    expected = any(pattern.search(out) for pattern in _fast_json._FLOAT_FORM_DIFFERS)
    assert float_form_differs(out) is expected


def test_a_long_answer_of_records_is_written_as_json_dumps_writes_it() -> None:
    """Keys with an ``e``, small and large floats, a NaN: the bytes or the refusal are the
    stdlib's, through the long outputs' check."""
    rng = random.Random(3)
    records = [
        {"score": rng.uniform(0.001, 1), "label": "cat", "tiny": 1e-7 if i == 500 else 0.5}
        for i in range(2000)
    ]
    out = encode_as_stdlib(records, default_json)
    assert out is None  # 1e-07 is written otherwise by msgspec: the stdlib writes it
    del records[500]["tiny"]
    stdlib = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
    assert encode_as_stdlib(records, default_json) == stdlib
    records[7]["score"] = math.nan
    assert encode_as_stdlib(records, default_json) is None
