"""How a dependency's API function is called for a caller service, in whichever process it runs.

The caller's value is the function's input as the input descriptor would have decoded it, and
what the function returns goes back as it is: no descriptor encodes or decodes anything on the
way (there is no HTTP body). A function that takes a ``Context`` gets one without a request
(``ctx.request`` raises ``NoRequestError``: there is no HTTP request behind the call), sharing
``ctx.state`` with the service's lifecycle hooks in that process; what it sets on
``ctx.response`` is dropped, since only the entry service answers HTTP.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ..context import Context


def api_callable(api: Any, state: dict[str, Any]) -> Callable[..., Any]:
    """``api.func`` with a ``Context`` added when it takes one (async stays async)."""
    func: Callable[..., Any] = api.func
    ctx_param: str | None = api.ctx_param
    if ctx_param is None:
        return func

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, **{**kwargs, ctx_param: Context(state=state)})

        return call_async

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **{**kwargs, ctx_param: Context(state=state)})

    return call
