"""The ``httpx.AsyncClient`` behind a sync ``Client``'s ``async_`` methods, one per event loop.

An async client's connections belong to the loop that opened them: used from another loop
they fail, and a loop that closes with them open leaks their sockets. So the client is made
in the loop that first needs it and replaced when another loop does. Alongside it runs a
keeper task that only waits; when the loop ends, ``asyncio.run`` (and uvicorn, and other
runners) cancel the tasks left, and the keeper closes the client's connections while the
loop can still run that. ``close()`` cancels the keeper itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import httpx


class LoopHttp:
    def __init__(self, base_url: str, timeout: float, headers: Mapping[str, str]) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._headers = dict(headers)
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeper: asyncio.Task[None] | None = None

    def get(self) -> httpx.AsyncClient:
        """The client of the running loop, made on first use in that loop."""
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self.close()
            http = httpx.AsyncClient(
                base_url=self._base_url, timeout=self._timeout, headers=self._headers
            )
            self._http, self._loop = http, loop
            self._keeper = loop.create_task(_close_when_cancelled(http))
        return self._http

    def close(self) -> None:
        """Have the current client closed on its loop (at once if that is the running loop)."""
        loop, keeper = self._loop, self._keeper
        self._http = self._loop = self._keeper = None
        if loop is None or keeper is None or loop.is_closed():
            return  # nothing made, or its loop ended (and the keeper closed it then)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            if _running_loop() is loop:
                keeper.cancel()
            else:
                loop.call_soon_threadsafe(keeper.cancel)

    async def aclose(self) -> None:
        """Close the current client and, when it belongs to the running loop, wait for it."""
        loop, keeper = self._loop, self._keeper
        self.close()
        if keeper is not None and loop is _running_loop():
            await asyncio.wait([keeper])  # done once the client is closed; raises nothing


async def _close_when_cancelled(http: httpx.AsyncClient) -> None:
    try:
        await asyncio.Event().wait()  # until cancelled
    finally:
        await http.aclose()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
