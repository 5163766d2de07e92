"""The runner wire format: one call or one result is one frame, arrays travel as raw buffers.

Frame layout (all integers big-endian)::

    u32 body_length | u32 call_id | u8 kind | u16 n_buffers | n_buffers x u64 length | buffers...

Each non-empty buffer starts at a multiple of 16 bytes from the start of the frame (zero bytes
pad the gap before it; the lengths do not count them). Readers (``frame_reader.py``) receive
every frame into a buffer of its own, which the allocator aligns to 16, so arrays decoded in
place are aligned for their dtype: no copy, and no slow unaligned paths in the libraries they
are handed to.

The first buffer is a pickle (protocol 5) stream; the others are the out-of-band buffers that
pickle handed to ``buffer_callback``: numpy arrays (and so pandas blocks) are written straight
from their memory, never base64-encoded and never pickled twice. Torch CPU tensors are reduced to
numpy arrays that share their memory, so they travel the same way.

The common case, a call whose arguments are all plain numeric numpy arrays (and a result that is
one), skips pickle (``plain_arrays.py``).

A class is found by the name pickle recorded (``module.qualname``); one that is not there (it
was pickled where its module ran as ``__main__``, or had another name) is looked up among the
user's modules, only after a failed load (``user_classes.py``).

Errors are not pickled: a result of kind ERROR carries a small JSON object (type, message,
status), so an API worker never has to import a runner's exception classes to report them.

Streams (a generator method, ``runner.x.async_stream()`` / ``stream()``), all frames of one
stream carrying the call id of its STREAM frame::

    caller                                     runner
    STREAM   (a CALL's body)          ->
                                      <-       CHUNK    (one item; a RESULT's body)
                                      <-       CHUNK    ...
    CREDIT   (u32: chunks consumed)   ->
                                      <-       END      (empty)  or  ERROR (ends it too)
    CANCEL   (empty; the caller left) ->       the generator is closed

Each chunk is sent as soon as the generator yields it, while the runner has credit: at most
``STREAM_WINDOW`` chunks unacknowledged (the caller hands credit back every ``CREDIT_EVERY``
chunks its consumer takes). A slow consumer so holds up the generator, not memory, at either
end. An ERROR after chunks ends the stream with the generator's exception; a CANCEL (or a lost
connection) closes the generator, so its ``finally`` blocks run.
"""

from __future__ import annotations

import copyreg
import io
import json
import pickle
import struct
import sys
from collections.abc import Sequence
from typing import Any

from . import plain_arrays, user_classes

HEADER = struct.Struct("!IIBH")
BUFFER_LENGTH = struct.Struct("!Q")
#: bytes of a frame before its body: body_length is not counted in itself
PREFIX_SIZE = 4

# frame kinds
CALL = 1
RESULT = 2
ERROR = 3
PING = 4
PONG = 5
HELLO = 6
#: sent by the API worker answering ``/metrics``: the runner worker writes the figures it holds
#: (metrics/meters.py) and answers with a RESULT frame holding bytes: empty, or, when the frame's
#: one buffer is ``METRICS_TEXT``, the Prometheus text of its deployment (asked of a runner
#: server started on its own, whose metrics directory the API workers cannot read)
METRICS = 7
METRICS_TEXT = b"text"
#: a CALL whose calls have already waited in the caller's own batching queue: its first buffer
#: is that wait (u64 microseconds, the oldest call's), the rest is a CALL body. The runner's
#: queue counts ``max_latency_ms`` from when the calls were made, not from when the frame came
CALL_AGED = 8
WAITED = struct.Struct("!Q")
#: streams (see the module's docstring)
STREAM = 9
CHUNK = 10
END = 11
CREDIT = 12
CANCEL = 13
#: chunks a runner may send ahead of the caller's consumer
STREAM_WINDOW = 16
#: a caller hands back credit once its consumer has taken this many chunks
CREDIT_EVERY = STREAM_WINDOW // 2
CREDIT_COUNT = struct.Struct("!I")
#: several calls of one method in one frame, and their answers in one frame
#: (``call_batches.py``): each call keeps its own id inside
CALLS = 14
RESULTS = 15

MAX_FRAME_SIZE = 2**32 - 1

#: sent in HELLO after the token: the two tiers of a two-tier deployment must speak the same
#: frame layout (2: buffers aligned to 16 bytes; 3: CALL_AGED; 4: streams; 5: METRICS writes
#: the figures and answers with bytes instead of batch-size snapshots; 6: CALLS and RESULTS),
#: and a mismatch should say so
PROTOCOL_VERSION = b"bentoml_classic-runner/6"


class FrameError(Exception):
    """The peer sent bytes that are not a valid frame; the connection cannot be trusted."""


def _rebuild_torch_tensor(array: Any) -> Any:
    import torch

    return torch.from_numpy(array)


def _reduce_torch_tensor(tensor: Any) -> Any:
    """A CPU tensor travels as the numpy array sharing its memory (out of band, no copy)."""
    plain = tensor.detach()
    if plain.device.type == "cpu" and str(plain.layout) == "torch.strided":
        try:
            return _rebuild_torch_tensor, (plain.numpy(),)
        except (RuntimeError, TypeError):  # dtypes numpy lacks (bfloat16), conjugate views
            pass
    return tensor.__reduce_ex__(5)


def _dispatch_table() -> dict[type, Any] | None:
    """Reducers for torch tensors, once torch has been imported by someone else.

    A dispatch table is looked up in C; a ``reducer_override`` method would be a Python call for
    every object pickled, which costs more than the whole encode of a small request.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return {**copyreg.dispatch_table, torch.Tensor: _reduce_torch_tensor}


def _pickle(payload: Any, buffers: list[pickle.PickleBuffer]) -> bytes | memoryview:
    table = _dispatch_table()
    if table is None:
        return pickle.dumps(payload, protocol=5, buffer_callback=buffers.append)
    stream = io.BytesIO()
    pickler = pickle.Pickler(stream, protocol=5, buffer_callback=buffers.append)
    pickler.dispatch_table = table
    pickler.dump(payload)
    return stream.getbuffer()


#: where each buffer of a frame starts: a multiple of this many bytes from the frame's start
ALIGNMENT = 16


def _fast_body(kind: int, payload: Any) -> list[Any] | None:
    """The header-plus-arrays body for payloads that are only plain arrays, else None."""
    if kind in (RESULT, CHUNK):
        return plain_arrays.body("", [payload]) if plain_arrays.is_plain(payload) else None
    if kind == CALL and type(payload) is tuple and len(payload) == 3:
        method, args, kwargs = payload
        plain = not kwargs and args and all(plain_arrays.is_plain(arg) for arg in args)
        if plain and type(method) is str and "\n" not in method:
            return plain_arrays.body(method, args)
    return None


def encode(call_id: int, kind: int, payload: Any) -> list[bytes | memoryview]:
    """Encode ``payload`` into a frame: a list of chunks to hand to ``writelines`` as they are."""
    return frame(call_id, kind, _body(kind, payload))


def encode_call(
    call_id: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], waited: float = 0.0
) -> list[bytes | memoryview]:
    """A CALL frame, or a CALL_AGED one when its calls have already waited ``waited`` seconds."""
    body = _body(CALL, (method, args, kwargs))
    if waited <= 0.0:
        return frame(call_id, CALL, body)
    return frame(call_id, CALL_AGED, [WAITED.pack(round(waited * 1_000_000)), *body])


def encode_stream_call(
    call_id: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[bytes | memoryview]:
    """A STREAM frame: a call whose answer is a stream of CHUNK frames."""
    return frame(call_id, STREAM, _body(CALL, (method, args, kwargs)))


def credit(call_id: int, count: int) -> list[Any]:
    return frame(call_id, CREDIT, [CREDIT_COUNT.pack(count)])


def decode_credit(buffers: list[memoryview]) -> int:
    if len(buffers) != 1 or len(buffers[0]) != CREDIT_COUNT.size:
        raise FrameError("CREDIT frame without its 4-byte count")
    count: int = CREDIT_COUNT.unpack(buffers[0])[0]
    return count


def empty_frame(call_id: int, kind: int) -> list[Any]:
    """A frame with nothing to say but its kind (END, CANCEL, PING, ...)."""
    return frame(call_id, kind, [b""])


def decode_call(
    kind: int, buffers: list[memoryview]
) -> tuple[str, tuple[Any, ...], dict[str, Any], float]:
    """A CALL or CALL_AGED frame's method, arguments and wait so far (seconds)."""
    if kind != CALL_AGED:
        method, args, kwargs = decode(CALL, buffers)
        return method, args, kwargs, 0.0
    if not buffers or len(buffers[0]) != WAITED.size:
        raise FrameError("CALL_AGED frame without its 8-byte wait")
    (micros,) = WAITED.unpack(buffers[0])
    method, args, kwargs = decode(CALL, buffers[1:])
    return method, args, kwargs, micros / 1_000_000


def _body(kind: int, payload: Any) -> list[Any]:
    fast = _fast_body(kind, payload)
    if fast is not None:
        return fast
    buffers: list[pickle.PickleBuffer] = []
    chunks: list[Any] = [_pickle(payload, buffers)]
    chunks += [buffer.raw() for buffer in buffers]
    return chunks


def hello(call_id: int, token: bytes) -> list[Any]:
    """The first frame on a TCP connection: the shared token, then the protocol spoken."""
    return frame(call_id, HELLO, [token, PROTOCOL_VERSION])


def encode_error(call_id: int, error_type: str, message: str, status: int) -> list[bytes]:
    body = json.dumps({"type": error_type, "message": message, "status": status}).encode()
    return frame(call_id, ERROR, [body])


#: chunks smaller than this are copied into one contiguous piece: one write, one wakeup of the
#: peer, instead of a syscall (and possibly a partial read) per chunk
_COALESCE_BELOW = 64 * 1024


#: packs the buffer lengths of a frame of so many buffers (a call's is measured inline: hot)
_LENGTHS = [struct.Struct(f"!{count}Q") for count in range(8)]


def frame(call_id: int, kind: int, chunks: Sequence[bytes | memoryview]) -> list[Any]:
    """The frame as a short list of chunks: small pieces joined, large buffers left in place."""
    lengths = [chunk.nbytes if type(chunk) is memoryview else len(chunk) for chunk in chunks]
    count = len(lengths)
    position = HEADER.size + BUFFER_LENGTH.size * count
    packer = _LENGTHS[count] if count < len(_LENGTHS) else struct.Struct(f"!{count}Q")
    pieces: list[Any] = [None, packer.pack(*lengths)]
    large = False
    for chunk, length in zip(chunks, lengths, strict=True):
        if length:
            padding = -position % ALIGNMENT
            if padding:
                pieces.append(_ZEROS[:padding])
            position += padding + length
            pieces.append(chunk)
            if length >= _COALESCE_BELOW:
                large = True
    size = position - PREFIX_SIZE
    if size > MAX_FRAME_SIZE:
        raise ValueError(f"payload of {size} bytes is larger than a frame can carry (4 GiB)")
    pieces[0] = HEADER.pack(size, call_id, kind, count)
    if not large:
        return [b"".join(pieces)]
    return _coalesce_small(pieces)


def _nbytes(chunk: Any) -> int:
    return chunk.nbytes if type(chunk) is memoryview else len(chunk)


def _coalesce_small(pieces: list[Any]) -> list[Any]:
    """Runs of small pieces joined into one, large ones left as they are (never copied)."""
    joined: list[Any] = []
    run: list[Any] = []
    for piece in pieces:
        if _nbytes(piece) < _COALESCE_BELOW:
            run.append(piece)
            continue
        if run:
            joined.append(b"".join(run))
            run = []
        joined.append(piece)
    if run:
        joined.append(b"".join(run))
    return joined


_ZEROS = bytes(ALIGNMENT)


def decode(kind: int, buffers: list[memoryview]) -> Any:
    """The payload of a CALL, RESULT or CHUNK frame (STREAM: decode it as a CALL), with numpy
    arrays built on the received memory."""
    if not buffers:
        raise FrameError(f"frame of kind {kind} has no body")
    if len(buffers[0]) and buffers[0][0] == plain_arrays.MARKER:
        try:
            method, arrays = plain_arrays.decode(buffers)
        except (ValueError, TypeError) as exc:
            raise FrameError(f"malformed array frame: {exc}") from exc
        return (method, arrays, {}) if kind == CALL else arrays[0]
    try:
        return pickle.loads(buffers[0], buffers=buffers[1:])
    except (AttributeError, ImportError):
        # a class not where the pickle says: look for it among the user's modules
        return user_classes.unpickle(buffers[0], buffers[1:])


def decode_error(buffers: list[memoryview]) -> dict[str, Any]:
    try:
        error = json.loads(bytes(buffers[0]))
        return {
            "type": str(error["type"]),
            "message": str(error["message"]),
            "status": int(error["status"]),
        }
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise FrameError(f"malformed error frame: {exc}") from exc
