"""A frame taken apart as a peer would take it, without a socket: how a call to a dependency in
this process (development, ``init_local()``) crosses the same encoding as one to its workers,
so that a value that cannot cross in production fails the same way before it gets there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import codec
from .frame_reader import FrameReader
from .replies import answer, unsendable


def received(chunks: Sequence[bytes | memoryview]) -> tuple[int, list[memoryview]]:
    """The kind and buffers of the one frame ``chunks`` make, read with the peers' reader."""
    reader = FrameReader()
    data = memoryview(b"".join(bytes(chunk) for chunk in chunks))
    frames: list[tuple[int, int, list[memoryview]]] = []
    while data:
        buffer = reader.get_buffer(len(data))
        size = min(len(buffer), len(data))
        buffer[:size] = data[:size]
        frames += reader.buffer_updated(size)
        data = data[size:]
    (_call_id, kind, buffers) = frames[0]
    return kind, buffers


def crossed_call(
    peer: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` and ``kwargs`` as the peer's server would decode them; arguments that cannot
    be encoded are the error a client raises for them."""
    try:
        chunks = codec.encode_call(0, method, args, kwargs)
    except Exception as exc:
        raise unsendable(peer, method, exc) from exc
    kind, buffers = received(chunks)
    _method, crossed_args, crossed_kwargs, _waited = codec.decode_call(kind, buffers)
    return crossed_args, crossed_kwargs


def crossed_answer(frames: Sequence[bytes | memoryview], peer: str, method: str) -> Any:
    """The value (or the exception) a client would make of the answer ``frames``."""
    kind, buffers = received(frames)
    return answer(kind, buffers, peer, method)
