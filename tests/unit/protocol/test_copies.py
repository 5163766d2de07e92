"""Bulk payloads cross to the runner as their own buffers: counted, not assumed.

A 10 MiB DataFrame or ndarray is encoded into a CALL frame, sent over a real socket pair the way
the blocking client sends (one ``sendmsg`` of the frame's chunks), received the way a runner
receives (``recv_into`` the reader's buffer) and decoded. ``tracemalloc`` counts what Python and
numpy allocate on the way (numpy reports its array memory to it): encoding may allocate only the
pickle's small header, receiving only the frame's own buffer, and decoding nothing the size of
the payload, because the decoded arrays are built on the received frame.
"""

from __future__ import annotations

import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.protocol import codec
from bentoml_classic.protocol.blocking_client import _send_all
from bentoml_classic.protocol.frame_reader import FrameReader

PAYLOAD_BYTES = 10 * 2**20
ROWS = PAYLOAD_BYTES // (8 * 8)  # eight float64 columns
#: what encoding a payload may allocate besides the payload: the pickle and the frame's header
ENCODE_LIMIT = 0.05
#: what receiving may allocate: the frame's buffer, which holds the payload, and the reader's
#: 256 KiB buffer for small frames (2.5 % of the payload), but no copy of the frame's head that
#: arrived in that buffer (which took it to 4.6-5.0 %)
RECEIVE_LIMIT = 1.035
#: what decoding may allocate once the frame is in: the objects around the arrays, not their data
DECODE_LIMIT = 0.2


class Allocations:
    """The most memory allocated at once, above what was allocated when counting began."""

    peak = 0


@contextmanager
def counting() -> Iterator[Allocations]:
    counted = Allocations()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        yield counted
        _, peak = tracemalloc.get_traced_memory()
        counted.peak = peak - start
    finally:
        tracemalloc.stop()


def columns(rows: int) -> dict[str, np.ndarray]:
    generator = np.random.default_rng(17)
    return {f"c{i}": generator.random(rows) for i in range(8)}


def numbers_and_strings() -> pd.DataFrame:
    """Six float columns, an integer one and a string one (pandas 3: Arrow-backed strings)."""
    frame = pd.DataFrame(dict(list(columns(ROWS).items())[:6]))
    frame["count"] = np.arange(ROWS)
    frame["label"] = pd.Series(np.arange(ROWS) % 1000).astype(str)
    return frame


PAYLOADS: dict[str, Callable[[], Any]] = {
    "frame from a 2-d array": lambda: pd.DataFrame(np.random.default_rng(1).random((ROWS, 8))),
    "frame from columns": lambda: pd.DataFrame(columns(ROWS)),
    "frame of numbers and strings": numbers_and_strings,
    "frame of records": lambda: pd.DataFrame(
        [dict.fromkeys((f"c{i}" for i in range(8)), 0.5)] * ROWS
    ),
    "C-ordered ndarray": lambda: np.random.default_rng(2).random((ROWS, 8)),
    "Fortran-ordered ndarray": lambda: np.asfortranarray(
        np.random.default_rng(3).random((ROWS, 8))
    ),
    "float32 ndarray": lambda: np.random.default_rng(4).random((ROWS, 16), dtype=np.float32),
}


def payload_bytes(value: Any) -> int:
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True, index=False).sum())
    return int(value.nbytes)


def receive(sock: socket.socket) -> tuple[int, list[memoryview]]:
    """One frame, read as a runner worker reads: into the reader's own buffer."""
    reader = FrameReader()
    while True:
        received = sock.recv_into(reader.get_buffer())
        assert received, "the sender closed before a whole frame arrived"
        frames = reader.buffer_updated(received)
        if frames:
            [(_, kind, buffers)] = frames
            return kind, buffers


def arrays_of(value: Any) -> list[np.ndarray]:
    if isinstance(value, pd.DataFrame):
        return [value[name].to_numpy() for name in value.columns if value[name].dtype.kind in "fi"]
    return [value]


@pytest.mark.parametrize("make_payload", PAYLOADS.values(), ids=list(PAYLOADS))
def test_a_ten_mib_payload_crosses_without_copies(make_payload: Callable[[], Any]) -> None:
    sent = make_payload()
    size = payload_bytes(sent)
    assert size >= PAYLOAD_BYTES * 0.9

    with counting() as encoding:
        chunks = codec.encode_call(1, "predict", (sent,), {})
    assert encoding.peak < ENCODE_LIMIT * size, f"encoding allocated {encoding.peak} bytes"

    sender, receiver = socket.socketpair()
    with sender, receiver:
        thread = threading.Thread(target=_send_all, args=(sender, chunks))
        with counting() as receiving:
            thread.start()
            kind, buffers = receive(receiver)
            thread.join()
        with counting() as decoding:
            method, (received,), kwargs, _ = codec.decode_call(kind, buffers)
    assert receiving.peak < RECEIVE_LIMIT * size, f"receiving allocated {receiving.peak} bytes"
    assert decoding.peak < DECODE_LIMIT * size, f"decoding allocated {decoding.peak} bytes"

    assert (method, kwargs) == ("predict", {})
    if isinstance(sent, pd.DataFrame):
        pd.testing.assert_frame_equal(received, sent)
    else:
        np.testing.assert_array_equal(received, sent)
    frame_memory = np.frombuffer(buffers[0].obj, dtype=np.uint8)
    for array in arrays_of(received):
        assert np.shares_memory(array, frame_memory), "a decoded array was copied off the frame"


def test_a_strided_ndarray_is_copied_once_and_decoded_in_place() -> None:
    """A view with steps (every other column) has no buffer of its own: it is made contiguous
    once, then travels like any other array, instead of as bytes inside the pickle (which
    cost a copy for the pickle, another for its result, and one more to decode)."""
    sent = np.random.default_rng(5).random((ROWS, 16))[:, ::2]
    size = sent.nbytes
    with counting() as encoding:
        chunks = codec.encode_call(1, "predict", (sent,), {})
    assert encoding.peak < (1 + ENCODE_LIMIT) * size, f"encoding allocated {encoding.peak} bytes"
    sender, receiver = socket.socketpair()
    with sender, receiver:
        thread = threading.Thread(target=_send_all, args=(sender, chunks))
        thread.start()
        kind, buffers = receive(receiver)
        thread.join()
    with counting() as decoding:
        _, (received,), _, _ = codec.decode_call(kind, buffers)
    assert decoding.peak < DECODE_LIMIT * size, f"decoding allocated {decoding.peak} bytes"
    np.testing.assert_array_equal(received, sent)
    assert np.shares_memory(received, np.frombuffer(buffers[0].obj, dtype=np.uint8))
