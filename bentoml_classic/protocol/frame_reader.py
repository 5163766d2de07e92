"""Receiving frames: the bytes a connection reads, cut into the frames ``codec.py`` lays out.

Every frame lands in a buffer of its own, so the arrays decoded from it in place are aligned for
their dtype (``codec.py`` aligns each buffer to 16 bytes from the frame's start, and the
allocator aligns the frame's buffer). The peer is not trusted: a frame whose sizes do not add
up, or that is larger than the reader allows, is a ``FrameError``.
"""

from __future__ import annotations

from .codec import ALIGNMENT, BUFFER_LENGTH, HEADER, MAX_FRAME_SIZE, PREFIX_SIZE, FrameError


class FrameReader:
    """Incremental frame parser shaped for ``asyncio.BufferedProtocol`` (and blocking recv_into).

    The transport receives into ``get_buffer()``; ``buffer_updated(n)`` returns the frames that
    became complete. Small frames share one receive buffer (many per recv, one copy out each); a
    frame larger than that buffer gets its own bytearray that the kernel writes into directly, so
    big arrays are never copied on receipt. ``max_frame_size`` bounds what a peer can make us
    allocate.
    """

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE, buffer_size: int = 256 * 1024) -> None:
        self.max_frame_size = max_frame_size
        self._small = bytearray(buffer_size)
        self._start = 0
        self._end = 0
        self._large: bytearray | None = None
        self._large_filled = 0

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        if self._large is not None:
            return memoryview(self._large)[self._large_filled :]
        if self._start and len(self._small) - self._end < HEADER.size + 4096:
            pending = self._end - self._start
            self._small[:pending] = self._small[self._start : self._end]
            self._start, self._end = 0, pending
        return memoryview(self._small)[self._end :]

    def buffer_updated(self, nbytes: int) -> list[tuple[int, int, list[memoryview]]]:
        if self._large is not None:
            self._large_filled += nbytes
            if self._large_filled < len(self._large):
                return []
            whole, self._large = self._large, None
            return [_parse(memoryview(whole))]
        self._end += nbytes
        frames = []
        while self._end - self._start >= HEADER.size:
            size = HEADER.unpack_from(self._small, self._start)[0]
            if size > self.max_frame_size:
                raise FrameError(f"frame of {size} bytes exceeds the limit")
            if size < HEADER.size - PREFIX_SIZE:
                raise FrameError(f"frame size {size} is smaller than a frame header")
            total = size + PREFIX_SIZE
            available = self._end - self._start
            if available >= total:
                with memoryview(self._small) as view:
                    body = bytearray(view[self._start : self._start + total])
                frames.append(_parse(memoryview(body)))
                self._start += total
            elif total > len(self._small):
                self._large = bytearray(total)
                # memoryview to memoryview: a bytearray's slice assignment would copy the head
                # into a temporary bytearray first (up to the small buffer's size)
                with memoryview(self._small) as head, memoryview(self._large) as large:
                    large[:available] = head[self._start : self._end]
                self._large_filled = available
                self._start = self._end = 0
                break
            else:
                if total > len(self._small) - self._start:
                    self._small[:available] = self._small[self._start : self._end]
                    self._start, self._end = 0, available
                break
        if self._start == self._end:
            self._start = self._end = 0
        return frames


def _parse(frame_bytes: memoryview) -> tuple[int, int, list[memoryview]]:
    _size, call_id, kind, n_buffers = HEADER.unpack_from(frame_bytes)
    return call_id, kind, _split(frame_bytes, n_buffers)


def _split(frame_bytes: memoryview, n_buffers: int) -> list[memoryview]:
    offset = HEADER.size
    lengths_end = offset + BUFFER_LENGTH.size * n_buffers
    if lengths_end > len(frame_bytes):
        raise FrameError("frame too short for its buffer table")
    buffers = []
    position = lengths_end
    for i in range(n_buffers):
        length = BUFFER_LENGTH.unpack_from(frame_bytes, offset + BUFFER_LENGTH.size * i)[0]
        if length:
            position += -position % ALIGNMENT
        if position + length > len(frame_bytes):
            raise FrameError("buffer lengths do not add up to the frame size")
        buffers.append(frame_bytes[position : position + length])
        position += length
    if position != len(frame_bytes):
        raise FrameError("buffer lengths do not add up to the frame size")
    return buffers
