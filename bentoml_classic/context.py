"""``Context``: what an API function sees of its request and sets on its response, and the
per-worker ``state`` it shares with the lifecycle hooks.

A Context is made for every request of an API that takes one, so it costs one small object:
the response part, and its headers and cookies inside it, are made only when the function
first touches them (most functions read the request, or nothing at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .exceptions import StateException

if TYPE_CHECKING:
    from starlette.datastructures import MutableHeaders
    from starlette.requests import Request

_SAMESITE_VALUES = ("lax", "strict", "none")


class NoRequestError(StateException, LookupError):
    """``ctx.request`` where no request is being served. Also a ``LookupError``, which is what
    classic BentoML raised there (its request lived in a context variable)."""


@dataclass
class Cookie:
    """A cookie to set on the response; ``samesite`` is lax, strict or none, in any case."""

    key: str
    value: str
    max_age: int | None = None
    #: seconds from now (an int), an HTTP date (a str), or a datetime
    expires: int | str | datetime | None = None
    path: str = "/"
    domain: str | None = None
    secure: bool = False
    httponly: bool = False
    samesite: str = "lax"

    def __post_init__(self) -> None:
        # Checked here, where the user's code makes it: a bad value then fails in the API
        # function that wrote it (a 500 naming ValueError), not later while the answer is sent.
        if not isinstance(self.samesite, str) or self.samesite.lower() not in _SAMESITE_VALUES:
            raise ValueError(
                f"Cookie {self.key!r}: samesite must be one of {list(_SAMESITE_VALUES)} "
                f"(in any case), got {self.samesite!r}"
            )


HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]


def _new_headers(headers: HeadersLike | None = None) -> MutableHeaders:
    from starlette.datastructures import MutableHeaders

    if isinstance(headers, MutableHeaders):
        return headers
    result = MutableHeaders()
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for key, value in pairs:
        result.append(key, value)
    return result


class ResponseContext:
    """Set by the API function; applied on top of whatever the output descriptor renders.

    ``headers`` is Starlette's ``MutableHeaders``: ``headers["x"] = "1"`` replaces, ``append``
    adds another value, ``get`` / ``getlist`` read. A header named here replaces the one the
    descriptor set (every value of it); ``cookies`` are added as ``Set-Cookie`` headers.
    """

    __slots__ = ("_cookies", "_headers", "status_code")

    def __init__(
        self,
        status_code: int = 200,
        headers: HeadersLike | None = None,
        cookies: Iterable[Cookie] | None = None,
    ) -> None:
        self.status_code = status_code
        self._headers = None if headers is None else _new_headers(headers)
        self._cookies = None if cookies is None else list(cookies)

    @property
    def headers(self) -> MutableHeaders:
        if self._headers is None:
            self._headers = _new_headers()
        return self._headers

    @headers.setter
    def headers(self, headers: HeadersLike) -> None:
        self._headers = _new_headers(headers)

    @property
    def cookies(self) -> list[Cookie]:
        if self._cookies is None:
            self._cookies = []
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: Iterable[Cookie]) -> None:
        self._cookies = list(cookies)

    def set_cookie(self, key: str, value: str, **options: Any) -> None:
        """Add a cookie; ``options`` are ``Cookie``'s (max_age, expires, path, domain, ...)."""
        self.cookies.append(Cookie(key, value, **options))

    def header_items(self) -> list[tuple[str, str]]:
        """Every header set, in order, repeated names included; no object is made for none."""
        return [] if self._headers is None else self._headers.items()

    def cookies_set(self) -> list[Cookie]:
        return [] if self._cookies is None else self._cookies

    def __repr__(self) -> str:
        return (
            f"ResponseContext(status_code={self.status_code}, headers={self.header_items()}, "
            f"cookies={self.cookies_set()})"
        )


class Context:
    """Per request: ``request`` (Starlette's ``Request``: ``headers``, ``query_params``,
    ``cookies``, ...) and ``response``; per API worker: ``state``, shared with the hooks.

    ``bentoml.Context()`` builds one with no request and a fresh state, for calling an API
    function by hand: ``svc.apis["predict"].func(value, bentoml.Context())``.
    """

    __slots__ = ("_request", "_response", "state")

    def __init__(self, request: Request | None = None, state: dict[str, Any] | None = None) -> None:
        self._request = request
        self._response: ResponseContext | None = None
        self.state: dict[str, Any] = {} if state is None else state

    @property
    def request(self) -> Request:
        if self._request is None:
            raise NoRequestError(
                "no request is being served: ctx.request exists only in an API function "
                "called for a request (lifecycle hooks and a Context() made by hand have none)"
            )
        return self._request

    @property
    def response(self) -> ResponseContext:
        if self._response is None:
            self._response = ResponseContext()
        return self._response

    @response.setter
    def response(self, response: ResponseContext) -> None:
        self._response = response

    @property
    def has_request(self) -> bool:
        """Whether a request is being served (False in hooks), without raising."""
        return self._request is not None


def response_wanted(ctx: Context) -> ResponseContext | None:
    """What the function set on the response; None when it never touched ``ctx.response``."""
    return ctx._response
