"""What both runner clients share: call ids, and how an answer (or its absence) reaches the
caller as a value or as one of the framework's exceptions."""

from __future__ import annotations

import itertools
import logging
from typing import Any

from ..exceptions import GatewayTimeout, RunnerError, ServiceUnavailable
from . import codec
from .address import Address

logger = logging.getLogger(__name__)


def answer(kind: int, buffers: list[memoryview], runner: str, method: str) -> Any:
    """Turn a RESULT or ERROR frame into the value (or the exception) the caller sees."""
    if kind == codec.RESULT:
        return codec.decode(kind, buffers)
    if kind != codec.ERROR:
        raise ServiceUnavailable(f"runner {runner!r} answered with an unexpected frame {kind}")
    error = codec.decode_error(buffers)
    if error["status"] == 401:
        raise ServiceUnavailable(
            f"runner {runner!r} refused this server: wrong or missing BENTOML_RUNNER_TOKEN"
        )
    if error["status"] == 503:
        # the runner shed the call (queue full, waited too long): retryable, with Retry-After
        raise ServiceUnavailable(
            f"runner {runner!r} method {method!r}: {error['message']}",
            detail={"runner": runner, "method": method},
        )
    raise RunnerError(
        f"runner {runner!r} method {method!r} raised {error['type']}: {error['message']}",
        detail={"exception": error["type"], "runner": runner, "method": method},
        status=error["status"],
    )


def unavailable(
    runner: str, address: Address, exc: BaseException, method: str | None = None
) -> ServiceUnavailable:
    """The 503 for a runner worker that cannot be reached. The client learns which runner (and
    method); the address (a private socket path with the supervisor's pid in it, or an internal
    host) and the error's text only go to the log."""
    logger.warning(
        "runner %r at %s is unavailable: %s: %s", runner, address.url, type(exc).__name__, exc
    )
    detail = {"runner": runner} if method is None else {"runner": runner, "method": method}
    named = f"runner {runner!r}" if method is None else f"runner {runner!r} method {method!r}"
    return ServiceUnavailable(
        f"{named} is unavailable ({type(exc).__name__}); retry shortly", detail=detail
    )


def unsendable(runner: str, method: str, exc: Exception) -> RunnerError:
    """The 500 for arguments that cannot be encoded (pickled) for the runner: a lambda, a
    lock, an open file, a class defined inside a function."""
    return RunnerError(
        f"runner {runner!r} method {method!r}: its arguments cannot be sent to the runner "
        f"({type(exc).__name__}: {exc})",
        detail={"exception": type(exc).__name__, "runner": runner, "method": method},
    )


def timed_out(runner: str, method: str, seconds: float) -> GatewayTimeout:
    return GatewayTimeout(
        f"runner {runner!r} method {method!r} did not answer within {seconds:g}s",
        detail={"runner": runner, "method": method, "timeout": seconds},
    )


class ConnectionLost(Exception):
    """The connection closed (or was aborted) before the answer arrived."""


_call_ids = itertools.count(1)


def next_call_id() -> int:
    return next(_call_ids) & 0xFFFFFFFF
