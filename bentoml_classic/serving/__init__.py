"""Starting a deployment: the Circus arbiter, its sockets and watchers, the worker processes'
entry points, the development server, and the two-tier start functions.

Worker processes import their own modules of this package as ``python -m``; the package itself
imports nothing at import time, so that a runner worker sets its thread counts before anything
loads a numeric library or the configuration. The functions below load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .development import serve_in_process
    from .production import serve_http_production, serve_production
    from .start import start_http_server, start_runner_server

_LAZY = {
    "serve_in_process": "development",
    "serve_production": "production",
    "serve_http_production": "production",
    "start_http_server": "start",
    "start_runner_server": "start",
}

__all__ = [
    "serve_http_production",
    "serve_in_process",
    "serve_production",
    "start_http_server",
    "start_runner_server",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
