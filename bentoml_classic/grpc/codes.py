"""Which gRPC status code answers which error, and the envelope that travels beside it.

Every error the framework raises carries an HTTP status (``exceptions.py``); over gRPC the same
error is answered with the code below and the same JSON envelope in the trailing metadata key
``ENVELOPE_KEY``, so a client learns the field at fault exactly as over HTTP. A client's mistake
is never UNKNOWN or INTERNAL (classic BentoML answered an unknown API name with INTERNAL).

The codes are given by name (``grpc.StatusCode`` members) so that this module, and the client
that reads it, need not import grpc to be imported.
"""

from __future__ import annotations

import json
from typing import Any

from ..exceptions import BentoMLException

#: trailing metadata key of the JSON error envelope (``{"error": {"type", "message", ...}}``)
ENVELOPE_KEY = "bentoml-error"

_CODE_BY_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    # no Content-Type over gRPC: a File or Image of the wrong kind is a wrong field
    415: "INVALID_ARGUMENT",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

#: the reverse, for a client that gets a code without an envelope
STATUS_BY_CODE: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def code_name(exc: BentoMLException) -> str:
    """The ``grpc.StatusCode`` name for ``exc``: by its HTTP status, other 4xx as
    INVALID_ARGUMENT, other 5xx as INTERNAL."""
    status = exc.http_status
    named = _CODE_BY_STATUS.get(status)
    if named is not None:
        return named
    return "INVALID_ARGUMENT" if 400 <= status < 500 else "INTERNAL"


def envelope_metadata(exc: BentoMLException) -> tuple[tuple[str, str], ...]:
    """The trailing metadata of an error answer. ASCII only: gRPC refuses other characters in
    a text metadata value, so anything else is written as JSON escapes."""
    payload = exc.to_payload()
    try:
        text = json.dumps(payload, default=str, ensure_ascii=True, allow_nan=False)
    except ValueError:  # a NaN quoted in a detail: rare, and written as Python writes it
        text = json.dumps(payload, default=str, ensure_ascii=True)
    return ((ENVELOPE_KEY, text),)


def read_envelope(trailing: Any) -> dict[str, Any] | None:
    """The ``error`` object of an answer's trailing metadata, or None when it has none."""
    for key, value in trailing or ():
        if key == ENVELOPE_KEY:
            try:
                payload = json.loads(value)
            except ValueError:
                return None
            error = payload.get("error") if isinstance(payload, dict) else None
            return error if isinstance(error, dict) else None
    return None
