"""How a runner worker counts its requests (``bentoml_runner_request_*``).

A request is a frame: a CALL (which may carry several API calls that one API worker coalesced)
from its arrival until its answer is written, or a STREAM from its arrival until it ends. The
status is the HTTP status its answer stands for: 200, or its error's (a ``BentoMLException``'s
own, 500 for anything else), as classic's runner app answered over HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..exceptions import BentoMLException
from ..metrics.meters import RequestMeter
from .gathered_writes import FrameTransport

#: ``reply(result, error)``: answers one call
Reply = Callable[[Any, BaseException | None], None]
#: ``answer(result, error) -> (frames, status)``
AnswerWithStatus = Callable[[Any, BaseException | None], tuple[list[Any], int]]


def metered_reply(
    meter: RequestMeter, transport: FrameTransport, answer: AnswerWithStatus
) -> Reply:
    """The reply of a call, counted from now until it is answered."""
    meter.enter()
    started = time.perf_counter()

    def reply(result: Any, error: BaseException | None) -> None:
        frames, status = answer(result, error)
        if frames and not transport.is_closing():
            transport.writelines(frames)
        meter.leave(status, time.perf_counter() - started)

    return reply


def metered_stream(
    meter: RequestMeter,
    answer_error: Callable[[BaseException], list[Any]],
    on_done: Callable[[int], None],
) -> tuple[Callable[[BaseException], list[Any]], Callable[[int], None]]:
    """A stream's ``answer_error`` and ``on_done``, counting it from now until it ends; its
    status is its error's, else 200 (it ended, or its caller left)."""
    meter.enter()
    started = time.perf_counter()
    status = [200]

    def failed(error: BaseException) -> list[Any]:
        status[0] = error.http_status if isinstance(error, BentoMLException) else 500
        return answer_error(error)

    def done(call_id: int) -> None:
        on_done(call_id)
        meter.leave(status[0], time.perf_counter() - started)

    return failed, done
