"""``Context``: what an API function can see of its request and set on its response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from starlette.requests import Request


@dataclass
class Cookie:
    key: str
    value: str
    max_age: int | None = None
    expires: int | None = None
    path: str = "/"
    domain: str | None = None
    secure: bool = False
    httponly: bool = False
    samesite: Literal["lax", "strict", "none"] = "lax"


@dataclass
class ResponseContext:
    """Set by the API function; applied on top of whatever the output descriptor renders."""

    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[Cookie] = field(default_factory=list)

    def set_cookie(self, key: str, value: str, **options: Any) -> None:
        self.cookies.append(Cookie(key, value, **options))


class Context:
    """Per request: ``request``, ``response``; per worker process: ``state`` (set up in hooks).

    Lifecycle hooks receive a Context too; there ``request`` is None.
    """

    __slots__ = ("request", "response", "state")

    def __init__(self, request: Request | None, state: dict[str, Any]) -> None:
        self.request = request
        self.response = ResponseContext()
        self.state = state
