"""``init_local()`` and ``--development`` for a Triton runner: ``tritonserver`` as a child of
this one process, stopped with it (or with ``runner.destroy()``). Classic BentoML could not run
a Triton runner outside its production topology."""

from __future__ import annotations

from ..config import RunnerConfig
from .executable import find_tritonserver
from .handle import TritonHandle
from .process import TritonLaunch, TritonProcess, free_port, start_timeout


def start_local(launch: TritonLaunch, config: RunnerConfig) -> TritonHandle:
    """Start the runner's ``tritonserver`` on a free port of 127.0.0.1, wait until it serves,
    and return a handle to it that stops it when closed."""
    executable = find_tritonserver(launch.runner_name, config)
    launch.check_repository()
    port = free_port()
    process = TritonProcess(
        launch.runner_name, [executable, *launch.args("127.0.0.1", port)], die_with_us=True
    )
    process.wait_serving("127.0.0.1", port, start_timeout(config.timeout))
    return TritonHandle(
        launch.runner_name,
        f"127.0.0.1:{port}",
        launch.protocol,
        timeout=config.timeout,
        on_close=process.stop,
    )
