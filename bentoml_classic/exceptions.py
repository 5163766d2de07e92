"""One exception tree for the whole framework; each class knows its HTTP status.

    BentoMLException (500)
    ├── BadInput (400)                 the request body is malformed or fails validation
    ├── InvalidArgument (400)          a Python caller passed something unusable
    │   └── BentoMLConfigException     configuration that cannot be honoured
    ├── NotFound (404)
    │   └── ModelNotFound              no model in the store matches a tag
    ├── MethodNotAllowed (405)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── TooManyRequests (429)
    ├── InternalServerError (500)      user code raised; the original type is kept in `detail`
    ├── StateException (500)           something used before it was ready (an uninitialised runner)
    └── ServiceUnavailable (503)       a runner is down or its queue is full

Clients see an instance as the JSON envelope of `to_payload()`:
``{"error": {"type": "BadInput", "message": "...", "detail": ...}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BentoMLException(Exception):
    """Base of every error the framework raises on purpose."""

    status_code: ClassVar[int] = 500

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

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


class BentoMLConfigException(InvalidArgument):
    pass


class NotFound(BentoMLException):
    status_code = 404


class ModelNotFound(NotFound):
    pass


class MethodNotAllowed(BentoMLException):
    status_code = 405


class PayloadTooLarge(BentoMLException):
    status_code = 413


class UnsupportedMediaType(BentoMLException):
    status_code = 415


class TooManyRequests(BentoMLException):
    status_code = 429


class InternalServerError(BentoMLException):
    status_code = 500


class StateException(BentoMLException):
    status_code = 500


class ServiceUnavailable(BentoMLException):
    status_code = 503
