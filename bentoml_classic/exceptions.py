"""One exception tree for the whole framework; each class knows its HTTP status.

    BentoMLException (500)
    ├── BadInput (400)                 the request body is malformed or fails validation
    ├── InvalidArgument (400)          a Python caller passed something unusable
    │   ├── BentoMLConfigException     configuration that cannot be honoured
    │   └── BadArchive                 a model or bento archive: corrupt, truncated or hostile
    ├── NotFound (404)
    │   ├── ModelNotFound              no model in the store matches a tag
    │   └── BentoNotFound              no bento in the store matches a tag
    ├── MethodNotAllowed (405)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── TooManyRequests (429)
    ├── InternalServerError (500)      user code raised; the original type is kept in `detail`
    ├── StateException (500)           something used before it was ready (an uninitialised runner)
    ├── ImportServiceError (500)       the module a command line names raised while importing
    ├── RunnerError (500)              a runner method raised; keeps the remote type and message
    ├── ServiceUnavailable (503)       a runner is down or its queue is full; clients may retry
    └── GatewayTimeout (504)           a runner did not answer in time

The Python client's errors (``bentoml_classic.client.errors``: ``ClientError`` and below) are
BentoMLExceptions too, answered as a plain 500 when an API function lets one escape
(``answered_as_raised``).

Clients see an instance as the JSON envelope of `to_payload()`:
``{"error": {"type": "BadInput", "message": "...", "detail": ...}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: the most characters of a client's input (or of an exception's text) an error body repeats
EXCERPT_LIMIT = 200


def excerpt(text: object, limit: int = EXCERPT_LIMIT) -> str:
    """``text`` as a string of at most ``limit`` characters, saying how much was left out: an
    error message must not grow with the input that caused it."""
    shown = str(text)
    if len(shown) <= limit:
        return shown
    return f"{shown[:limit]}... ({len(shown) - limit} more characters)"


class BentoMLException(Exception):
    """Base of every error the framework raises on purpose."""

    status_code: ClassVar[int] = 500
    #: seconds a client should wait before retrying; sent as Retry-After when set
    retry_after: ClassVar[int | None] = None
    #: whether a server answers with this error's status, message and detail when an API
    #: function raises it (a BadInput raised on purpose, say). False for errors about a call
    #: the function itself made, whose text names places its own caller must not learn: the
    #: Python client's errors name the URL they called. Those are answered as a plain 500.
    answered_as_raised: ClassVar[bool] = True

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    @property
    def http_status(self) -> int:
        """The status to answer with; an instance may refine its class's (see RunnerError)."""
        return self.status_code

    @property
    def error_type(self) -> str:
        return type(self).__name__

    def to_payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"error": error}


class BadInput(BentoMLException):
    status_code = 400


class InvalidArgument(BentoMLException):
    status_code = 400


class BadArchive(InvalidArgument):
    """A model or bento archive that cannot be imported: corrupt, truncated or hostile."""


class BentoMLConfigException(InvalidArgument):
    pass


class NotFound(BentoMLException):
    status_code = 404


class ModelNotFound(NotFound):
    pass


class BentoNotFound(NotFound):
    pass


class MethodNotAllowed(BentoMLException):
    status_code = 405


class PayloadTooLarge(BentoMLException):
    status_code = 413


class UnsupportedMediaType(BentoMLException):
    status_code = 415


class TooManyRequests(BentoMLException):
    status_code = 429
    retry_after = 1


class InternalServerError(BentoMLException):
    status_code = 500


class StateException(BentoMLException):
    status_code = 500


class ImportServiceError(BentoMLException):
    """The service's module raised while being imported (classic's name). The message names
    the target and carries the module's own traceback; the original is the ``__cause__``."""


class RunnerError(BentoMLException):
    """A runner method raised. ``detail`` names the remote exception type, runner and method."""

    def __init__(self, message: str, *, detail: Any = None, status: int = 500) -> None:
        super().__init__(message, detail=detail)
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status


class ServiceUnavailable(BentoMLException):
    status_code = 503
    retry_after = 1


class GatewayTimeout(BentoMLException):
    status_code = 504
