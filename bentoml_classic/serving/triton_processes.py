"""Triton runners in a deployment: their ``tritonserver`` watchers and how API workers reach them.

- ``bentoml serve``: each Triton runner is one ``tritonserver`` under the deployment's arbiter,
  on a 127.0.0.1 port the supervisor picks; the API workers call it directly with
  ``tritonclient`` (its runner-map entry is ``triton+grpc://127.0.0.1:PORT`` or
  ``triton+http://...``). Circus restarts it when it dies; meanwhile calls get a 503 with
  Retry-After, and ``/readyz`` says not ready until Triton says it is.
- ``start_runner_server`` for a Triton runner: the same ``tritonserver`` on a private port, and
  runner workers running the forwarder (``triton/forwarder.py``) on the public TCP socket, so
  the HTTP tier reaches it over the runner protocol, token and TLS included.

Before either starts, the plan checks the runner once (``preflight``): a missing binary, a
repository Triton refuses or an option it does not know stops start-up with the runner's name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import RunnerConfig
from ..runner.handle import RunnerHandle
from ..triton.calls import TRITON_ADDRESS_ENV
from ..triton.executable import find_tritonserver
from ..triton.process import TritonLaunch, free_port, preflight, start_timeout
from ..triton.runner import TritonRunner

if TYPE_CHECKING:
    from circus.watcher import Watcher

#: the scheme of a runner-map entry that names a tritonserver the API workers call directly
DIRECT_SCHEME = "triton+"


def triton_plan(runner: TritonRunner, config: RunnerConfig) -> dict[str, Any]:
    """What the supervisor needs to start ``runner``'s ``tritonserver``, checked by starting it
    once (in the planning child, where the service is imported)."""
    executable = find_tritonserver(runner.name, config)
    launch = runner.launch()
    preflight(launch, executable, start_timeout(config.timeout))
    return {"executable": executable, **dataclasses.asdict(launch)}


def triton_watcher(plan: dict[str, Any], port: int, grace_seconds: float) -> Watcher:
    """The watcher of one ``tritonserver`` on 127.0.0.1:``port``; restarted whenever it dies."""
    from circus.watcher import Watcher

    fields = dict(plan)
    executable = fields.pop("executable")
    launch = TritonLaunch(**fields)
    return Watcher(
        name=f"triton_{launch.runner_name}",
        cmd=executable,
        args=launch.args("127.0.0.1", port),
        numprocesses=1,
        copy_env=True,
        stop_signal=15,
        # Triton drains its requests on SIGTERM; the API workers still call it while they drain
        graceful_timeout=grace_seconds + 5,
        max_retry=-1,
        priority=10,
    )


def triton_server(plan: dict[str, Any], grace_seconds: float) -> tuple[Watcher, list[str]]:
    """The watcher of a Triton runner's ``tritonserver`` (``plan``: ``triton_plan``'s) on a
    free port of 127.0.0.1, and the runner-map entry by which the API workers call it."""
    port = free_port()
    address = f"{DIRECT_SCHEME}{plan['protocol']}://127.0.0.1:{port}"
    return triton_watcher(plan, port, grace_seconds), [address]


def forwarded_triton(plan: dict[str, Any], grace_seconds: float) -> Watcher:
    """For ``start_runner_server``: the watcher of the runner's ``tritonserver`` on a free
    127.0.0.1 port, which the forwarding runner workers find in their environment (so call
    this before making their watcher: Circus copies the environment then)."""
    port = free_port()
    os.environ[TRITON_ADDRESS_ENV] = f"127.0.0.1:{port}"
    return triton_watcher(plan, port, grace_seconds)


def triton_handle(
    runner: TritonRunner,
    addresses: list[str],
    config: RunnerConfig,
    remote: Callable[[], RunnerHandle],
) -> RunnerHandle:
    """The handle an API worker attaches to a Triton runner: a direct client for a
    ``triton+`` address, else the forwarder's, over ``remote()`` (the runner protocol)."""
    from ..triton.forwarder import ForwardedHandle

    if addresses[0].startswith(DIRECT_SCHEME):
        from ..triton.handle import TritonHandle

        protocol, _, host_port = addresses[0][len(DIRECT_SCHEME) :].partition("://")
        return TritonHandle(runner.name, host_port, protocol, timeout=config.timeout)
    return ForwardedHandle(runner.name, remote())
