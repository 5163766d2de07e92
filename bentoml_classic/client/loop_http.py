"""The ``httpx.AsyncClient``s behind a sync ``Client``'s ``async_`` methods: one per event loop.

An async client's connections belong to the loop that opened them: used from another loop they
fail, and a loop that closes with them open leaks their sockets. So each loop that calls gets
a client of its own, made there on first use (a sync client shared by threads that each run a
loop works too). Alongside each runs a keeper task that only waits: when the loop ends,
``asyncio.run`` (and uvicorn, and other runners) cancel the tasks left, and the keeper closes
its client while the loop can still run that, and forgets it. ``close()`` cancels the keepers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Mapping

import httpx


class LoopHttp:
    def __init__(self, base_url: str, timeout: float, headers: Mapping[str, str]) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._headers = dict(headers)
        self._lock = threading.Lock()
        self._by_loop: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def get(self) -> httpx.AsyncClient:
        """The client of the running loop, made on first use in that loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            http = self._clients.get(loop)
            if http is None:
                # loops closed without cancelling their tasks (run by hand) never told us
                for closed in [other for other in self._clients if other.is_closed()]:
                    self._forget(closed)
                http = httpx.AsyncClient(
                    base_url=self._base_url, timeout=self._timeout, headers=self._headers
                )
                self._clients[loop] = http
                self._by_loop[loop] = loop.create_task(self._keep(loop, http))
            return http

    async def _keep(self, loop: asyncio.AbstractEventLoop, http: httpx.AsyncClient) -> None:
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            with self._lock:
                if self._clients.get(loop) is http:
                    self._forget(loop)
            await http.aclose()

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        self._clients.pop(loop, None)
        self._by_loop.pop(loop, None)

    def close(self) -> None:
        """Have every client closed on its loop (the running loop's at its next turn)."""
        with self._lock:
            keepers = list(self._by_loop.items())
            self._clients.clear()
            self._by_loop.clear()
        running = _running_loop()
        for loop, keeper in keepers:
            if loop.is_closed():
                continue  # its connections ended with it
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                if loop is running:
                    keeper.cancel()
                else:
                    loop.call_soon_threadsafe(keeper.cancel)

    async def aclose(self) -> None:
        """``close()``, then wait until the running loop's client is closed."""
        keeper = self._by_loop.get(asyncio.get_running_loop())
        self.close()
        if keeper is not None:
            await asyncio.wait([keeper])  # done once the client is closed; raises nothing


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
