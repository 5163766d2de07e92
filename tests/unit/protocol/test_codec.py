"""The runner wire format: frames, out-of-band buffers, errors, and the incremental reader."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.protocol import codec
from bentoml_classic.protocol.codec import FrameError
from bentoml_classic.protocol.frame_reader import FrameReader
from tests.unit.protocol.wire import feed, join

# -- helpers ---------------------------------------------------------------------------------


def roundtrip(payload: Any, **reader_options: Any) -> Any:
    data = join(codec.encode(7, codec.RESULT, payload))
    frames = feed(FrameReader(**reader_options), data)
    assert len(frames) == 1
    call_id, kind, buffers = frames[0]
    assert (call_id, kind) == (7, codec.RESULT)
    return codec.decode(kind, buffers)


def assert_same_array(received: Any, sent: np.ndarray) -> None:
    assert isinstance(received, np.ndarray)
    assert received.dtype == sent.dtype
    assert received.shape == sent.shape
    np.testing.assert_array_equal(received, sent)


# -- numpy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.arange(10, dtype=np.float64) / 3,
        np.arange(-5, 5, dtype=np.int8),
        np.arange(100, dtype=np.int64) * 2**40,
        np.arange(7, dtype=np.uint16),
        np.array([True, False, True]),
        np.array([1 + 2j, 3 - 4j], dtype=np.complex128),
        np.array(["a", "bc", "déf"]),
        np.array([b"x", b"yz"]),
        np.array(["2024-01-01", "2025-06-30"], dtype="datetime64[D]"),
        np.array(3.5),  # 0-d
        np.array(42, dtype=np.int32),  # 0-d
        np.zeros((0,), dtype=np.float32),  # empty
        np.zeros((3, 0, 2), dtype=np.int64),  # empty, several dimensions
        np.array([{"a": 1}, None, "x"], dtype=object),
    ],
    ids=lambda array: f"{array.dtype}-{array.shape}",
)
def test_numpy_roundtrip(array: np.ndarray) -> None:
    received = roundtrip(array)
    assert_same_array(received, array)
    assert received.flags.writeable
    if array.size:
        flat = received.reshape(-1)
        flat[0] = flat[-1]  # writable in practice, not only by flag


def test_non_contiguous_arrays_roundtrip() -> None:
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    for view in (base[::2, 1::3], base.T, base[:, 5], base[::-1]):
        received = roundtrip(view)
        assert_same_array(received, view)
        assert received.flags.writeable


def test_fortran_order_is_kept() -> None:
    array = np.asfortranarray(np.arange(24, dtype=np.int32).reshape(4, 6))
    received = roundtrip(array)
    assert_same_array(received, array)
    assert received.flags.f_contiguous
    assert received.flags.writeable


def test_large_array_takes_the_large_frame_path_and_is_not_copied() -> None:
    array = np.random.default_rng(0).standard_normal(100_000)  # 800 KB > 256 KiB buffer
    chunks = codec.encode(3, codec.RESULT, array)
    # the array's memory goes to the transport as it is: no copy on the way out
    pointer = array.__array_interface__["data"][0]
    assert any(
        memoryview(chunk).nbytes == array.nbytes
        and np.frombuffer(chunk, dtype=np.uint8).__array_interface__["data"][0] == pointer
        for chunk in chunks
    )
    data = join(chunks)
    assert len(data) > 256 * 1024
    reader = FrameReader()
    frames = feed(reader, data, iter(lambda: 100_000, None))
    assert [(call_id, kind) for call_id, kind, _ in frames] == [(3, codec.RESULT)]
    received = codec.decode(codec.RESULT, frames[0][2])
    assert_same_array(received, array)
    assert received.flags.writeable
    assert not received.flags.owndata  # built on the received memory
    received[0] = 1.0
    assert received[0] == 1.0


def test_large_array_among_small_frames() -> None:
    rng = np.random.default_rng(1)
    big = rng.integers(0, 255, size=300 * 1024, dtype=np.uint8)
    payloads = [1, big, "after", {"k": big[:10]}, big[::-1].copy()]
    data = b"".join(join(codec.encode(i, codec.CALL, p)) for i, p in enumerate(payloads))
    frames = feed(FrameReader(), data, iter(lambda: 64 * 1024, None))
    assert [call_id for call_id, _, _ in frames] == list(range(len(payloads)))
    decoded = [codec.decode(kind, buffers) for _, kind, buffers in frames]
    assert decoded[0] == 1
    assert_same_array(decoded[1], big)
    assert decoded[2] == "after"
    assert_same_array(decoded[3]["k"], big[:10])
    assert_same_array(decoded[4], big[::-1])


# -- pandas and containers -------------------------------------------------------------------


def test_dataframe_roundtrip() -> None:
    frame = pd.DataFrame(
        {
            "a": np.arange(5, dtype=np.int64),
            "b": np.linspace(0, 1, 5),
            "c": ["x", "y", "z", "w", "v"],
            "d": pd.Categorical(["p", "q", "p", "q", "p"]),
            "e": pd.date_range("2024-01-01", periods=5),
        },
        index=pd.Index([10, 20, 30, 40, 50], name="idx"),
    )
    received = roundtrip(frame)
    pd.testing.assert_frame_equal(received, frame)


def test_large_dataframe_roundtrip() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.standard_normal((20_000, 4)), columns=list("abcd"))
    received = roundtrip(frame)
    pd.testing.assert_frame_equal(received, frame)
    received.iloc[0, 0] = 123.0  # usable like any frame
    assert received.iloc[0, 0] == 123.0


def test_series_roundtrip() -> None:
    series = pd.Series([1.5, 2.5, np.nan], index=["a", "b", "c"], name="scores")
    received = roundtrip(series)
    pd.testing.assert_series_equal(received, series)


def test_nested_containers_roundtrip() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    payload = (
        "predict",
        (array, [array[0], {"inner": (array.T, None)}], 3),
        {"flag": True, "nested": {"x": [1, 2, (3, 4)], "arr": np.int64(5)}},
    )
    method, args, kwargs = roundtrip(payload)
    assert method == "predict"
    assert_same_array(args[0], array)
    assert_same_array(args[1][0], array[0])
    assert_same_array(args[1][1]["inner"][0], array.T)
    assert args[1][1]["inner"][1] is None
    assert args[2] == 3
    assert kwargs["flag"] is True
    assert kwargs["nested"]["x"] == [1, 2, (3, 4)]
    assert kwargs["nested"]["arr"] == 5


def test_same_array_twice_in_one_payload() -> None:
    array = np.arange(1000, dtype=np.int16)
    first, second = roundtrip((array, array))
    assert_same_array(first, array)
    assert_same_array(second, array)


# -- the frame layout ------------------------------------------------------------------------


def test_frame_header_layout() -> None:
    data = join(codec.frame(0x01020304, codec.PING, [b"abc", b""]))
    size, call_id, kind, n_buffers = codec.HEADER.unpack_from(data)
    assert size == len(data) - codec.PREFIX_SIZE
    assert (call_id, kind, n_buffers) == (0x01020304, codec.PING, 2)
    lengths = [
        codec.BUFFER_LENGTH.unpack_from(data, codec.HEADER.size + i * 8)[0] for i in range(2)
    ]
    assert lengths == [3, 0]
    # the buffer starts at the next multiple of ALIGNMENT after the table; empty ones get no pad
    start = codec.HEADER.size + 2 * 8
    start += -start % codec.ALIGNMENT
    assert data[codec.HEADER.size + 16 : start] == b"\0" * (start - codec.HEADER.size - 16)
    assert data[start:] == b"abc"


@pytest.mark.parametrize("fast", [True, False])
def test_decoded_arrays_are_aligned_whatever_the_layout(fast: bool) -> None:
    # odd-sized arrays and odd method names shift every offset; each array must still be
    # aligned for its dtype (numpy and the libraries it feeds are slower on unaligned memory)
    arrays = (
        np.arange(3, dtype=np.int8),
        np.arange(5, dtype=np.float64),
        np.arange(3, dtype=np.complex128),
        np.arange(7, dtype=np.int16),
        np.arange(2, dtype=np.float32),
    )
    kwargs = {} if fast else {"scale": 2}
    for method in ("p", "predict_proba_x"):
        [(_, _, buffers)] = feed(
            FrameReader(), join(codec.encode(1, codec.CALL, (method, arrays, kwargs)))
        )
        if fast:
            assert buffers[0][0] == 0xA7
        _, decoded, _ = codec.decode(codec.CALL, buffers)
        for original, array in zip(arrays, decoded, strict=True):
            np.testing.assert_array_equal(array, original)
            assert array.flags.aligned
            assert array.ctypes.data % codec.ALIGNMENT == 0


def test_frame_larger_than_the_size_field_can_carry_is_refused() -> None:
    # a 4 GiB view without allocating 4 GiB: every element aliases one byte
    huge = np.broadcast_to(np.zeros(1, dtype=np.uint8), (2**32,))
    with pytest.raises(ValueError, match="larger than a frame"):
        codec.frame(1, codec.RESULT, [memoryview(huge)])


def test_decode_of_a_frame_without_body_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        codec.decode(codec.CALL, [])


# -- calls that have already waited ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(np.arange(12.0).reshape(3, 4),), ({"not": "an array"}, [1, 2])],
    ids=["plain arrays", "pickled"],
)
def test_a_call_that_waited_carries_its_wait(args: tuple) -> None:
    data = join(codec.encode_call(9, "predict", args, {}, waited=0.012345))
    ((call_id, kind, buffers),) = feed(FrameReader(), data)
    assert (call_id, kind) == (9, codec.CALL_AGED)
    method, received, kwargs, waited = codec.decode_call(kind, buffers)
    assert method == "predict" and kwargs == {}
    assert waited == pytest.approx(0.012345, abs=1e-6)
    for got, sent in zip(received, args, strict=True):
        if isinstance(sent, np.ndarray):
            assert_same_array(got, sent)
        else:
            assert got == sent


def test_a_call_that_did_not_wait_is_a_plain_call() -> None:
    data = join(codec.encode_call(3, "predict", (np.ones(2),), {}))
    ((_, kind, buffers),) = feed(FrameReader(), data)
    assert kind == codec.CALL
    assert codec.decode_call(kind, buffers)[3] == 0.0


def test_an_aged_call_without_its_wait_is_a_frame_error() -> None:
    body = codec.encode(1, codec.CALL, ("predict", (np.ones(2),), {}))
    ((_, _, buffers),) = feed(FrameReader(), join(body))
    with pytest.raises(FrameError, match="8-byte wait"):
        codec.decode_call(codec.CALL_AGED, buffers)


# -- error frames ----------------------------------------------------------------------------


def test_error_frame_roundtrip() -> None:
    data = join(codec.encode_error(9, "ValueError", "bad value: «x»", 500))
    [(call_id, kind, buffers)] = feed(FrameReader(), data)
    assert (call_id, kind) == (9, codec.ERROR)
    assert codec.decode_error(buffers) == {
        "type": "ValueError",
        "message": "bad value: «x»",
        "status": 500,
    }


def test_error_frame_is_json_not_pickle() -> None:
    [_, _, buffers] = feed(FrameReader(), join(codec.encode_error(1, "BadInput", "m", 400)))[0]
    assert json.loads(bytes(buffers[0])) == {"type": "BadInput", "message": "m", "status": 400}


@pytest.mark.parametrize(
    "buffers",
    [
        [],
        [memoryview(b"not json")],
        [memoryview(b"[1, 2]")],
        [memoryview(b'{"type": "X", "message": "m"}')],
        [memoryview(b'{"type": "X", "message": "m", "status": "five"}')],
        [memoryview(b"\xff\xfe")],
    ],
)
def test_malformed_error_frame(buffers: list[memoryview]) -> None:
    with pytest.raises(FrameError):
        codec.decode_error(buffers)


# -- the incremental reader ------------------------------------------------------------------


def _sample_frames() -> list[tuple[int, int, Any]]:
    rng = np.random.default_rng(3)
    return [
        (1, codec.CALL, ("m", (1,), {})),
        (2, codec.RESULT, rng.standard_normal(50)),
        (3, codec.RESULT, "x" * 5000),
        (4, codec.CALL, ("n", (np.arange(3),), {"k": b"v"})),
        (5, codec.RESULT, None),
        (0xFFFFFFFF, codec.RESULT, rng.integers(0, 9, size=(40, 40))),
    ]


def _check(frames: list[tuple[int, int, list[memoryview]]], expected: list[Any]) -> None:
    assert [(call_id, kind) for call_id, kind, _ in frames] == [
        (call_id, kind) for call_id, kind, _ in expected
    ]
    for (_, kind, buffers), (_, _, payload) in zip(frames, expected, strict=True):
        received = codec.decode(kind, buffers)
        if isinstance(payload, np.ndarray):
            assert_same_array(received, payload)
        elif isinstance(payload, tuple) and len(payload) == 3 and isinstance(payload[2], dict):
            assert received[0] == payload[0]
            assert received[2] == payload[2]
            for got, sent in zip(received[1], payload[1], strict=True):
                if isinstance(sent, np.ndarray):
                    assert_same_array(got, sent)
                else:
                    assert got == sent
        else:
            assert received == payload


def test_reader_several_frames_in_one_chunk() -> None:
    expected = _sample_frames()
    data = b"".join(join(codec.encode(*item)) for item in expected)
    reader = FrameReader()
    buffer = reader.get_buffer(-1)
    buffer[: len(data)] = data
    frames = reader.buffer_updated(len(data))
    _check(frames, expected)


def test_reader_byte_by_byte() -> None:
    expected = _sample_frames()
    data = b"".join(join(codec.encode(*item)) for item in expected)
    frames = feed(FrameReader(), data, iter(lambda: 1, None))
    _check(frames, expected)


def test_reader_byte_by_byte_through_the_large_path() -> None:
    expected = _sample_frames()
    data = b"".join(join(codec.encode(*item)) for item in expected)
    # a tiny receive buffer: most frames are "large" and get their own bytearray
    frames = feed(FrameReader(buffer_size=64), data, iter(lambda: 1, None))
    _check(frames, expected)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("buffer_size", [64, 1024, 256 * 1024])
def test_reader_random_chunks(seed: int, buffer_size: int) -> None:
    rng = random.Random(seed)
    big = np.random.default_rng(seed).standard_normal(40_000)  # 320 KB
    expected = []
    for i in range(30):
        choice = rng.random()
        if choice < 0.1:
            payload: Any = big
        elif choice < 0.5:
            payload = np.arange(rng.randrange(0, 3000), dtype=np.int32)
        else:
            payload = "s" * rng.randrange(0, 2000)
        expected.append((i + 1, rng.choice([codec.CALL, codec.RESULT]), payload))
    data = b"".join(join(codec.encode(*item)) for item in expected)
    sizes = iter(lambda: rng.choice([1, 2, 3, 7, 11, 100, 1000, 4096, 65536, 10**6]), None)
    frames = feed(FrameReader(buffer_size=buffer_size), data, sizes)
    _check(frames, expected)


@pytest.mark.parametrize("body_length", [200, 229, 230, 231, 300])
def test_reader_frames_around_the_buffer_size(body_length: int) -> None:
    # total frame size = HEADER (11) + one length (8) + body: 230 + 19 = 249, 237 + 19 = 256
    buffer_size = 256
    expected = []
    for i in range(12):
        # an odd-sized frame first, so that frames start at varying offsets
        expected.append((2 * i, codec.PING, [b"p" * (i * 7 % 13)]))
        expected.append((2 * i + 1, codec.PONG, [bytes([i]) * (body_length + i % 9)]))
    data = b"".join(join(codec.frame(*item)) for item in expected)
    rng = random.Random(body_length)
    sizes = iter(lambda: rng.choice([1, 5, 50, 255, 256, 257, 1000]), None)
    frames = feed(FrameReader(buffer_size=buffer_size), data, sizes)
    assert [(c, k, [bytes(b) for b in bufs]) for c, k, bufs in frames] == expected


def test_reader_frames_are_independent_of_later_receives() -> None:
    """A frame handed out must not change when the reader reuses its receive buffer."""
    reader = FrameReader(buffer_size=1024)
    first = feed(reader, join(codec.frame(1, codec.PONG, [b"A" * 100])))
    for i in range(20):
        feed(reader, join(codec.frame(i, codec.PONG, [b"B" * 300])))
    assert bytes(first[0][2][0]) == b"A" * 100


def test_reader_frame_above_max_frame_size() -> None:
    data = join(codec.frame(1, codec.CALL, [b"x" * 2000]))
    reader = FrameReader(max_frame_size=1000)
    with pytest.raises(FrameError):
        feed(reader, data)


def test_reader_frame_above_max_frame_size_is_refused_from_its_header() -> None:
    """The limit is checked as soon as the size field arrives: nothing is allocated for it."""
    header = codec.HEADER.pack(2**32 - 1, 1, codec.CALL, 1)
    reader = FrameReader(max_frame_size=4096)
    with pytest.raises(FrameError):
        feed(reader, header)


def test_reader_frame_at_max_frame_size_is_accepted() -> None:
    data = join(codec.frame(1, codec.PONG, [b"x" * 1000]))
    reader = FrameReader(max_frame_size=len(data) - codec.PREFIX_SIZE)
    [(call_id, kind, buffers)] = feed(reader, data)
    assert (call_id, kind, bytes(buffers[0])) == (1, codec.PONG, b"x" * 1000)


def _raw_frame(call_id: int, kind: int, lengths: list[int], body: bytes) -> bytes:
    table = b"".join(codec.BUFFER_LENGTH.pack(n) for n in lengths)
    size = codec.HEADER.size - codec.PREFIX_SIZE + len(table) + len(body)
    return codec.HEADER.pack(size, call_id, kind, len(lengths)) + table + body


@pytest.mark.parametrize(
    ("lengths", "body"),
    [
        ([5], b"abc"),  # buffers claim more than the frame holds
        ([1], b"abc"),  # buffers claim less than the frame holds
        ([2, 2], b"abc"),
        ([2**63], b"abc"),
    ],
)
@pytest.mark.parametrize("buffer_size", [16, 256 * 1024])
def test_reader_inconsistent_buffer_lengths(
    lengths: list[int], body: bytes, buffer_size: int
) -> None:
    with pytest.raises(FrameError):
        feed(FrameReader(buffer_size=buffer_size), _raw_frame(1, codec.CALL, lengths, body))


def test_reader_buffer_table_longer_than_the_frame() -> None:
    # n_buffers says 1000 buffers, but the frame holds 3 bytes after its header
    data = codec.HEADER.pack(codec.HEADER.size - codec.PREFIX_SIZE + 3, 1, codec.CALL, 1000)
    with pytest.raises(FrameError):
        feed(FrameReader(), data + b"abc")


# Regression test (a bug, fixed since): a size field smaller than the fixed header (here 0) makes
# the reader unpack a header from 4 bytes and raise struct.error instead of FrameError (codec.py,
# FrameReader.buffer_updated / _parse): callers that catch FrameError (server, both clients) let it
# escape.
@pytest.mark.parametrize("size", [0, 3, 6])
def test_reader_size_field_smaller_than_the_header(size: int) -> None:
    data = codec.HEADER.pack(size, 1, codec.CALL, 0) + b"\0" * 16
    with pytest.raises(FrameError):
        feed(FrameReader(), data)
