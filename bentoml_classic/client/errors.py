"""What the client raises, and how an HTTP answer or an httpx failure becomes one of them.

    ClientError (a BentoMLException)        anything about a call the client made
    ├── ServiceDescriptionError             /docs.json missing, unreadable, or not a service's
    ├── ClientConnectionError               no answer: refused, reset, cut off mid-answer
    │   └── ClientTimeoutError              no answer in time (also a TimeoutError)
    ├── ServerNotReady                      wait_until_server_ready gave up (also a TimeoutError)
    ├── ResponseDecodeError                 a 200 whose body is not what the API describes
    └── ClientResponseError                 the server answered with an error status
        ├── ClientRequestError              4xx: the request was refused (BadInput, 415, 429, ...)
        └── ServerError                     5xx: the server failed (the function raised, 503, ...)

They are BentoMLExceptions, as classic BentoML's client errors were, so ``except
BentoMLException`` keeps working. Unlike other BentoMLExceptions, one raised inside an API
function is answered as a plain 500 (``answered_as_raised``): its message names the URL called,
which the service's own caller must not learn.

A mistake in the Python call itself (an unknown API, a value a descriptor cannot send, a
missing Multipart part) is an ``InvalidArgument``, as elsewhere in the package: nothing was
sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ..exceptions import BentoMLException, excerpt

#: the header the server puts its request id in (http/request_id.py)
REQUEST_ID_HEADER = "x-request-id"


class ClientError(BentoMLException):
    """Base of every error about a call the client made."""

    answered_as_raised = False


class ServiceDescriptionError(ClientError):
    """The URL has no ``/docs.json`` that describes a bentoml_classic (or BentoML 1.x) service."""


class ClientConnectionError(ClientError):
    """The server could not be reached, or the connection broke before the answer was whole."""


class ClientTimeoutError(ClientConnectionError, TimeoutError):
    """No (complete) answer within the client's ``timeout``."""


class ServerNotReady(ClientError, TimeoutError):
    """``wait_until_server_ready`` gave up: ``/readyz`` did not answer 200 in time."""


class ResponseDecodeError(ClientError):
    """The server answered 200 with a body the API's output descriptor cannot have produced."""


class ClientResponseError(ClientError):
    """The server answered an API call with an error status.

    ``status`` is the HTTP status; ``error_type``, ``message`` and ``detail`` come from the
    server's error envelope (``{"error": {"type", "message", "detail"}}``); ``request_id`` is
    the server's id for the request (its log lines carry it); ``api`` names the API called.
    An answer that is not an envelope (a proxy's HTML page, say) gives ``error_type``
    ``"HTTP <status>"`` and an excerpt of the body as the message.
    """

    def __init__(
        self,
        *,
        api: str,
        url: str,
        status: int,
        error_type: str,
        message: str,
        detail: Any,
        request_id: str | None,
        headers: httpx.Headers,
    ) -> None:
        where = f", request id {request_id}" if request_id else ""
        super().__init__(
            f"API {api!r} at {url} answered {status} {error_type}: {message}{where}",
            detail=detail,
        )
        #: the server's message, without the client's summary around it
        self.message = message
        self.api = api
        self.url = url
        self.status = status
        self._error_type = error_type
        self.request_id = request_id
        self.headers = headers

    @property
    def error_type(self) -> str:
        """The envelope's ``type``: ``BadInput``, ``ServiceUnavailable``, ..."""
        return self._error_type


class ClientRequestError(ClientResponseError):
    """A 4xx: the server refused the request; ``detail`` usually says which field or part."""


class ServerError(ClientResponseError):
    """A 5xx: the server (the API function, a runner, a deadline) failed the request."""


def response_error(api: str, response: httpx.Response) -> ClientResponseError:
    """The error for an API call answered with ``response`` (an error status)."""
    error_type, message, detail = _envelope(response)
    status = response.status_code
    if 400 <= status < 500:
        error_class: type[ClientResponseError] = ClientRequestError
    elif status >= 500:
        error_class = ServerError
    else:  # a redirect or an informational answer: not what an API answers
        error_class = ClientResponseError
    return error_class(
        api=api,
        url=str(response.request.url),
        status=status,
        error_type=error_type,
        message=message,
        detail=detail,
        request_id=response.headers.get(REQUEST_ID_HEADER),
        headers=response.headers,
    )


def _envelope(response: httpx.Response) -> tuple[str, str, Any]:
    """Type, message and detail of the server's error envelope, or what stands in for them."""
    try:
        error = json.loads(response.content)["error"]
        error_type, message = error["type"], error["message"]
        if isinstance(error_type, str) and isinstance(message, str):
            return error_type, message, error.get("detail")
    except (ValueError, TypeError, KeyError):
        pass
    text = response.content.decode("utf-8", "replace").strip()
    return f"HTTP {response.status_code}", excerpt(text or response.reason_phrase), None


@contextmanager
def transport_errors(what: str) -> Iterator[None]:
    """httpx's failures to reach the server (or to hear it out) as this module's errors;
    ``what`` says what was being done, with the URL."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ClientTimeoutError(f"{what}: no answer in time ({_reason(exc)})") from exc
    except httpx.TransportError as exc:
        raise ClientConnectionError(f"{what}: {_reason(exc)}") from exc


def _reason(exc: httpx.TransportError) -> str:
    name = type(exc).__name__
    return f"{name}: {excerpt(exc)}" if str(exc) else name
