"""What a deployment runs behind its front door, whichever door it is (HTTP or gRPC): a watcher
per runner (a ``tritonserver`` for a Triton runner), a watcher per dependency service of a
composed service, their private sockets, and the maps the front door's workers call them by.

``bentoml serve`` and ``bentoml serve-grpc`` build this one way, so that a runner, a Triton
runner or a service graph that the one serves the other serves the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import BentoMLConfig
from .deployment_plan import DeploymentPlan
from .shared_runners import SharedRunner
from .triton_processes import triton_server
from .watchers import (
    runner_sockets,
    runner_watcher,
    service_sockets,
    service_watcher,
    shared_runner,
)


@dataclass
class Backends:
    watchers: list[Any] = field(default_factory=list)
    #: the Unix sockets the arbiter binds for them
    sockets: list[Any] = field(default_factory=list)
    #: runner name -> its workers' addresses (a Triton runner's: its server's)
    runner_map: dict[str, list[str]] = field(default_factory=dict)
    #: dependency service name -> its workers' addresses
    service_map: dict[str, list[str]] = field(default_factory=dict)
    runner_workers: int = 0
    #: dependency service name -> how many workers it has
    service_workers: dict[str, int] = field(default_factory=dict)
    #: runners whose workers the API workers' preforker forks (shared_runners.py), each with
    #: the environment that hands them their spec
    shared_runners: list[tuple[SharedRunner, dict[str, str]]] = field(default_factory=list)


def _addresses(by_name: dict[str, list[Any]]) -> dict[str, list[str]]:
    return {name: [f"file://{sock.path}" for sock in socks] for name, socks in by_name.items()}


def backend_watchers(
    target: str,
    working_dir: str,
    plan: DeploymentPlan,
    config: BentoMLConfig,
    socket_dir: str,
    metrics_dir: str | None,
    foreign_sockets: tuple[str, ...] = (),
    service_envs: dict[str, dict[str, str]] | None = None,
    share_api_preforker: bool = False,
) -> Backends:
    """The runners' and the dependency services' watchers for ``plan``; ``foreign_sockets``:
    the front door's sockets, which their workers close (Circus hands every socket to all);
    ``service_envs``: a service's workers' environment (a class service's resources);
    ``share_api_preforker``: the front door's workers are preforked, and the runners that
    qualify (``shared_runners.py``) are forked by the same parent instead of a watcher."""
    tritons = [runner for runner in plan.runners if runner.triton is not None]
    runners = [runner for runner in plan.runners if runner.triton is None]
    by_runner = runner_sockets(runners, socket_dir)
    backends = Backends(runner_map=_addresses(by_runner))
    if share_api_preforker and not plan.dependencies:
        for runner in list(runners):
            shared = shared_runner(
                target, working_dir, runner, config, by_runner[runner.name], state_dir=socket_dir
            )
            if shared is not None:
                backends.shared_runners.append(shared)
                runners.remove(runner)
    backends.watchers = [
        runner_watcher(
            target,
            working_dir,
            runner,
            config,
            by_runner[runner.name],
            grace_seconds=config.grace_seconds,
            state_dir=socket_dir,
            foreign_sockets=foreign_sockets,
            metrics_dir=metrics_dir,
        )
        for runner in runners
    ]
    for runner in tritons:  # one tritonserver each, called directly (triton_processes.py)
        assert runner.triton is not None
        watcher, backends.runner_map[runner.name] = triton_server(
            runner.triton, config.grace_seconds
        )
        backends.watchers.append(watcher)
    by_service = service_sockets(plan, config, socket_dir)
    backends.service_map = _addresses(by_service)
    backends.watchers += [
        service_watcher(
            target,
            working_dir,
            name,
            config,
            socks,
            runner_map=backends.runner_map,
            service_map=backends.service_map,
            state_dir=socket_dir,
            foreign_sockets=foreign_sockets,
            metrics_dir=metrics_dir,
            # callers stop before what they call
            position=0 if plan.graph is None else plan.graph.depth(name) - 1,
            env=(service_envs or {}).get(name),
        )
        for name, socks in by_service.items()
    ]
    backends.sockets = [
        *(sock for socks in by_runner.values() for sock in socks),
        *(sock for socks in by_service.values() for sock in socks),
    ]
    backends.runner_workers = sum(len(socks) for socks in by_runner.values())
    backends.service_workers = {name: len(socks) for name, socks in by_service.items()}
    return backends
