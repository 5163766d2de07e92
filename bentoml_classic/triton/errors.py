"""Triton's errors as this package's: what a client of the API sees when a Triton call fails.

- a wrong shape or dtype, an input the model does not have or one it lacks, a model the server
  does not know: ``BadInput`` (400) naming the model and the input;
- a model that is not ready (unloaded, still loading): ``ServiceUnavailable`` (503);
- Triton unreachable (not started yet, being restarted): ``ServiceUnavailable`` naming the
  runner, with Retry-After; the address and the client's text go to the log only;
- past ``runners.timeout``: ``GatewayTimeout`` (504);
- anything else (the model's ``execute`` raised): ``RunnerError`` (500), whose message the
  server keeps to its log unless ``--development``.
"""

from __future__ import annotations

import logging
import re

from ..exceptions import (
    BadInput,
    BentoMLException,
    GatewayTimeout,
    RunnerError,
    ServiceUnavailable,
    excerpt,
)

logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^\[request id: [^\]]*\]\s*")
_INPUT_NAME = re.compile(r"input(?:\(s\))? \[?'([^']+)'")
#: what a status says, per protocol: gRPC's codes and HTTP's
_BAD_REQUEST = {"StatusCode.INVALID_ARGUMENT", "StatusCode.NOT_FOUND", "400", "404"}
_UNAVAILABLE = {"StatusCode.UNAVAILABLE", "503"}
_TIMEOUT = {"StatusCode.DEADLINE_EXCEEDED", "504"}
#: what Triton says (with a 400 / NOT_FOUND) of a model it knows that has no version loaded: an
#: unloaded model, or one still loading; "is not found" is a model it does not know
_NOT_READY = "has no available versions"


def unreachable(runner: str, exc: BaseException) -> ServiceUnavailable:
    logger.warning("Triton runner %r is unreachable: %s: %s", runner, type(exc).__name__, exc)
    return ServiceUnavailable(
        f"Triton runner {runner!r} is unavailable; retry shortly", detail={"runner": runner}
    )


def bad_call(runner: str, model: str, message: str, input_name: str | None) -> BadInput:
    detail: dict[str, str] = {"runner": runner, "model": model}
    if input_name is not None:
        detail["input"] = input_name
    return BadInput(excerpt(message), detail=detail)


def input_named(message: str) -> str | None:
    """The input a Triton message (or ours) is about, if it names one."""
    named = _INPUT_NAME.search(message)
    return named[1] if named else None


def from_triton(runner: str, model: str, exc: Exception, timeout: float) -> BentoMLException:
    """The error to raise for ``exc``, which a call for ``model`` raised."""
    status = str(getattr(exc, "status", lambda: None)() or "")
    message = _REQUEST_ID.sub("", str(getattr(exc, "message", lambda: exc)() or exc))
    # Triton's advice to whoever wrote config.pbtxt ("NOTE: Setting a non-zero max_batch_size
    # ...") is not the client's business, and would push the rest out of the excerpt
    message = message.split(" NOTE: ")[0]
    if _NOT_READY in message:  # Triton knows the model, but no version is loaded (yet)
        return ServiceUnavailable(
            f"Triton runner {runner!r}: model {model!r} is not ready",
            detail={"runner": runner, "model": model},
        )
    if status in _BAD_REQUEST:
        return bad_call(runner, model, message, input_named(message))
    if status in _TIMEOUT or "Deadline Exceeded" in message:
        return GatewayTimeout(
            f"Triton runner {runner!r} model {model!r} did not answer within {timeout:g}s",
            detail={"runner": runner, "model": model, "timeout": timeout},
        )
    if status in _UNAVAILABLE or not status:
        if "failed to connect" in message or "Connection refused" in message or not status:
            return unreachable(runner, exc)
        return ServiceUnavailable(
            f"Triton runner {runner!r}: model {model!r} is not ready: {excerpt(message)}",
            detail={"runner": runner, "model": model},
        )
    return RunnerError(
        f"Triton runner {runner!r} model {model!r} failed: {excerpt(message)}",
        detail={"exception": "InferenceServerException", "runner": runner, "model": model},
    )
