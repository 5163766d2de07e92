"""How a worker process reaches what its service calls: runners and dependency services.

Runners are attached from the spec's runner map (absent from it: embedded, so run here);
dependencies (``bentoml_classic.depends``) from its service map, as runner protocol clients
named after the service. ``graph_readiness`` is what the entry's ``/readyz`` asks beyond its own
runners: every service of the graph, and every runner of the graph, answering a ping.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..config import BentoMLConfig
from .worker_spec import WorkerSpec, runner_token

if TYPE_CHECKING:
    from ..batching.policy import BatchPolicy
    from ..protocol.remote import RemoteRunnerHandle
    from ..runner.runner import Runner

#: what ``/readyz`` awaits: None when everything answers, else what does not, in words
ReadinessCheck = Callable[[], Awaitable[str | None]]


def runner_client(
    name: str,
    addresses: list[str],
    spec: WorkerSpec,
    config: BentoMLConfig,
    ssl_context: Any,
    batch_policies: dict[str, BatchPolicy] | None = None,
    batches_per_turn: bool = False,
) -> RemoteRunnerHandle:
    """A runner's workers over the protocol; ``batch_policies``: its methods' caller-side
    batching (none for a client that only pings, as the entry's readiness check);
    ``batches_per_turn``: see ``RemoteRunnerHandle``."""
    from ..protocol.remote import RemoteRunnerHandle

    return RemoteRunnerHandle(
        name,
        addresses,
        token=runner_token(),
        timeout=config.runner(name).timeout,
        batch_policies=batch_policies,
        ssl_context=ssl_context,
        metrics_elsewhere=spec.runner_metrics_elsewhere,
        batches_per_turn=batches_per_turn,
    )


def start_runner(
    runner: Runner,
    service_name: str,
    spec: WorkerSpec,
    config: BentoMLConfig,
    ssl_context: ssl.SSLContext | None,
    batches_per_turn: bool = False,
) -> None:
    """Attach ``runner`` to its workers, or run it here when the map has no address for it
    (``batches_per_turn``: see ``RemoteRunnerHandle``)."""
    addresses = spec.runner_map.get(runner.name)
    runner_config = config.runner(runner.name)
    if addresses is None:  # embedded: this process hosts it
        runner.init_local(quiet=True, config=runner_config, service_name=service_name)
        return

    def over_the_protocol() -> RemoteRunnerHandle:
        policies = runner.batch_policies(runner_config)
        return runner_client(
            runner.name, addresses, spec, config, ssl_context, policies, batches_per_turn
        )

    from ..triton.runner import TritonRunner

    if isinstance(runner, TritonRunner):
        # its tritonserver called directly, or a runner server's forwarder (triton_processes.py)
        from .triton_processes import triton_handle

        runner.attach(triton_handle(runner, addresses, runner_config, over_the_protocol))
        return
    runner.attach(over_the_protocol())


def service_addresses(svc: Any, spec: WorkerSpec) -> dict[str, list[str]]:
    """Where each service of ``svc``'s graph is: the spec's service map (``bentoml serve``),
    and the runner map's entries that name a dependency (``start-http-server``, whose runner
    map gives the addresses of runner servers and of ``start-service-server``s alike)."""
    dependencies = set(svc.all_services()) - {svc.name}
    found = {name: urls for name, urls in spec.runner_map.items() if name in dependencies}
    return {**found, **spec.service_map}


def attach_dependencies(
    svc: Any, spec: WorkerSpec, config: BentoMLConfig, ssl_context: ssl.SSLContext | None
) -> None:
    """Send this process's calls to every service it knows an address of to its workers."""
    from ..composition.handle import attach_transport
    from ..protocol.remote import RemoteRunnerHandle

    for name, addresses in service_addresses(svc, spec).items():
        attach_transport(
            name,
            RemoteRunnerHandle(
                name,
                addresses,
                token=runner_token(),
                timeout=config.service(name).traffic.timeout,
                ssl_context=ssl_context,
                gathers_calls=True,
            ),
        )


def attach_remote(
    svc: Any, spec: WorkerSpec, config: BentoMLConfig, ssl_context: ssl.SSLContext | None
) -> None:
    """A dependency's worker: its runners and its own dependencies, before it serves."""
    attach_dependencies(svc, spec, config, ssl_context)
    for runner in svc.runners:
        # its calls come in bursts (a CALLS frame's): a free slot waits for the turn's others
        start_runner(runner, svc.name, spec, config, ssl_context, batches_per_turn=True)


def graph_readiness(
    svc: Any, spec: WorkerSpec, config: BentoMLConfig, ssl_context: ssl.SSLContext | None
) -> ReadinessCheck | None:
    """The entry's check of the rest of the graph (None when it has no dependencies): each
    dependency service's workers, and the runners that only dependencies use."""
    from ..composition.handle import attached_transport

    services = service_addresses(svc, spec)
    if not services:
        return None
    own = {runner.name for runner in svc.runners}
    others = {
        name: runner_client(name, addresses, spec, config, ssl_context)
        for name, addresses in spec.runner_map.items()
        if name not in own and name not in services
    }

    async def check() -> str | None:
        for name in services:
            transport = attached_transport(name)
            if transport is None or not await transport.is_ready():
                return f"service {name!r}"
        for name, client in others.items():
            if not await client.is_ready():
                return f"runner {name!r}"
        return None

    return check
