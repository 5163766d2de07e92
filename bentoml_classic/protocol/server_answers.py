"""How a runner server answers a call: its result, or its error, as the frame that goes back.

A ``BentoMLException`` keeps its own type, message and status (the caller shows them); any other
error is logged here with its traceback and travels as a 500 naming its type. A result that
cannot be encoded is answered too (a 500 that says why), so a call never goes unanswered.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from ..exceptions import BentoMLException
from . import call_batches, codec, one_array_frames, user_classes
from .gathered_writes import FrameTransport

logger = logging.getLogger("bentoml_classic.runner_server")


def answer_frames(
    runner_name: str, call_id: int, method_name: str, result: Any, error: BaseException | None
) -> tuple[list[Any], int]:
    """The frame that answers a call, and the HTTP status it stands for (the metrics' code)."""
    if isinstance(error, BentoMLException):
        frames = codec.encode_error(call_id, error.error_type, error.message, error.http_status)
        return frames, error.http_status
    if error is not None:
        logger.error(
            "runner %s.%s raised",
            runner_name,
            method_name,
            exc_info=(type(error), error, error.__traceback__),
        )
        return codec.encode_error(call_id, type(error).__name__, str(error), 500), 500
    try:
        return one_array_frames.encode_result(call_id, result), 200
    except Exception as exc:
        hint = ""
        if inspect.isgenerator(result) or inspect.isasyncgen(result):
            hint = f" (a generator: call it with runner.{method_name}.async_stream(...))"
        message = f"result of {method_name!r} cannot be sent back: {exc}{hint}"
        return codec.encode_error(call_id, type(exc).__name__, message, 500), 500


def undecodable(call_id: int, exc: Exception) -> list[Any]:
    """The answer to a call whose body cannot be decoded: the caller's mistake (400), unless it
    names a class this process does not have, which is how the service is deployed (500)."""
    status = 500 if isinstance(exc, user_classes.UnknownClass) else 400
    return codec.encode_error(call_id, type(exc).__name__, f"undecodable call: {exc}", status)


def joined_or_alone(
    results: call_batches.GatheredResults,
    call_id: int,
    answer: Callable[[Any, BaseException | None], tuple[list[Any], int]],
    result: Any,
    error: BaseException | None,
) -> tuple[list[Any], int]:
    """No frame now for a result that leaves joined with its turn's others; else ``answer``."""
    if error is None and results.add(call_id, result):
        return [], 200
    return answer(result, error)


def unmetered_reply(
    transport: FrameTransport,
    answer: Callable[[Any, BaseException | None], tuple[list[Any], int]],
    result: Any,
    error: BaseException | None,
) -> None:
    """A reply that is not counted in metrics (``server_metrics.py`` has the counted one)."""
    frames, _ = answer(result, error)
    if frames and not transport.is_closing():
        transport.writelines(frames)
