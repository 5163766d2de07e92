"""``bentoml serve --development`` / ``--reload``: API and runners together in one process."""

from __future__ import annotations

import json
import os
from typing import Any

from ..config import BentoMLConfig, as_settings, build_config, load_config
from ..log_format import DEVELOPMENT_SERVER, configure_server_logging
from .arguments import http_tier
from .hooks import run_deployment_hooks
from .http_tls import HttpTls

#: environment through which the reloading server's child processes learn what to serve
_TARGET_ENV = "BENTOML_SERVE_TARGET"
_WORKING_DIR_ENV = "BENTOML_SERVE_WORKING_DIR"
_DEVELOPMENT_ENV = "BENTOML_SERVE_DEVELOPMENT"
#: the configuration resolved by the command (its arguments written over the keys), as JSON
_CONFIG_ENV = "BENTOML_SERVE_CONFIG"

#: seconds a development server drains on Ctrl-C unless api_server.timeouts.graceful_shutdown
#: says otherwise
_DEVELOPMENT_GRACE_S = 30


def _uvicorn_options(
    host: str, port: int, config: BentoMLConfig, https: HttpTls | None
) -> dict[str, Any]:
    from ..http.uvicorn_protocol import http_protocol

    graceful = config.api_server.timeouts.graceful_shutdown
    return {
        "http": http_protocol(config.api_server.http.header_timeout),
        "host": host,
        "port": port,
        "lifespan": "on",
        # ours instead (http/access_log.py), and our handlers format uvicorn's lines too
        "access_log": False,
        "log_config": None,
        "server_header": False,
        "log_level": "info",
        "backlog": config.api_server.backlog,
        "timeout_keep_alive": config.api_server.timeouts.keep_alive,
        "timeout_graceful_shutdown": _DEVELOPMENT_GRACE_S if graceful is None else int(graceful),
        **(https.uvicorn_options() if https else {}),
    }


def serve_in_process(
    target: str,
    *,
    working_dir: str = ".",
    host: str | None = None,
    port: int | None = None,
    development: bool = True,
    reload: bool = False,
    config: BentoMLConfig | None = None,
    backlog: int | None = None,
    timeout: float | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_keyfile_password: str | None = None,
    ssl_version: int | None = None,
    ssl_cert_reqs: int | None = None,
    ssl_ca_certs: str | None = None,
    ssl_ciphers: str | None = None,
    timeout_keep_alive: int | None = None,
    timeout_graceful_shutdown: float | None = None,
) -> None:
    """Serve API and runners in this one process; with ``reload``, restart on code changes.

    ``config`` defaults to the configuration of this process; the other arguments, when given,
    win over their keys, as for ``serve_production``. Reloaded processes are handed the result.
    """
    import uvicorn

    configure_server_logging(DEVELOPMENT_SERVER)
    working_dir = os.path.abspath(working_dir)
    config, https = http_tier(
        config or load_config(),
        timeout=timeout,
        backlog=backlog,
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_keyfile_password=ssl_keyfile_password,
        ssl_version=ssl_version,
        ssl_cert_reqs=ssl_cert_reqs,
        ssl_ca_certs=ssl_ca_certs,
        ssl_ciphers=ssl_ciphers,
    )
    host = host or config.api_server.http.host
    port = config.api_server.http.port if port is None else port
    if reload:
        os.environ[_TARGET_ENV] = target
        os.environ[_WORKING_DIR_ENV] = working_dir
        os.environ[_DEVELOPMENT_ENV] = "1" if development else ""
        os.environ[_CONFIG_ENV] = json.dumps(as_settings(config))
        uvicorn.run(
            "bentoml_classic.serving.development:create_app_from_env",
            factory=True,
            reload=True,
            reload_dirs=[working_dir],
            **_uvicorn_options(host, port, config, https),
        )
        return
    from ..http.app import build_app
    from ..loader import import_service

    svc = import_service(target, working_dir)
    run_deployment_hooks(svc)
    app = build_app(svc, config, development=development)
    uvicorn.run(app, **_uvicorn_options(host, port, config, https))


def create_app_from_env() -> Any:
    """uvicorn's factory in each reloaded process: every reload is a fresh deployment."""
    from ..http.app import build_app
    from ..loader import import_service

    configure_server_logging(DEVELOPMENT_SERVER)
    svc = import_service(os.environ[_TARGET_ENV], os.environ[_WORKING_DIR_ENV])
    run_deployment_hooks(svc)
    raw = os.environ.get(_CONFIG_ENV)
    config = build_config(json.loads(raw)) if raw else load_config()
    return build_app(svc, config, development=bool(os.environ.get(_DEVELOPMENT_ENV)))
