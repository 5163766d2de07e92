"""``AsyncClient``: the client for code that is async throughout.

    async with await AsyncClient.from_url("http://127.0.0.1:3000") as client:
        result = await client.classify(arr)

Every method is a coroutine and one ``httpx.AsyncClient`` carries every call, so the client
belongs to the event loop it was made in (as httpx's does).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from .base import DEFAULT_TIMEOUT, ClientBase
from .description import DOCS_PATH, ServiceDescription, read_description
from .endpoint import NOTHING
from .errors import transport_errors
from .readiness import (
    CHECK_INTERVAL,
    READY_PATH,
    ClassOrInstanceMethod,
    classic_url,
    normalize_url,
    wait_async,
)


class AsyncClient(ClientBase):
    """A client of one service whose API methods are coroutines: ``await client.name(...)``,
    ``await client.call(name, ...)``. Make it with ``await AsyncClient.from_url(url)``."""

    def __init__(
        self,
        server_url: str,
        description: ServiceDescription,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(normalize_url(server_url), description, timeout, headers)
        self._http = http or httpx.AsyncClient(
            base_url=self.server_url, timeout=timeout, headers=self.headers
        )
        for name, endpoint in self._endpoints.items():
            self._add_method(name, endpoint, self._method(name))

    @classmethod
    async def from_url(
        cls,
        server_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncClient:
        """A client of the service at ``server_url``; see ``Client.from_url``."""
        url = normalize_url(server_url)
        http = httpx.AsyncClient(base_url=url, timeout=timeout, headers=dict(headers or {}))
        try:
            with transport_errors(f"GET {url}{DOCS_PATH}"):
                response = await http.get(DOCS_PATH)
            description = read_description(url, response)
        except BaseException:
            await http.aclose()
            raise
        return cls(url, description, timeout=timeout, headers=headers, http=http)

    async def call(self, bentoml_api_name: str, inp: Any = NOTHING, /, **kwargs: Any) -> Any:
        """Call the API named ``bentoml_api_name``; its decoded answer."""
        endpoint = self._endpoint(bentoml_api_name)
        content, headers = endpoint.request(inp, kwargs)
        with transport_errors(f"POST {self.server_url}{endpoint.api.path}"):
            response = await self._http.post(endpoint.api.path, content=content, headers=headers)
        return endpoint.result(response)

    def _method(self, name: str) -> Any:
        async def method(inp: Any = NOTHING, /, **kwargs: Any) -> Any:
            return await self.call(name, inp, **kwargs)

        return method

    async def health(self) -> httpx.Response:
        """The answer to ``GET /readyz`` (200 once every runner is ready)."""
        with transport_errors(f"GET {self.server_url}{READY_PATH}"):
            return await self._http.get(READY_PATH)

    async def is_ready(self) -> bool:
        """Whether ``/readyz`` answers 200 now (False when the server cannot be reached)."""
        try:
            return (await self._http.get(READY_PATH)).status_code == 200
        except httpx.TransportError:
            return False

    async def _wait_until_ready(
        self, timeout: float = 30.0, check_interval: float = CHECK_INTERVAL
    ) -> None:
        """Return once ``/readyz`` answers 200; ``ServerNotReady`` (a TimeoutError) after
        ``timeout`` seconds. On the class, ``await AsyncClient.wait_until_server_ready(host,
        port, timeout)`` is classic's form."""
        await wait_async(
            lambda limit: self._http.get(READY_PATH, timeout=limit),
            self.server_url,
            timeout,
            check_interval,
        )

    @staticmethod
    async def _classic_wait(
        host: str,
        port: int,
        timeout: float = 30.0,
        check_interval: float = CHECK_INTERVAL,
        **_: Any,
    ) -> None:
        url = classic_url(host, port)
        async with httpx.AsyncClient(base_url=url) as http:
            await wait_async(
                lambda limit: http.get(READY_PATH, timeout=limit), url, timeout, check_interval
            )

    wait_until_server_ready = ClassOrInstanceMethod(_wait_until_ready, _classic_wait)

    async def close(self) -> None:
        """Close the connections (a coroutine, as classic's ``AsyncClient.close`` was)."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


#: classic BentoML's name for the async HTTP client
AsyncHTTPClient = AsyncClient
