"""Frames of one small plain array, built from a kept prefix: the very bytes ``codec`` writes,
whatever the array, and ``codec``'s own path for everything else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bentoml_classic.protocol import codec, one_array_frames
from bentoml_classic.protocol.frame_reader import FrameReader
from tests.unit.protocol.wire import feed, join

ARRAYS = [
    np.array([[5.9, 3, 5.1, 1.8]]),
    np.array([2]),
    np.arange(12, dtype=np.int32).reshape(3, 4),
    np.array([True, False, True]),
    np.array([1 + 2j], dtype=np.complex64),
    np.array(3.5),  # 0-d
    np.zeros((0, 4)),  # empty
    np.zeros((3, 0, 2), dtype=np.uint8),  # empty, several dimensions
    np.arange(7, dtype=">i4"),  # big-endian: its dtype travels as it is
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype.str}-{a.shape}")
def test_same_bytes_as_codec_and_the_same_array_back(array: np.ndarray) -> None:
    for _ in range(2):  # the first builds the prefix, the second uses it
        call = one_array_frames.encode_call(11, "predict", (array,), {})
        assert join(call) == join(codec.encode_call(11, "predict", (array,), {}))
        result = one_array_frames.encode_result(12, array)
        assert join(result) == join(codec.encode(12, codec.RESULT, array))
    ((call_id, kind, buffers),) = feed(FrameReader(), join(result))
    assert (call_id, kind) == (12, codec.RESULT)
    received = codec.decode(kind, buffers)
    assert received.dtype == array.dtype and received.shape == array.shape
    np.testing.assert_array_equal(received, array)
    ((_, kind, buffers),) = feed(FrameReader(), join(call))
    method, args, kwargs, waited = codec.decode_call(kind, buffers)
    assert (method, kwargs, waited) == ("predict", {}, 0.0)
    np.testing.assert_array_equal(args[0], array)


def test_values_and_call_ids_change_under_one_prefix() -> None:
    first = np.array([[1.0, 2.0, 3.0, 4.0]])
    second = np.array([[5.0, 6.0, 7.0, 8.0]])
    one_array_frames.encode_call(1, "predict", (first,), {})
    frame = join(one_array_frames.encode_call(2**32 - 1, "predict", (second,), {}))
    assert frame == join(codec.encode_call(2**32 - 1, "predict", (second,), {}))


@pytest.mark.parametrize(
    ("args", "kwargs", "waited"),
    [
        ((np.arange(8.0)[::2],), {}, 0.0),  # strided: codec copies it
        ((np.asfortranarray(np.arange(6.0).reshape(2, 3)),), {}, 0.0),  # pickled, as it is
        ((np.zeros(70_000, dtype=np.uint8),), {}, 0.0),  # large: sent from its own memory
        ((np.array(["a"]),), {}, 0.0),  # not a plain dtype: pickled
        ((np.array([1.0]), np.array([2.0])), {}, 0.0),  # two arrays
        ((np.array([1.0]),), {"scale": 2}, 0.0),  # keyword arguments
        ((np.array([1.0]),), {}, 0.25),  # a call that waited in a batching queue
        (([1, 2],), {}, 0.0),  # not an array
    ],
)
def test_anything_else_is_codecs_frame(
    args: tuple[Any, ...], kwargs: dict[str, Any], waited: float
) -> None:
    got = one_array_frames.encode_call(3, "m", args, kwargs, waited)
    assert join(got) == join(codec.encode_call(3, "m", args, kwargs, waited))
    if len(args) == 1:
        result = one_array_frames.encode_result(4, args[0])
        assert join(result) == join(codec.encode(4, codec.RESULT, args[0]))


def test_a_method_name_with_a_newline_is_pickled() -> None:
    array = np.array([1.0])
    got = join(one_array_frames.encode_call(5, "a\nb", (array,), {}))
    assert got == join(codec.encode_call(5, "a\nb", (array,), {}))
    ((_, kind, buffers),) = feed(FrameReader(), got)
    assert codec.decode_call(kind, buffers)[0] == "a\nb"
