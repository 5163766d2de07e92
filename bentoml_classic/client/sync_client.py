"""``Client``: classic BentoML's client, built from a running server's ``/docs.json``.

    client = Client.from_url("http://127.0.0.1:3000")
    client.classify(arr)                      # blocking
    await client.async_classify(arr)          # from a coroutine
    client.call("classify", arr)              # by name

Blocking calls go through one ``httpx.Client`` (its connections are kept alive and shared by
threads). The ``async_`` methods need an ``httpx.AsyncClient``, whose connections belong to
the event loop that opened them: ``loop_http.py`` keeps one for the loop in use.
``AsyncClient`` is the better fit for code that is async throughout.
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
from .loop_http import LoopHttp
from .readiness import (
    CHECK_INTERVAL,
    READY_PATH,
    ClassOrInstanceMethod,
    classic_url,
    normalize_url,
    wait_async,
    wait_sync,
)


class Client(ClientBase):
    """A client of one service; make it with ``Client.from_url(url)``.

    Each API ``name`` of the service is a method ``name(...)`` and a coroutine method
    ``async_name(...)``; ``call(name, ...)`` and ``async_call(name, ...)`` reach any API. An
    API takes its input positionally (or as one keyword argument); a Multipart API takes its
    parts as keyword arguments. Errors: ``bentoml_classic.client.errors``.
    """

    def __init__(
        self,
        server_url: str,
        description: ServiceDescription,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(normalize_url(server_url), description, timeout, headers)
        self._http = http or httpx.Client(
            base_url=self.server_url, timeout=timeout, headers=self.headers
        )
        self._loop_http = LoopHttp(self.server_url, timeout, self.headers)
        for name, endpoint in self._endpoints.items():
            self._add_method(name, endpoint, self._sync_method(name))
            self._add_method(f"async_{name}", endpoint, self._async_method(name))

    @classmethod
    def from_url(
        cls,
        server_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> Client:
        """A client of the service at ``server_url`` (``http://host:port`` or ``host:port``),
        its methods made from the server's ``/docs.json``. ``timeout``: seconds to wait for
        each answer; ``headers``: sent with every request (an authorization header, say)."""
        url = normalize_url(server_url)
        http = httpx.Client(base_url=url, timeout=timeout, headers=dict(headers or {}))
        try:
            with transport_errors(f"GET {url}{DOCS_PATH}"):
                response = http.get(DOCS_PATH)
            description = read_description(url, response)
        except BaseException:
            http.close()
            raise
        return cls(url, description, timeout=timeout, headers=headers, http=http)

    # -- calls ---------------------------------------------------------------------------------

    def call(self, bentoml_api_name: str, inp: Any = NOTHING, /, **kwargs: Any) -> Any:
        """Call the API named ``bentoml_api_name`` and wait for its decoded answer."""
        endpoint = self._endpoint(bentoml_api_name)
        content, headers = endpoint.request(inp, kwargs)
        with transport_errors(f"POST {self.server_url}{endpoint.api.path}"):
            response = self._http.post(endpoint.api.path, content=content, headers=headers)
        return endpoint.result(response)

    async def async_call(self, bentoml_api_name: str, inp: Any = NOTHING, /, **kwargs: Any) -> Any:
        """``call`` as a coroutine."""
        endpoint = self._endpoint(bentoml_api_name)
        content, headers = endpoint.request(inp, kwargs)
        http = self._loop_http.get()
        with transport_errors(f"POST {self.server_url}{endpoint.api.path}"):
            response = await http.post(endpoint.api.path, content=content, headers=headers)
        return endpoint.result(response)

    def _sync_method(self, name: str) -> Any:
        def method(inp: Any = NOTHING, /, **kwargs: Any) -> Any:
            return self.call(name, inp, **kwargs)

        return method

    def _async_method(self, name: str) -> Any:
        async def method(inp: Any = NOTHING, /, **kwargs: Any) -> Any:
            return await self.async_call(name, inp, **kwargs)

        return method

    # -- readiness -----------------------------------------------------------------------------

    def health(self) -> httpx.Response:
        """The answer to ``GET /readyz`` (200 once every runner is ready), as classic gave it."""
        with transport_errors(f"GET {self.server_url}{READY_PATH}"):
            return self._http.get(READY_PATH)

    async def async_health(self) -> httpx.Response:
        with transport_errors(f"GET {self.server_url}{READY_PATH}"):
            return await self._loop_http.get().get(READY_PATH)

    def is_ready(self) -> bool:
        """Whether ``/readyz`` answers 200 now (False when the server cannot be reached)."""
        try:
            return self._http.get(READY_PATH).status_code == 200
        except httpx.TransportError:
            return False

    def _wait_until_ready(
        self, timeout: float = 30.0, check_interval: float = CHECK_INTERVAL
    ) -> None:
        """Return once ``/readyz`` answers 200; ``ServerNotReady`` (a TimeoutError) after
        ``timeout`` seconds. ``Client.wait_until_server_ready(host, port, timeout)``, on the
        class, is classic's form, for before a client exists."""
        wait_sync(
            lambda limit: self._http.get(READY_PATH, timeout=limit),
            self.server_url,
            timeout,
            check_interval,
        )

    @staticmethod
    def _classic_wait(
        host: str,
        port: int,
        timeout: float = 30.0,
        check_interval: float = CHECK_INTERVAL,
        **_: Any,
    ) -> None:
        url = classic_url(host, port)
        with httpx.Client(base_url=url) as http:
            wait_sync(
                lambda limit: http.get(READY_PATH, timeout=limit), url, timeout, check_interval
            )

    wait_until_server_ready = ClassOrInstanceMethod(_wait_until_ready, _classic_wait)

    async def async_wait_until_server_ready(
        self, timeout: float = 30.0, check_interval: float = CHECK_INTERVAL
    ) -> None:
        http = self._loop_http.get()
        await wait_async(
            lambda limit: http.get(READY_PATH, timeout=limit),
            self.server_url,
            timeout,
            check_interval,
        )

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections (those of ``async_`` calls on their event loop)."""
        self._http.close()
        self._loop_http.close()

    async def aclose(self) -> None:
        """Close the connections, waiting for those of ``async_`` calls made in this loop."""
        self._http.close()
        await self._loop_http.aclose()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


#: classic BentoML's name for the HTTP client that ``Client.from_url`` returned
HTTPClient = Client

__all__ = ["Client", "HTTPClient"]
