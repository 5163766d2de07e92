"""Real starlette Requests built from an ASGI scope, so descriptors are tested as the server calls
them. Tests get the helpers as fixtures (``--import-mode=importlib`` makes conftest unimportable).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from bentoml_classic.exceptions import BentoMLException
from bentoml_classic.io.base import IODescriptor


def _make_request(
    body: bytes | str = b"",
    content_type: str | None = "application/json",
    *,
    chunk_size: int | None = None,
) -> Request:
    """A POST request whose receive() yields ``body`` (in chunks of ``chunk_size`` if given)."""
    data = body.encode() if isinstance(body, str) else body
    headers = [] if content_type is None else [(b"content-type", content_type.encode("latin-1"))]
    headers.append((b"content-length", str(len(data)).encode()))
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 12345),
        "server": ("127.0.0.1", 3000),
    }
    size = chunk_size or max(len(data), 1)
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return Request(scope, receive)


def _parse(
    descriptor: IODescriptor[Any],
    body: bytes | str,
    content_type: str | None = "application/json",
    **kwargs: Any,
) -> Any:
    return asyncio.run(descriptor.from_http_request(_make_request(body, content_type, **kwargs)))


def _parse_error(
    descriptor: IODescriptor[Any],
    body: bytes | str,
    content_type: str | None = "application/json",
    status: int = 400,
) -> BentoMLException:
    """Parse a body that must be refused; check the status and that the envelope is JSON-ready."""
    with pytest.raises(BentoMLException) as info:
        _parse(descriptor, body, content_type)
    exc = info.value
    assert exc.status_code == status, (exc.status_code, exc.message)
    assert status in descriptor.input_error_statuses
    json.dumps(exc.to_payload(), allow_nan=False)
    return exc


def _render(descriptor: IODescriptor[Any], obj: Any) -> Response:
    return asyncio.run(descriptor.to_http_response(obj))


@pytest.fixture
def make_request() -> Any:
    return _make_request


@pytest.fixture
def parse() -> Any:
    """``parse(descriptor, body, content_type="application/json")`` -> the value the API gets."""
    return _parse


@pytest.fixture
def parse_error() -> Any:
    """``parse_error(descriptor, body, content_type, status=400)`` -> the raised exception."""
    return _parse_error


@pytest.fixture
def render() -> Any:
    """``render(descriptor, obj)`` -> the starlette Response."""
    return _render
