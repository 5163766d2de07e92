"""Run a service over HTTP. This module holds the single-process server used for development."""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any

from .service import Service

#: environment through which the reloading server's child processes learn what to serve
_TARGET_ENV = "BENTOML_SERVE_TARGET"
_WORKING_DIR_ENV = "BENTOML_SERVE_WORKING_DIR"
_DEVELOPMENT_ENV = "BENTOML_SERVE_DEVELOPMENT"


def run_deployment_hooks(svc: Service) -> None:
    for hook in svc.deployment_hooks:
        result = hook()
        if inspect.isawaitable(result):
            asyncio.run(_await(result))


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _uvicorn_options(host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        "log_level": "info",
        "timeout_graceful_shutdown": 30,
    }


def serve_in_process(
    target: str,
    *,
    working_dir: str = ".",
    host: str = "127.0.0.1",
    port: int = 3000,
    development: bool = True,
    reload: bool = False,
) -> None:
    """Serve API and runners in this one process; with ``reload``, restart on code changes."""
    import uvicorn

    working_dir = os.path.abspath(working_dir)
    if reload:
        os.environ[_TARGET_ENV] = target
        os.environ[_WORKING_DIR_ENV] = working_dir
        os.environ[_DEVELOPMENT_ENV] = "1" if development else ""
        uvicorn.run(
            "bentoml_classic.serving:create_app_from_env",
            factory=True,
            reload=True,
            reload_dirs=[working_dir],
            **_uvicorn_options(host, port),
        )
        return
    from .loader import import_service
    from .server.http_app import build_app

    svc = import_service(target, working_dir)
    run_deployment_hooks(svc)
    uvicorn.run(build_app(svc, development=development), **_uvicorn_options(host, port))


def create_app_from_env() -> Any:
    """uvicorn's factory in each reloaded process: every reload is a fresh deployment."""
    from .loader import import_service
    from .server.http_app import build_app

    svc = import_service(os.environ[_TARGET_ENV], os.environ[_WORKING_DIR_ENV])
    run_deployment_hooks(svc)
    return build_app(svc, development=bool(os.environ.get(_DEVELOPMENT_ENV)))
