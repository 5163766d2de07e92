"""``bentoml serve --development`` / ``--reload``: API and runners together in one process."""

from __future__ import annotations

import os
from typing import Any

from ..config import BentoMLConfig, load_config
from .hooks import run_deployment_hooks

#: environment through which the reloading server's child processes learn what to serve
_TARGET_ENV = "BENTOML_SERVE_TARGET"
_WORKING_DIR_ENV = "BENTOML_SERVE_WORKING_DIR"
_DEVELOPMENT_ENV = "BENTOML_SERVE_DEVELOPMENT"


def _uvicorn_options(host: str, port: int, config: BentoMLConfig | None = None) -> dict[str, Any]:
    """``config``: the header timeout's; a reloaded process (no config here) gets the default."""
    from ..http.uvicorn_protocol import http_protocol

    header_timeout = () if config is None else (config.api_server.http.header_timeout,)
    return {
        "http": http_protocol(*header_timeout),
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
    config: BentoMLConfig | None = None,
) -> None:
    """Serve API and runners in this one process; with ``reload``, restart on code changes.

    ``config`` defaults to the configuration of this process; a reloaded process reads its own.
    """
    import uvicorn

    working_dir = os.path.abspath(working_dir)
    if reload:
        os.environ[_TARGET_ENV] = target
        os.environ[_WORKING_DIR_ENV] = working_dir
        os.environ[_DEVELOPMENT_ENV] = "1" if development else ""
        uvicorn.run(
            "bentoml_classic.serving.development:create_app_from_env",
            factory=True,
            reload=True,
            reload_dirs=[working_dir],
            **_uvicorn_options(host, port),
        )
        return
    from ..http.app import build_app
    from ..loader import import_service

    svc = import_service(target, working_dir)
    run_deployment_hooks(svc)
    config = config or load_config()
    app = build_app(svc, config, development=development)
    uvicorn.run(app, **_uvicorn_options(host, port, config))


def create_app_from_env() -> Any:
    """uvicorn's factory in each reloaded process: every reload is a fresh deployment."""
    from ..http.app import build_app
    from ..loader import import_service

    svc = import_service(os.environ[_TARGET_ENV], os.environ[_WORKING_DIR_ENV])
    run_deployment_hooks(svc)
    return build_app(svc, load_config(), development=bool(os.environ.get(_DEVELOPMENT_ENV)))
