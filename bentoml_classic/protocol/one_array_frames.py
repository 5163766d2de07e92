"""Frames that carry one small plain array: a dependency call and its answer, most runner answers.

Such a frame differs from the last one of its kind, method, dtype and shape only in its call id
and the array's bytes: its lengths, its array header and its padding are the same. Those are
kept, by what they describe, so a frame is one ``HEADER.pack`` and one join, where
``codec.encode`` measures, pads and packs every piece again. A dependency hop encodes two such
frames per request that no batch shares (docs/benchmarks.md, composition). Any other payload,
and an array large enough to be sent from its own memory, goes through ``codec``.
"""

from __future__ import annotations

import pickle
from typing import Any

from . import codec, plain_arrays

#: by (kind, method, dtype, shape): the frame's body length, and its bytes between the header
#: and the array's. Bounded as plain_arrays' header caches are: cleared when full.
_PREFIXES: dict[tuple[int, str, Any, tuple[int, ...]], tuple[int, bytes]] = {}
_CACHE_SIZE = 1024
#: arrays from this size on are written from their own memory (``codec.frame``), not joined
_SMALL_BELOW = 64 * 1024


def encode_call(
    call_id: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], waited: float = 0.0
) -> list[Any]:
    """``codec.encode_call``, faster for a call of one small plain array that has not waited."""
    if len(args) == 1 and not kwargs and waited <= 0.0:
        frame = _one_array_frame(call_id, codec.CALL, method, args[0])
        if frame is not None:
            return frame
    return codec.encode_call(call_id, method, args, kwargs, waited)


def encode_result(call_id: int, result: Any) -> list[Any]:
    """``codec.encode(call_id, RESULT, result)``, faster for one small plain array."""
    frame = _one_array_frame(call_id, codec.RESULT, "", result)
    if frame is not None:
        return frame
    return codec.encode(call_id, codec.RESULT, result)


def _one_array_frame(call_id: int, kind: int, method: str, array: Any) -> list[Any] | None:
    if not plain_arrays.is_plain(array) or not array.flags.c_contiguous:
        return None
    data = pickle.PickleBuffer(array).raw()
    if data.nbytes >= _SMALL_BELOW or type(method) is not str or "\n" in method:
        return None
    key = (kind, method, array.dtype, array.shape)
    known = _PREFIXES.get(key)
    if known is None:
        known = _prefix(kind, method, array)
        if len(_PREFIXES) >= _CACHE_SIZE:
            _PREFIXES.clear()
        _PREFIXES[key] = known
    size, prefix = known
    return [b"".join((codec.HEADER.pack(size, call_id, kind, 2), prefix, data))]


def _prefix(kind: int, method: str, array: Any) -> tuple[int, bytes]:
    """What ``codec.frame`` writes between the header and the array, for any such array."""
    body = plain_arrays.body(method, [array])
    (whole,) = codec.frame(0, kind, body)
    nbytes = array.nbytes
    size = len(whole) - codec.PREFIX_SIZE
    return size, bytes(whole[codec.HEADER.size : len(whole) - nbytes])
