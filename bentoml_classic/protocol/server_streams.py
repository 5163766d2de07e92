"""The runner side of streams: a generator method's items leave as CHUNK frames as they come.

A STREAM frame (``codec``'s docstring has the frames) asks for one. The method is called in the
model lane (``batching/model_lane.py``) like any call. What it returns decides how the items are
taken:

- a generator (or any iterable): each item is one lane job, ``next()`` on the lane's thread or,
  once the method has proved quick, on the loop thread. Between two items other calls' jobs run,
  so a long stream (tokens of a language model) does not hold the model away from every other
  call for its whole length, and the runnable is still called from one thread at a time;
- an async generator: it is iterated by a task on the runner's event loop, as classic BentoML
  ran async methods, interleaved with the loop's other work.

No item is taken while the caller is out of credit (``codec.STREAM_WINDOW`` chunks sent and not
yet handed back), so a slow consumer pauses the generator instead of filling memory. The
generator is closed, in the lane as well, when the caller cancels the stream or its connection
goes; its ``finally`` blocks therefore run whichever way the stream ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

from ..batching.inline_batcher import call_alone
from ..batching.model_lane import Lane
from ..generators import aclose_iterator, close_iterator, stream_source
from . import codec

logger = logging.getLogger("bentoml_classic.runner_server")

#: ``send(chunks)`` writes a frame to the caller's connection (nothing once it is closing);
#: ``answer_error(error)`` is the ERROR frame that ends the stream with ``error``
Send = Callable[[list[Any]], None]
AnswerError = Callable[[BaseException], list[Any]]

_ITEM, _END, _RAISED = 0, 1, 2


def _advance(source: Iterator[Any]) -> tuple[int, Any]:
    """One step of a generator, as lane work (which must not raise)."""
    try:
        return _ITEM, next(source)
    except StopIteration:
        return _END, None
    except Exception as exc:
        return _RAISED, exc


def _close_quietly(source: Iterator[Any], method: str) -> None:
    try:
        close_iterator(source)
    except Exception:
        logger.exception("closing the stream of %s raised", method)


class ServerStream:
    """One stream in progress: a call id, its generator and the caller's credit."""

    def __init__(
        self,
        call_id: int,
        method: str,
        lane: Lane,
        send: Send,
        answer_error: AnswerError,
        on_done: Callable[[int], None],
    ) -> None:
        self.call_id = call_id
        self.method = method
        self._lane = lane
        self._send = send
        self._answer_error = answer_error
        self._on_done = on_done
        self._credit = codec.STREAM_WINDOW
        self._source: Iterator[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._credit_came: asyncio.Event | None = None
        #: a lane job of this stream is queued or running: it looks at ``_done`` when it ends
        self._in_lane = False
        #: parked until credit comes
        self._parked = False
        #: ended (END or ERROR sent) or cancelled: no more frames, the generator is closed
        self._done = False

    # -- the caller's frames ---------------------------------------------------------------

    def start(
        self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._in_lane = True
        work = (partial(call_alone, func, args, kwargs), self._called)
        self._lane.submit(self.method, lambda: work)

    def add_credit(self, count: int) -> None:
        self._credit += count
        if self._credit_came is not None:
            self._credit_came.set()
        if self._parked and not self._done:
            self._parked = False
            self._next_item()

    def cancel(self) -> None:
        """The caller left (CANCEL, or its connection closed): close the generator."""
        if self._done:
            return
        self._end()
        if self._task is not None:
            self._task.cancel()  # the task closes the async generator on its way out
        elif self._source is not None and not self._in_lane:
            self._close_source()
        # else a job of ours is in the lane: it sees _done when it lands and closes then

    # -- a generator ------------------------------------------------------------------------

    def _called(self, outcome: tuple[Any, BaseException | None]) -> None:
        self._in_lane = False
        produced, error = outcome
        if error is not None:
            self._fail(error)
            return
        try:
            source = stream_source(produced, self.method)
        except TypeError as exc:
            self._fail(exc)
            return
        if isinstance(source, Iterator):
            self._source = source
            if self._done:  # cancelled while the method ran
                self._close_source()
            else:
                self._next_item()
        elif self._done:  # cancelled while the method ran
            self._task = asyncio.ensure_future(aclose_iterator(source))
        else:
            self._task = asyncio.ensure_future(self._pump(source))

    def _next_item(self) -> None:
        if self._credit <= 0:
            self._parked = True
            return
        self._in_lane = True
        self._lane.submit(self.method, self._prepare_step)

    def _prepare_step(self) -> tuple[Callable[[], Any], Callable[[Any], None]]:
        assert self._source is not None
        if self._done:  # cancelled while this job waited for the lane
            return partial(_close_quietly, self._source, self.method), self._closed
        return partial(_advance, self._source), self._stepped

    def _stepped(self, outcome: tuple[int, Any]) -> None:
        self._in_lane = False
        status, value = outcome
        if self._done:
            if status == _ITEM:
                self._close_source()
            return
        if status == _END:
            self._end(codec.empty_frame(self.call_id, codec.END))
        elif status == _RAISED:
            self._fail(value)
        elif self._send_item(value):
            self._next_item()
        else:
            self._close_source()

    def _close_source(self) -> None:
        assert self._source is not None
        self._in_lane = True
        work = (partial(_close_quietly, self._source, self.method), self._closed)
        self._lane.submit(self.method, lambda: work)

    def _closed(self, _: Any) -> None:
        self._in_lane = False
        self._source = None

    # -- an async generator -----------------------------------------------------------------

    async def _pump(self, source: AsyncIterator[Any]) -> None:
        self._credit_came = asyncio.Event()
        try:
            while not self._done:
                if self._credit <= 0:
                    self._credit_came.clear()
                    await self._credit_came.wait()
                    continue
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    self._end(codec.empty_frame(self.call_id, codec.END))
                    return
                if not self._send_item(item):
                    return
        except asyncio.CancelledError:
            pass  # cancel(): the caller left
        except Exception as exc:
            self._fail(exc)
        finally:
            try:
                await aclose_iterator(source)
            except Exception:
                logger.exception("closing the stream of %s raised", self.method)

    # -- answers ----------------------------------------------------------------------------

    def _send_item(self, item: Any) -> bool:
        """Send one CHUNK; False (and the stream ended with an ERROR) if it cannot be sent."""
        try:
            chunks = codec.encode(self.call_id, codec.CHUNK, item)
        except Exception as exc:
            self._fail(
                TypeError(
                    f"an item of the stream of {self.method!r} cannot be sent back: "
                    f"{type(exc).__name__}: {exc}"
                )
            )
            return False
        self._credit -= 1
        self._send(chunks)
        return True

    def _fail(self, error: BaseException) -> None:
        self._end(self._answer_error(error))

    def _end(self, last_frame: list[Any] | None = None) -> None:
        if self._done:
            return
        self._done = True
        if last_frame is not None:
            self._send(last_frame)
        self._on_done(self.call_id)
