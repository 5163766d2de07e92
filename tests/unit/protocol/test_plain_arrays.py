"""``protocol.plain_arrays``: calls and results of plain numeric arrays travel without pickle,
everything else falls back to it, and a malformed array body is a FrameError."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bentoml_classic.protocol import codec
from bentoml_classic.protocol.codec import FrameError
from bentoml_classic.protocol.frame_reader import FrameReader
from tests.unit.protocol.wire import feed, join

# -- the array frame: plain numeric arrays skip pickle ---------------------------------------

ARRAYS_MARKER = 0xA7
PICKLE_MARKER = 0x80  # the PROTO opcode every protocol 5 pickle starts with


def wire_roundtrip(kind: int, payload: Any) -> tuple[list[memoryview], Any]:
    """Encode ``payload``, read it back through a FrameReader: (its buffers, the decoded value)."""
    [(call_id, read_kind, buffers)] = feed(FrameReader(), join(codec.encode(5, kind, payload)))
    assert (call_id, read_kind) == (5, kind)
    return buffers, codec.decode(kind, buffers)


def assert_same(received: Any, sent: Any) -> None:
    """Deep equality that also checks the type, dtype and shape of every array."""
    assert type(received) is type(sent)
    if isinstance(sent, np.ndarray):
        assert received.dtype == sent.dtype
        assert received.shape == sent.shape
        np.testing.assert_array_equal(np.asarray(received), np.asarray(sent))
    elif isinstance(sent, tuple | list):
        assert len(received) == len(sent)
        for got, want in zip(received, sent, strict=True):
            assert_same(got, want)
    elif isinstance(sent, dict):
        assert list(received) == list(sent)
        for key in sent:
            assert_same(received[key], sent[key])
    else:
        assert received == sent


PLAIN_ARRAYS = [
    np.array([True, False, True]),
    np.arange(-5, 5, dtype=np.int8),
    np.arange(7, dtype=np.uint16),
    np.arange(12, dtype=np.int32).reshape(3, 4),
    np.arange(100, dtype=np.int64) * 2**40,
    np.arange(6, dtype=np.uint64).reshape(2, 3) + 2**63,
    np.array([0.5, -1.25, 65504.0], dtype=np.float16),
    np.arange(12, dtype=np.float32).reshape(2, 3, 2),
    np.array([np.pi, -np.inf, np.nan, 1e-300]),
    np.array([1 + 2j, 3 - 4j], dtype=np.complex64),
    np.array([1 + 2j, 3 - 4j], dtype=np.complex128),
    np.arange(4, dtype=">i4"),  # big-endian: the byte order travels with the dtype
    np.arange(4, dtype=">f8") / 3,
    np.array(3.5),  # 0-d
    np.array(7, dtype=np.int16),  # 0-d
    np.zeros((0,), dtype=np.float32),  # no rows
    np.zeros((0, 3), dtype=np.int64),  # no rows, a trailing dimension
    np.zeros((3, 0, 2), dtype=np.float64),  # empty in the middle
]


@pytest.mark.parametrize("array", PLAIN_ARRAYS, ids=lambda a: f"{a.dtype.str}-{a.shape}")
def test_call_with_a_plain_array_uses_the_array_frame(array: np.ndarray) -> None:
    buffers, received = wire_roundtrip(codec.CALL, ("predict", (array,), {}))
    assert buffers[0][0] == ARRAYS_MARKER
    assert len(buffers) == 2  # the header, then the array's memory as it is
    assert bytes(buffers[1]) == array.tobytes()
    assert_same(received, ("predict", (array,), {}))
    assert received[1][0].flags.writeable  # as writable as what the pickle path hands over


@pytest.mark.parametrize("array", PLAIN_ARRAYS, ids=lambda a: f"{a.dtype.str}-{a.shape}")
def test_result_with_a_plain_array_uses_the_array_frame(array: np.ndarray) -> None:
    buffers, received = wire_roundtrip(codec.RESULT, array)
    assert buffers[0][0] == ARRAYS_MARKER
    assert len(buffers) == 2
    assert_same(received, array)


def test_array_frame_header_names_the_method_and_each_dtype_and_shape() -> None:
    arrays = (
        np.zeros((2, 3), dtype="<f8"),
        np.ones(4, dtype=bool),
        np.array(1, dtype=">i2"),
        np.zeros((0, 5), dtype="<u1"),
    )
    buffers, _ = wire_roundtrip(codec.CALL, ("predict_proba", arrays, {}))
    assert bytes(buffers[0]) == b"\xa7predict_proba\n<f8:2,3;|b1:4;>i2:;|u1:0,5"
    assert [len(b) for b in buffers[1:]] == [48, 4, 2, 0]


def test_several_arrays_of_different_dtypes_and_shapes_in_one_call() -> None:
    rng = np.random.default_rng(4)
    arrays = (
        rng.standard_normal((5, 3)).astype(np.float32),
        rng.integers(-100, 100, size=5, dtype=np.int64),
        rng.random(5) > 0.5,
        np.zeros((0, 2), dtype=np.uint8),
        rng.standard_normal((5, 2, 2)) + 1j,
    )
    buffers, received = wire_roundtrip(codec.CALL, ("fit", arrays, {}))
    assert buffers[0][0] == ARRAYS_MARKER
    assert len(buffers) == 1 + len(arrays)
    assert_same(received, ("fit", arrays, {}))


def test_array_frame_keeps_a_non_ascii_method_name() -> None:
    array = np.arange(3, dtype=np.int32)
    buffers, received = wire_roundtrip(codec.CALL, ("prédire_ü", (array,), {}))
    assert buffers[0][0] == ARRAYS_MARKER
    assert_same(received, ("prédire_ü", (array,), {}))


def test_array_frames_and_pickle_frames_interleave_in_one_stream() -> None:
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    payloads = [
        (1, codec.CALL, ("a", (array,), {})),
        (2, codec.CALL, ("b", (array,), {"k": 1})),
        (3, codec.RESULT, array.T),
        (4, codec.RESULT, array),
    ]
    data = b"".join(join(codec.encode(i, kind, p)) for i, kind, p in payloads)
    frames = feed(FrameReader(), data, iter(lambda: 7, None))
    assert [(call_id, kind) for call_id, kind, _ in frames] == [(i, k) for i, k, _ in payloads]
    markers = [buffers[0][0] for _, _, buffers in frames]
    assert markers == [ARRAYS_MARKER, PICKLE_MARKER, PICKLE_MARKER, ARRAYS_MARKER]
    for (_, kind, buffers), (_, _, payload) in zip(frames, payloads, strict=True):
        assert_same(codec.decode(kind, buffers), payload)


class _ArraySubclass(np.ndarray):
    pass


_BASE = np.arange(24, dtype=np.float64).reshape(4, 6)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (codec.CALL, ("predict", (_BASE.T,), {})),  # Fortran order
        (codec.CALL, ("predict", (np.asfortranarray(_BASE),), {})),
        (codec.CALL, ("predict", (np.array([{"a": 1}, None], dtype=object),), {})),
        (codec.CALL, ("predict", (np.array(["a", "bc"]),), {})),  # unicode: kind U
        (codec.CALL, ("predict", (np.array(["2024-01-01"], dtype="datetime64[D]"),), {})),
        (codec.CALL, ("predict", (_BASE,), {"scale": 2.0})),  # keyword arguments
        (codec.CALL, ("predict", (), {"x": _BASE})),  # only keyword arguments
        (codec.CALL, ("predict", (), {})),  # no positional arguments at all
        (codec.CALL, ("predict", (np.float64(1.5),), {})),  # a numpy scalar, not an array
        (codec.CALL, ("predict", (_BASE, 3), {})),  # one argument is not an array
        (codec.CALL, ("predict", (_BASE.view(_ArraySubclass),), {})),
        (codec.CALL, ("two\nlines", (_BASE,), {})),  # the newline would end the header early
        (codec.RESULT, (_BASE, _BASE[0])),  # a tuple result
        (codec.RESULT, [_BASE]),
        (codec.RESULT, np.float32(2.5)),
        (codec.RESULT, np.array([None, 1], dtype=object)),
    ],
    ids=[
        "transposed",
        "fortran",
        "object",
        "unicode",
        "datetime",
        "kwargs",
        "only-kwargs",
        "no-args",
        "numpy-scalar",
        "mixed-args",
        "subclass",
        "newline-in-method",
        "tuple-result",
        "list-result",
        "scalar-result",
        "object-result",
    ],
)
def test_other_payloads_fall_back_to_pickle_and_still_roundtrip(kind: int, payload: Any) -> None:
    buffers, received = wire_roundtrip(kind, payload)
    assert buffers[0][0] == PICKLE_MARKER
    assert_same(received, payload)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (codec.CALL, ("predict", (_BASE[:, ::2],), {})),
        (codec.CALL, ("predict", (_BASE[::2], _BASE[:, 1:3]), {})),
        (codec.RESULT, _BASE[::-1]),
    ],
    ids=["every-other-column", "two-views", "reversed-result"],
)
def test_strided_views_travel_as_contiguous_arrays(kind: int, payload: Any) -> None:
    """A view that is neither C- nor Fortran-contiguous is copied once, into C order, and takes
    the array frame: pickle would have copied it three times (its bytes into the pickle, the
    pickle's result, the array rebuilt from those bytes)."""
    buffers, received = wire_roundtrip(kind, payload)
    assert buffers[0][0] == ARRAYS_MARKER
    assert_same(received, payload)
    arrays = received[1] if kind == codec.CALL else (received,)
    assert all(array.flags.c_contiguous for array in arrays)


def test_fortran_order_argument_keeps_its_order_through_the_fallback() -> None:
    array = np.asfortranarray(_BASE)
    _, (_, (received,), _) = wire_roundtrip(codec.CALL, ("predict", (array,), {}))
    assert received.flags.f_contiguous and not received.flags.c_contiguous


def _array_body(header: bytes, *data: bytes) -> list[memoryview]:
    return [memoryview(bytes([ARRAYS_MARKER]) + header), *(memoryview(d) for d in data)]


@pytest.mark.parametrize(
    "buffers",
    [
        _array_body(b"m\n<f8:2", b"\0" * 8),  # data for one float, the shape says two
        _array_body(b"m\n<f8:1", b"\0" * 7),  # not a whole number of items
        _array_body(b"m\n<f8:1", b"\0" * 8, b"\0" * 8),  # one buffer more than specs
        _array_body(b"m\n<f8:1;<f8:1", b"\0" * 8),  # one buffer fewer than specs
        _array_body(b"m\n<f8:1"),  # no data buffer at all
        _array_body(b""),  # nothing but the marker
        _array_body(b"m\nzz:1", b"\0" * 8),  # not a dtype
        _array_body(b"m\n:1", b"\0" * 8),  # no dtype
        _array_body(b"m\n|O:1", b"\0" * 8),  # object pointers from the wire
        _array_body(b"m\n|V0:3", b""),  # zero-sized items
        _array_body(b"m\n<f8:x", b"\0" * 8),  # not a number
        _array_body(b"m\n<f8:1,,1", b"\0" * 8),  # an empty dimension
        _array_body(b"m\n<f8:-1,-1", b"\0" * 16),
        _array_body(b"m\n<f8:99999999999999999999999", b""),  # beyond any dimension
        _array_body(b"m", b"\0" * 8),  # no newline: no specs
        _array_body(b"\xff\xfe\n<f8:1", b"\0" * 8),  # not UTF-8
        _array_body(b"m\n<f8:-1", b"\0" * 16),  # numpy would guess the size
        _array_body(b"m\n<f8: 2", b"\0" * 16),
        _array_body(b"m\n<f8:1_0", b"\0" * 80),  # int() reads it as 10
        _array_body(b"m\n<M8[s]:1", b"\0" * 8),  # datetimes are never sent bare
        _array_body(b"m\n<U1:1", b"\0" * 4),  # nor strings
    ],
    ids=[
        "short-data",
        "partial-item",
        "extra-buffer",
        "missing-buffer",
        "no-buffer",
        "marker-only",
        "bad-dtype",
        "empty-dtype",
        "object-dtype",
        "zero-itemsize",
        "bad-dim",
        "empty-dim",
        "two-unknown-dims",
        "huge-dim",
        "no-newline",
        "not-utf8",
        "negative-dim",
        "spaced-dim",
        "underscored-dim",
        "datetime-dtype",
        "string-dtype",
    ],
)
@pytest.mark.parametrize("kind", [codec.CALL, codec.RESULT])
def test_malformed_array_frame_is_a_frame_error(kind: int, buffers: list[memoryview]) -> None:
    with pytest.raises(FrameError, match="malformed array frame"):
        codec.decode(kind, buffers)


def test_malformed_array_frame_read_off_the_wire_is_a_frame_error() -> None:
    # a well-formed frame (its buffer table adds up) whose array header lies about the data
    data = join(codec.frame(8, codec.CALL, [b"\xa7predict\n<i4:3", b"\0" * 8]))
    [(call_id, kind, buffers)] = feed(FrameReader(), data)
    assert call_id == 8
    with pytest.raises(FrameError):
        codec.decode(kind, buffers)
