"""Every error the HTTP server sends is the same JSON envelope (DESIGN §3)."""

from __future__ import annotations

import json
import logging
import math
import traceback
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..exceptions import (
    BentoMLException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    RunnerError,
)

logger = logging.getLogger("bentoml_classic.server")

_STATUS_ERRORS: dict[int, type[BentoMLException]] = {404: NotFound, 405: MethodNotAllowed}

#: the OpenAPI schema of the envelope, referenced from every documented error response
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "description": "error class, e.g. BadInput"},
                "message": {"type": "string"},
                "detail": {"description": "where the problem is: a field, a shape, a position"},
            },
        }
    },
}


def error_response(exc: BentoMLException, headers: dict[str, str] | None = None) -> Response:
    body = envelope_text(exc.to_payload())
    if exc.retry_after is not None:
        headers = {**(headers or {}), "Retry-After": str(exc.retry_after)}
    return Response(body, exc.http_status, headers, media_type="application/json")


def from_user_exception(
    exc: BaseException, api_name: str, development: bool, request_id: str | None = None
) -> BentoMLException:
    """Turn what an API function raised into the error the client sees.

    BentoMLExceptions keep their status and message (a user may raise BadInput on purpose).
    Anything else is a 500 that names the exception's type and the request id; its message and
    traceback go to the server log under that id, and into the body only in development mode
    (messages carry paths, tokens, data). A runner method's own exception (a 500 ``RunnerError``)
    is treated the same way.
    """
    if isinstance(exc, RunnerError) and exc.http_status == 500:
        return _hidden(exc, api_name, development, request_id, exc.detail)
    if isinstance(exc, BentoMLException) and exc.answered_as_raised:
        return exc
    if isinstance(exc, HTTPException):
        return from_http_exception(exc)
    return _hidden(exc, api_name, development, request_id, {"exception": type(exc).__name__})


def _hidden(
    exc: BaseException, api_name: str, development: bool, request_id: str | None, detail: Any
) -> BentoMLException:
    """The 500 for an unexpected exception: logged whole, answered with its type only."""
    logger.error(
        "API %r raised %s (request %s): %s",
        api_name,
        type(exc).__name__,
        request_id,
        exc,
        exc_info=exc,
    )
    detail = dict(detail) if isinstance(detail, dict) else {"exception": type(exc).__name__}
    if request_id is not None:
        detail["request_id"] = request_id
    if development:
        detail["traceback"] = traceback.format_exception(exc)
        message = exc.message if isinstance(exc, BentoMLException) else f"{exc}"
        return _like(exc, f"API {api_name!r} raised {type(exc).__name__}: {message}", detail)
    who = f"API {api_name!r}"
    if isinstance(exc, RunnerError) and "runner" in detail and "method" in detail:
        who = f"runner {detail['runner']!r} method {detail['method']!r}"
    elif isinstance(exc, RunnerError) and "service" in detail and "api" in detail:
        who = f"service {detail['service']!r} API {detail['api']!r}"  # a dependency's API
    named = detail.get("exception", type(exc).__name__)
    where = f" (request id {request_id})" if request_id else ""
    return _like(exc, f"{who} raised {named}; the server log has the details{where}", detail)


def _like(exc: BaseException, message: str, detail: dict[str, Any]) -> BentoMLException:
    if isinstance(exc, RunnerError):
        return RunnerError(message, detail=detail, status=exc.http_status)
    return InternalServerError(message, detail=detail)


def from_http_exception(exc: HTTPException) -> BentoMLException:
    error_class = _STATUS_ERRORS.get(exc.status_code)
    if error_class is None:
        error = BentoMLException(exc.detail)
        error.status_code = exc.status_code  # type: ignore[misc]
        return error
    return error_class(exc.detail)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (and HTTPExceptions raised by routes) in our envelope."""
    assert isinstance(exc, HTTPException)
    error = from_http_exception(exc)
    if exc.status_code == 404:
        error = NotFound(f"no route {request.url.path!r}: see /docs.json for the APIs")
    elif exc.status_code == 405:
        headers = {key.lower(): value for key, value in (exc.headers or {}).items()}
        allowed = headers.get("allow", "")
        error = MethodNotAllowed(
            f"method {request.method} is not allowed on {request.url.path!r}; use {allowed}",
            detail={"allowed": [m.strip() for m in allowed.split(",") if m.strip()]},
        )
    return error_response(error, headers=dict(exc.headers) if exc.headers else None)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Last resort for a bug in the server itself: still the envelope, never a bare string.

    A BentoMLException that got this far (a body over the size limit, met by code that reads
    the body outside a descriptor) keeps its own status.
    """
    if isinstance(exc, BentoMLException):
        return error_response(exc)
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(
        InternalServerError(
            f"internal error: {type(exc).__name__}", detail={"exception": type(exc).__name__}
        )
    )


def envelope_text(payload: Any) -> str:
    """The envelope as strict JSON: a ``detail`` may quote a value the client sent, and a NaN or
    an infinity there would otherwise be written as ``NaN``, which JSON parsers refuse; those are
    written as strings instead. The common case pays one ``json.dumps``."""
    try:
        return json.dumps(payload, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(payload), default=str, ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
