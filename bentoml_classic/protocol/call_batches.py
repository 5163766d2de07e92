"""Several calls in one frame, and their answers in one frame: a dependency hop's batches.

A runner call from an API worker is already a batch (``batching/caller_batchers.py``): one
frame, one encode, one decode and one timer for many requests. A dependency call
(``composition/``) is one call of the dependency's API function per request, so nothing joins
them. Here the transport does, and only the transport: the calls that one event loop turn
makes on one connection, to one method, each with one small plain array of one dtype and row
shape, leave as one CALLS frame that holds their arrays joined along the first axis and, for
each call, its id and its number of rows. The server splits the array into views and dispatches
each call as if it had come in a CALL frame of its own: its own task, its own answer, error,
timeout, cancellation and metrics. Its answers that are such arrays, gathered over a loop turn
on a connection that sent CALLS, go back the same way as one RESULTS frame.

A CALLS or RESULTS body::

    buffer 0: n x u32 call id, then n x u32 rows (big-endian)
    buffers 1, 2: a plain-array body (``plain_arrays.py``) of the joined array: the method's
                  name (empty in RESULTS), dtype and shape, then the array's bytes

A call that waited in a caller-side queue (CALL_AGED), a stream, a call of anything else and a
lone call in its turn travel as before. The peer must speak protocol version 6 (``codec.py``):
over TCP the token handshake checks that, and on the private Unix sockets of ``bentoml serve``
both ends are the one installation. What it saves is in docs/benchmarks.md (composition).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

from . import codec, one_array_frames, plain_arrays
from .gathered_writes import GatheredWrites

#: arrays from this size on are sent in frames of their own, from their own memory
_SMALL_BELOW = 64 * 1024
_TABLES: dict[int, struct.Struct] = {}


def joinable(value: Any) -> bool:
    """Whether ``value`` can travel joined with others: a small C-ordered plain array with rows."""
    return (
        plain_arrays.is_plain(value)
        and value.ndim >= 1
        and value.flags.c_contiguous
        and value.nbytes < _SMALL_BELOW
    )


def lone_array(args: tuple[Any, ...], kwargs: dict[str, Any], waited: float) -> Any:
    """The one array a call passes, if the call can share a CALLS frame; else None."""
    if len(args) == 1 and not kwargs and waited <= 0.0 and joinable(args[0]):
        return args[0]
    return None


def _table(count: int) -> struct.Struct:
    table = _TABLES.get(count)
    if table is None:
        table = struct.Struct(f"!{2 * count}I")
        if len(_TABLES) < 4096:  # counts seen are a loop turn's calls: few distinct ones
            _TABLES[count] = table
    return table


def encode(kind: int, method: str, call_ids: Sequence[int], arrays: Sequence[Any]) -> list[Any]:
    """A CALLS (or RESULTS, ``method`` empty) frame of ``arrays``, one per call id, all
    ``joinable`` and of one dtype and row shape."""
    import numpy as np

    rows = [array.shape[0] for array in arrays]
    table = _table(len(call_ids)).pack(*call_ids, *rows)
    joined = np.concatenate(arrays)
    return codec.frame(call_ids[0], kind, [table, *plain_arrays.body(method, [joined])])


def decode(buffers: list[memoryview]) -> tuple[str, list[tuple[int, Any]]]:
    """The method, and each call id with its array (a view of the frame's memory).

    FrameError if the id table is unreadable (nobody can be answered: the connection cannot
    be trusted); ``Undecodable``, naming the ids, if the arrays are malformed."""
    call_ids, rows = _ids_and_rows(buffers)
    try:
        method, (joined,) = plain_arrays.decode(buffers[1:])
        if joined.ndim == 0 or sum(rows) != joined.shape[0]:
            raise ValueError(f"rows of {len(rows)} calls do not add up to the array's")
    except (ValueError, TypeError) as exc:
        raise Undecodable(call_ids, exc) from exc
    calls = []
    start = 0
    for call_id, count in zip(call_ids, rows, strict=True):
        calls.append((call_id, joined[start : start + count]))
        start += count
    return method, calls


def _ids_and_rows(buffers: list[memoryview]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if len(buffers) != 3 or not len(buffers[0]) or len(buffers[0]) % 8:
        raise codec.FrameError("a batch frame needs a table of ids and rows, and one array")
    count = len(buffers[0]) // 8
    values = _table(count).unpack(buffers[0])
    return values[:count], values[count:]


class Undecodable(ValueError):
    """A CALLS frame whose ids are readable but whose arrays are not: each call is answered."""

    def __init__(self, call_ids: Sequence[int], cause: Exception) -> None:
        super().__init__(str(cause))
        self.call_ids = list(call_ids)


def _grouped(items: list[tuple[int, str, Any]]) -> dict[tuple[str, Any, Any], list[Any]]:
    groups: dict[tuple[str, Any, Any], list[Any]] = {}
    for item in items:
        array = item[2]
        groups.setdefault((item[1], array.dtype, array.shape[1:]), []).append(item)
    return groups


class _TurnGather:
    """A connection's joinable arrays of one loop turn (call id, method, array), written at its
    end (``flush``): a group of one as the frame it would have been alone, a larger group as
    one batch frame of ``_kind``."""

    __slots__ = ("_loop", "_pending", "_writes")
    _kind: int

    def __init__(self, writes: GatheredWrites, loop: asyncio.AbstractEventLoop) -> None:
        self._writes = writes
        self._loop = loop
        self._pending: list[tuple[int, str, Any]] | None = None

    def _gather(self, call_id: int, method: str, array: Any) -> None:
        if self._pending is None:
            self._pending = [(call_id, method, array)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append((call_id, method, array))

    def _alone(self, call_id: int, method: str, array: Any) -> list[Any]:
        raise NotImplementedError

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if not pending or self._writes.is_closing():
            return
        chunks: list[Any] = []
        for (method, _, _), group in _grouped(pending).items():
            if len(group) == 1:
                chunks += self._alone(*group[0])
            else:
                ids = [item[0] for item in group]
                chunks += encode(self._kind, method, ids, [item[2] for item in group])
        self._writes.writelines(chunks)
        self._writes.flush()  # this is the end of the turn already: no second one to wait for


class GatheredCalls(_TurnGather):
    """A client connection's joinable calls of one loop turn, sent as CALLS frames."""

    __slots__ = ()
    _kind = codec.CALLS

    def add(self, call_id: int, method: str, array: Any) -> None:
        self._gather(call_id, method, array)

    def _alone(self, call_id: int, method: str, array: Any) -> list[Any]:
        return one_array_frames.encode_call(call_id, method, (array,), {})


class GatheredResults(_TurnGather):
    """A server connection's joinable answers of one loop turn, sent as RESULTS frames."""

    __slots__ = ()
    _kind = codec.RESULTS

    def add(self, call_id: int, result: Any) -> bool:
        """Take ``result`` to answer ``call_id`` at the turn's end if it can travel joined."""
        if not joinable(result):
            return False
        self._gather(call_id, "", result)
        return True

    def _alone(self, call_id: int, method: str, array: Any) -> list[Any]:
        return one_array_frames.encode_result(call_id, array)
