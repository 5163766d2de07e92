"""Frames as a transport sees them: the bytes chunks make on the wire, and a reader fed those
bytes the way a transport hands them over."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from bentoml_classic.protocol.frame_reader import FrameReader


def join(chunks: Iterable[Any]) -> bytes:
    """The bytes a transport's ``writelines(chunks)`` would put on the wire."""
    return b"".join(bytes(memoryview(chunk).cast("B")) for chunk in chunks)


def feed(
    reader: FrameReader, data: bytes, sizes: Iterator[int] | None = None
) -> list[tuple[int, int, list[memoryview]]]:
    """Hand ``data`` to the reader the way a transport does, at most ``next(sizes)`` at a time."""
    frames: list[tuple[int, int, list[memoryview]]] = []
    position = 0
    while position < len(data):
        buffer = reader.get_buffer(-1)
        assert len(buffer) > 0, "the reader offered no room to receive into"
        wanted = next(sizes) if sizes is not None else len(data)
        count = min(len(buffer), wanted, len(data) - position)
        buffer[:count] = data[position : position + count]
        frames += reader.buffer_updated(count)
        position += count
    return frames
