"""A sync function that runs on its event loop's thread, and gives the loop back while it waits.

A sync API function that has proved quick runs inline, on the API worker's loop thread
(``http/sync_calls.py``): no hand-off to a pool thread and back, which at concurrency 1 is a
visible share of a cheap request. Its one long wait is the runner's answer, and a blocking
receive there held the loop, and with it every probe, for as long as the runner took (up to
``runners.timeout`` when the model hangs).

So the function runs in a greenlet (``run_inline``). When the blocking client finds no answer
after a short hold (``wait_readable``), the greenlet switches back to the loop, which waits for
the socket (``add_reader``) while it serves everything else, and switches into the greenlet
again when the answer arrives or the call's time is up. The function never leaves the loop
thread and is never run twice; only its wait is shared with the loop. A quick answer arrives
within the hold, and costs one ``poll`` more than a plain receive. This is how SQLAlchemy's
asyncio layer runs its sync core over async drivers; the alternative, interrupting the function
and running it again elsewhere, would repeat its side effects.

While the greenlet runs, the loop is hidden (``running_loop.py``) and the caller's ``on_enter``
and ``on_leave`` are told, so that a watch can tell how long the loop thread is held; while it
waits, the loop is the thread's running loop as usual. A function that starts an event loop of
its own (``asyncio.run``) waits inside it as before: yielding from there would run two loops
on one thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any

from greenlet import GreenletExit, getcurrent, greenlet

from .running_loop import running_loop_or_none, set_running_loop

#: functions whose callers were cancelled while they waited, driven to their end
_detached: set[asyncio.Task[None]] = set()


class _InlineGreenlet(greenlet):  # type: ignore[misc]
    """Runs sync functions on its loop's thread, one after another (``_run_jobs``); between
    them it waits, parked, to be reused: making a greenlet costs ten times a switch."""


class _Idle(threading.local):
    """The parked greenlets of this thread (greenlets belong to the thread that made them), and
    how many of its functions are in progress (one whose caller was cancelled included)."""

    def __init__(self) -> None:
        self.greenlets: list[_InlineGreenlet] = []
        self.in_progress = 0


_idle = _Idle()


class _WaitReadable:
    """What the greenlet asks of the loop: wake me when ``fd`` is readable, or after ``timeout``."""

    __slots__ = ("fd", "timeout")

    def __init__(self, fd: int, timeout: float) -> None:
        self.fd = fd
        self.timeout = timeout


#: a job for the greenlet: the function, its arguments, the context to run it in
_Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], contextvars.Context]


def _run_jobs(job: _Job) -> None:
    """The body of an ``_InlineGreenlet``: run a job, hand its outcome to the loop (a tuple:
    ``(True, result)`` or ``(False, exception)``), wait for the next."""
    parent = getcurrent().parent
    while True:
        func, args, kwargs, context = job
        outcome: tuple[bool, Any]
        try:
            outcome = (True, context.run(func, *args, **kwargs))
        except GreenletExit:
            raise  # the greenlet is being thrown away (its thread or loop ended)
        except BaseException as exc:
            outcome = (False, exc)
        job = func = args = kwargs = context = None  # type: ignore[assignment]
        job = parent.switch(outcome)


def inline_in_progress() -> bool:
    """Whether a function run by ``run_inline`` on this thread has not yet returned (it waits):
    the blocking runner client keeps one connection per thread, which two would share."""
    return _idle.in_progress > 0


def on_loop_thread() -> bool:
    """Whether the caller is a function run by ``run_inline`` that may give the loop back now."""
    return type(getcurrent()) is _InlineGreenlet and running_loop_or_none() is None


def wait_readable(fd: int, timeout: float) -> bool:
    """Give the loop back until ``fd`` is readable (True) or ``timeout`` seconds pass (False).

    Only where ``on_loop_thread()`` is True."""
    current = getcurrent()
    ready: bool = current.parent.switch(_WaitReadable(fd, timeout))
    return ready


async def run_inline(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    on_enter: Callable[[], None],
    on_leave: Callable[[], None],
) -> Any:
    """``func(*args, **kwargs)`` on this thread, in a copy of the caller's context (as a pool
    thread would run it), giving the loop back wherever it calls ``wait_readable``.

    Cancelled while the function waits, it returns at once and the function goes on to its end
    in a task of its own, its result dropped, as a pool thread's call would."""
    idle = _idle.greenlets
    inline = idle.pop() if idle else _InlineGreenlet(_run_jobs)
    _idle.in_progress += 1
    loop = asyncio.get_running_loop()
    job = (func, args, kwargs, contextvars.copy_context())
    request = _enter(inline, loop, job, on_enter, on_leave)
    while isinstance(request, _WaitReadable):
        try:
            ready = await _readable(loop, request)
        except asyncio.CancelledError:
            task = loop.create_task(_finish(inline, loop, request, on_enter, on_leave))
            _detached.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(_detached.discard)
            raise
        request = _enter(inline, loop, ready, on_enter, on_leave)
    _park(inline)
    succeeded, value = request
    if succeeded:
        return value
    raise value


async def _finish(
    inline: _InlineGreenlet,
    loop: asyncio.AbstractEventLoop,
    request: Any,
    on_enter: Callable[[], None],
    on_leave: Callable[[], None],
) -> None:
    """Drive a function whose caller has gone to its end; its outcome is dropped."""
    while isinstance(request, _WaitReadable):
        request = _enter(inline, loop, await _readable(loop, request), on_enter, on_leave)
    _park(inline)


def _park(inline: _InlineGreenlet) -> None:
    """Its function has returned: keep the greenlet for the next."""
    _idle.in_progress -= 1
    _idle.greenlets.append(inline)


def _enter(
    inline: _InlineGreenlet,
    loop: asyncio.AbstractEventLoop,
    value: Any,
    on_enter: Callable[[], None],
    on_leave: Callable[[], None],
) -> Any:
    """Switch into the greenlet until its job is done (its outcome) or waits (a request)."""
    on_enter()
    set_running_loop(None)
    try:
        return inline.switch(value)
    finally:
        set_running_loop(loop)
        on_leave()


async def _readable(loop: asyncio.AbstractEventLoop, request: _WaitReadable) -> bool:
    if request.timeout <= 0:
        return False
    ready: asyncio.Future[bool] = loop.create_future()

    def wake(value: bool) -> None:
        if not ready.done():
            ready.set_result(value)

    loop.add_reader(request.fd, wake, True)
    timer = loop.call_later(request.timeout, wake, False)
    try:
        return await ready
    finally:
        timer.cancel()
        loop.remove_reader(request.fd)
