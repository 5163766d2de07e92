"""Waiting for a server to be ready (``/readyz`` answers 200), and where a server is.

``wait_until_server_ready`` has two forms, as it is named in two places: classic BentoML's
``Client.wait_until_server_ready(host, port, timeout)``, called on the class before any client
exists, and ``client.wait_until_server_ready(timeout=...)`` on a client, which knows its URL.
"""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..exceptions import InvalidArgument, excerpt
from .errors import ServerNotReady

READY_PATH = "/readyz"
#: seconds between two looks at /readyz
CHECK_INTERVAL = 0.2
#: the longest one look may take, so that a hung server does not outlast the caller's timeout
_PROBE_TIMEOUT = 5.0


def normalize_url(server_url: str) -> str:
    """``host:port`` or a URL, as a URL without a trailing slash (``http://`` by default, as
    classic's client assumed)."""
    url = server_url.strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"{server_url!r} is not a server's URL: give http(s)://host:port (or host:port)"
        )
    return url.rstrip("/")


def classic_url(host: str, port: int) -> str:
    """The server classic's ``wait_until_server_ready(host, port)`` meant."""
    return normalize_url(f"{host.rstrip('/')}:{port}")


def wait_sync(
    probe: Callable[[float], httpx.Response], url: str, timeout: float, interval: float
) -> None:
    """Call ``probe(request_timeout)`` until it answers 200; ServerNotReady after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = _unready(probe(_probe_timeout(deadline)))
        except httpx.TransportError as exc:
            last = _failure(exc)
        if last is None:
            return
        if time.monotonic() + interval > deadline:
            raise _not_ready(url, timeout, last)
        time.sleep(interval)


async def wait_async(
    probe: Callable[[float], Awaitable[httpx.Response]], url: str, timeout: float, interval: float
) -> None:
    """``wait_sync`` for the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = _unready(await probe(_probe_timeout(deadline)))
        except httpx.TransportError as exc:
            last = _failure(exc)
        if last is None:
            return
        if time.monotonic() + interval > deadline:
            raise _not_ready(url, timeout, last)
        await asyncio.sleep(interval)


def _unready(response: httpx.Response) -> str | None:
    """None when ready, else what the server said."""
    if response.status_code == 200:
        return None
    text = response.content.decode("utf-8", "replace").strip()
    return f"{response.status_code} {excerpt(text, 200)}".strip()


def _probe_timeout(deadline: float) -> float:
    """One look's timeout: what is left, but at least a little and at most _PROBE_TIMEOUT."""
    return max(0.05, min(deadline - time.monotonic(), _PROBE_TIMEOUT))


def _failure(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {excerpt(exc, 200)}" if str(exc) else type(exc).__name__


def _not_ready(url: str, timeout: float, last: str) -> ServerNotReady:
    return ServerNotReady(
        f"{url}{READY_PATH} did not answer 200 within {timeout:g} s; last: {last}",
        detail={"url": url, "timeout": timeout, "last": last},
    )


class ClassOrInstanceMethod:
    """A method with one function for ``Class.name(...)`` and another for ``obj.name(...)``
    (the instance one is bound, as an ordinary method)."""

    def __init__(self, for_instance: Callable[..., Any], for_class: Callable[..., Any]) -> None:
        self.for_instance = for_instance
        self.for_class = for_class
        self.__doc__ = for_instance.__doc__

    def __get__(self, obj: object | None, objtype: type | None = None) -> Callable[..., Any]:
        if obj is None:
            return self.for_class
        return types.MethodType(self.for_instance, obj)
