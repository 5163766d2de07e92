"""The classic arguments of serve and the start functions, and the signatures themselves."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from bentoml_classic import start
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.serving.arguments import (
    bento_identifier,
    http_settings,
    http_tier,
    runner_settings,
)
from tests.support.configs import config_of

#: classic BentoML 1.1's ``bentoml.start`` signatures: name and default, in order
CLASSIC_RUNNER_SERVER = [
    ("bento_identifier", None),
    ("working_dir", "."),
    ("runner_name", None),
    ("port", None),
    ("host", None),
    ("timeout", None),
    ("backlog", 2048),
]
CLASSIC_HTTP_SERVER = [
    "bento_identifier",
    "runner_map",
    "working_dir",
    "port",
    "host",
    "backlog",
    "api_workers",
    "timeout",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_keyfile_password",
    "ssl_version",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_ciphers",
    "timeout_keep_alive",
    "timeout_graceful_shutdown",
]


def positional(function: Any) -> list[inspect.Parameter]:
    return [
        p
        for p in inspect.signature(function).parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]


def keyword_only(function: Any) -> set[str]:
    return {
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def test_start_runner_server_has_classics_parameters_in_classics_order() -> None:
    params = positional(start.start_runner_server)
    assert [(p.name, p.default) for p in params] == CLASSIC_RUNNER_SERVER
    assert {"bento", "token", "config", "ssl_certfile", "ssl_keyfile", "ssl_ca_certs"} <= (
        keyword_only(start.start_runner_server)
    )


def test_start_http_server_has_classics_parameters_in_classics_order() -> None:
    params = positional(start.start_http_server)
    assert [p.name for p in params] == CLASSIC_HTTP_SERVER
    # left out, each takes its configuration key (classic's defaults came from there too)
    assert all(p.default is None for p in params if p.name not in ("working_dir",))
    assert {"bento", "token", "config", "runner_ssl_ca_certs"} <= keyword_only(
        start.start_http_server
    )


def test_http_arguments_are_written_over_their_keys() -> None:
    config = http_settings(
        config_of("api_server.traffic.max_concurrency=3"),
        timeout=7,
        backlog=16,
        timeout_keep_alive=2,
        timeout_graceful_shutdown=4.5,
    )
    assert config.api_server.traffic.timeout == 7
    assert config.api_server.traffic.max_concurrency == 3  # the rest is kept
    assert config.api_server.backlog == 16
    assert config.api_server.timeouts.keep_alive == 2
    assert config.grace_seconds == 4.5


def test_arguments_left_out_keep_the_configuration() -> None:
    config = config_of("api_server.traffic.timeout=9 api_server.timeouts.graceful_shutdown=3")
    assert http_settings(config) is config
    assert config.grace_seconds == 3
    assert config_of().grace_seconds == config_of().api_server.graceful_shutdown_timeout


def test_http_tier_without_a_certificate_is_plain_http() -> None:
    config, https = http_tier(config_of(), timeout=5)
    assert https is None and config.api_server.traffic.timeout == 5


def test_a_runner_servers_timeout_is_that_runners_timeout() -> None:
    config = runner_settings(config_of("runners.batching.max_batch_size=8"), "iris", timeout=12)
    assert config.runner("iris").timeout == 12
    assert config.runner("iris").batching.max_batch_size == 8
    assert config.runner("other").timeout == config_of().runners.timeout


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"timeout": 0}, "timeout"),
        ({"backlog": -1}, "backlog"),
        ({"timeout_keep_alive": 0}, "timeout_keep_alive"),
        ({"timeout_graceful_shutdown": -1}, "timeout_graceful_shutdown"),
        ({"timeout": "soon"}, "timeout"),
    ],
)
def test_bad_arguments_are_named(arguments: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named):
        http_settings(config_of(), **arguments)


def test_bento_is_an_alias_of_bento_identifier() -> None:
    assert bento_identifier("service:svc", None) == "service:svc"
    assert bento_identifier(None, "service:svc") == "service:svc"
    assert bento_identifier("service:svc", "service:svc") == "service:svc"
    with pytest.raises(InvalidArgument, match="different"):
        bento_identifier("a:svc", "b:svc")
    with pytest.raises(InvalidArgument, match="bento_identifier"):
        bento_identifier(None, None)
