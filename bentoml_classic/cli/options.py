"""Options that several commands share, spelled as classic BentoML spelled them.

Each adds its parameters to the command's keyword arguments; ``None`` means "not given", so
the configuration's key applies (``serving/arguments.py``, ``serving/http_tls.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..config import BentoMLConfig

F = TypeVar("F", bound=Callable[..., Any])


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def existing_file_option(flag: str, help_text: str, **extra: Any) -> Callable[[F], F]:
    """A file option, resolved now: the command then changes to the working directory."""
    existing = click.Path(exists=True, dir_okay=False, resolve_path=True)
    return click.option(flag, default=None, type=existing, help=help_text, **extra)


working_dir_option = click.option(
    "--working-dir",
    default=".",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Where the service module (and bentofile.yaml) lives.",
)

config_option = existing_file_option(
    "--config",
    "Configuration file (bentoml_configuration.yaml); the same as setting $BENTOML_CONFIG.",
)


def use_config_file(path: str | None) -> None:
    """``--config FILE``: point this process, and the workers it starts, at FILE."""
    from ..config import CONFIG_ENV  # not at import: `bentoml models ...` needs no pydantic

    if path:
        os.environ[CONFIG_ENV] = path


#: the API server's listening socket and timeouts (serve, start-http-server)
http_tuning_options = _stack(
    click.option(
        "--backlog",
        default=None,
        type=click.IntRange(min=1),
        help="Pending connections the port holds [default: api_server.backlog, 2048].",
    ),
    click.option(
        "--timeout",
        default=None,
        type=click.FloatRange(min=0, min_open=True),
        help="Seconds a request may take before it is answered 504 "
        "[default: api_server.traffic.timeout, 60].",
    ),
    click.option(
        "--timeout-keep-alive",
        default=None,
        type=click.IntRange(min=1),
        help="Close a kept-alive connection idle this many seconds "
        "[default: api_server.timeouts.keep_alive, 5].",
    ),
    click.option(
        "--timeout-graceful-shutdown",
        default=None,
        type=click.FloatRange(min=0),
        help="Seconds a stopping server lets requests in progress finish "
        "[default: api_server.timeouts.graceful_shutdown, else 20].",
    ),
)

#: the access log of the API workers (serve, start-http-server)
access_log_option = click.option(
    "--access-log/--no-access-log",
    default=None,
    help="Log one line per request [default: api_server.logging.access.enabled, on].",
)


def with_access_log(config: BentoMLConfig, access_log: bool | None) -> BentoMLConfig:
    """``config`` with ``--access-log``/``--no-access-log`` written over its key, if given, so
    that the workers, handed the configuration, agree with the command line."""
    from ..config import with_settings

    if access_log is None:
        return config
    return with_settings(config, {"api_server.logging.access.enabled": access_log})


#: HTTPS on the API server's port (serve, start-http-server): classic's --ssl-* options
https_options = _stack(
    existing_file_option(
        "--ssl-certfile",
        "Serve HTTPS with this certificate (PEM); its key too unless --ssl-keyfile.",
    ),
    existing_file_option("--ssl-keyfile", "The certificate's private key (PEM)."),
    click.option(
        "--ssl-keyfile-password",
        default=None,
        envvar="BENTOML_SSL_KEYFILE_PASSWORD",
        help="Password of an encrypted --ssl-keyfile (or set $BENTOML_SSL_KEYFILE_PASSWORD, "
        "which stays out of `ps`).",
    ),
    click.option(
        "--ssl-version",
        default=None,
        type=int,
        help="TLS protocol, as a number of Python's ssl module [default: 17, PROTOCOL_TLS_SERVER].",
    ),
    click.option(
        "--ssl-cert-reqs",
        default=None,
        type=int,
        help="Client certificates: 0 none, 1 optional, 2 required [default: 0].",
    ),
    existing_file_option(
        "--ssl-ca-certs", "CA certificates (PEM) that client certificates are checked against."
    ),
    click.option("--ssl-ciphers", default=None, help="OpenSSL cipher list [default: TLSv1]."),
)
