"""``start_grpc_server`` refuses a metrics port that is a runner's port on this host: both
default to 3001 (docs/guide/grpc.md), and the one started second would fail to listen."""

from __future__ import annotations

import pytest

from bentoml_classic.config import config_from_options
from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.serving.runner_map import runner_on_port
from bentoml_classic.serving.start import start_grpc_server


@pytest.mark.parametrize(
    ("url", "host", "clash"),
    [
        ("tcp://127.0.0.1:3001", "127.0.0.1", True),
        ("tcp://localhost:3001", "127.0.0.1", True),
        ("tcps://10.0.0.5:3001", "10.0.0.5", True),  # the metrics listen where the runner is
        ("tcp://10.0.0.5:3001", "0.0.0.0", True),  # every address of this host
        ("tcp://10.0.0.5:3001", "127.0.0.1", False),  # another host, most likely
        ("tcp://127.0.0.1:3002", "127.0.0.1", False),
        ("file:///tmp/iris.sock", "127.0.0.1", False),
    ],
)
def test_runner_on_port(url: str, host: str, clash: bool) -> None:
    found = runner_on_port({"iris_clf": ["tcp://127.0.0.1:4000", url]}, host, 3001)
    assert found == (url if clash else None)


def test_start_grpc_server_refuses_the_default_metrics_port_of_a_local_runner() -> None:
    with pytest.raises(InvalidArgument) as caught:
        start_grpc_server(
            "service:svc",
            runner_map={"iris_clf": "tcp://127.0.0.1:3001"},
            config=config_from_options(""),
        )
    message = str(caught.value)
    assert "api_server.grpc.metrics.port" in message
    assert "tcp://127.0.0.1:3001" in message
    assert "api_server.grpc.metrics.port=3002" in message
