"""What the sync and the async client share: the service's description, an ``Endpoint`` per
API, and a method per API named after it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import InvalidArgument
from .description import ServiceDescription
from .endpoint import Endpoint

#: what classic BentoML's client waited for an answer, in seconds
DEFAULT_TIMEOUT = 300.0


class ClientBase:
    """``server_url``, ``service_name``, ``endpoints`` (the API names, as classic's client had
    them) and ``timeout``; subclasses add the transport and the generated methods."""

    def __init__(
        self,
        server_url: str,
        description: ServiceDescription,
        timeout: float,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.server_url = server_url
        self.service_name = description.name
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._endpoints = {name: Endpoint.of(api) for name, api in description.apis.items()}
        self.endpoints = list(self._endpoints)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.server_url} service={self.service_name!r} "
            f"apis={self.endpoints}>"
        )

    def _endpoint(self, api_name: str) -> Endpoint:
        endpoint = self._endpoints.get(api_name)
        if endpoint is None:
            raise InvalidArgument(
                f"the service at {self.server_url} has no API {api_name!r}; its APIs: "
                f"{', '.join(self.endpoints)}",
                detail={"api": api_name, "apis": self.endpoints},
            )
        return endpoint

    def _add_method(self, name: str, endpoint: Endpoint, method: Callable[..., Any]) -> None:
        """``method`` as the attribute ``name``, unless a method of the client has that name
        (``call``, ``close``, ...): that API stays reachable through ``call``."""
        if hasattr(self, name):
            return
        method.__name__ = name
        method.__qualname__ = f"{type(self).__name__}.{name}"
        method.__doc__ = endpoint.describe()
        setattr(self, name, method)
