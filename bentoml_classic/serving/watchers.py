"""The Circus watchers of a deployment: who runs, with which sockets and which worker spec.

Production binds the public TCP socket and one Unix socket per runner worker in a private
directory, then supervises

- ``api_server.workers`` API workers (``api_worker.py``), sharing the public socket;
- for each non-embedded runner, its worker processes (``runner_worker.py``), each on its own
  Unix socket, so that an API worker can spread calls over all of them.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ..config import BentoMLConfig, as_settings
from .deployment_plan import DeploymentPlan, RunnerPlan
from .http_tls import HttpTls
from .library_preload import LIBRARIES_ENV, preload_mode
from .metrics_dir import metrics_env, reap_hooks
from .resources import thread_env
from .shared_runners import SHARED_SPEC_ENV_PREFIX, SharedRunner, shares_api_environment
from .sockets import unix_socket
from .stuck_model import STUCK_GRACE_S
from .worker_process import ARBITER_PID_ENV
from .worker_spec import SPEC_ENV, WorkerSpec

#: the API workers' thread counts: one each, their work is decoding and encoding
API_THREAD_ENV = thread_env(1)

if TYPE_CHECKING:
    from circus.sockets import CircusSocket
    from circus.watcher import Watcher


def _python(module: str, *args: str) -> tuple[str, list[str]]:
    return sys.executable, ["-m", module, *args]


def _worker_env(spec_env: dict[str, str], metrics_dir: str | None) -> dict[str, str]:
    return {
        **spec_env,
        **metrics_env(metrics_dir),
        ARBITER_PID_ENV: str(os.getpid()),
        "PYTHONUNBUFFERED": "1",
    }


def runner_watcher(
    target: str,
    working_dir: str,
    runner: RunnerPlan,
    config: BentoMLConfig,
    sockets: list[CircusSocket],
    *,
    grace_seconds: float,
    numprocesses: int | None = None,
    state_dir: str | None = None,
    foreign_sockets: tuple[str, ...] = (),
    tls: dict[str, str | None] | None = None,
    backlog: int = 2048,
    metrics_dir: str | None = None,
) -> Watcher:
    """Watcher for a runner's workers; worker ``wid`` serves on ``sockets[(wid - 1) % n]``.

    ``numprocesses`` defaults to one worker per socket; workers may also share one (TCP).
    ``foreign_sockets``: sockets the workers inherit from Circus (it passes every socket to
    every process) but must not hold open: the public one, which has to close once the API
    workers stop, or new clients would wait in its backlog until the runners exit.
    ``metrics_dir``: where the workers write their metrics (``metrics_dir.py``).
    """
    from circus.watcher import Watcher

    runner_config = config.runner(runner.name)
    spec = _runner_spec(target, working_dir, runner, config, grace_seconds, state_dir, tls, backlog)
    fds = ",".join(f"$(circus.sockets.{sock.name})" for sock in sockets)
    workers = numprocesses or len(sockets)
    # longer than the API workers' grace: they still call us while they drain
    graceful_timeout = grace_seconds + 5
    # one environment for all workers (no GPU per worker): they may be forked from one parent
    preforked = runner_config.preload and len({str(env) for env in runner.worker_envs}) <= 1
    if preforked:
        cmd, args = _python(
            "bentoml_classic.serving.prefork", "runner", "--workers", str(workers),
            "--fds", fds, "--grace", str(graceful_timeout - 0.5), "--name", runner.name,
        )  # fmt: skip
    else:
        cmd, args = _python(
            "bentoml_classic.serving.runner_worker", "--fds", fds, "--wid", "$(circus.wid)"
        )
    if foreign_sockets:
        foreign = ",".join(f"$(circus.sockets.{name})" for name in foreign_sockets)
        args += ["--close-fds", foreign]
    return Watcher(
        name=f"runner_{runner.name}",
        cmd=cmd,
        args=args,
        numprocesses=1 if preforked else workers,
        use_sockets=True,
        copy_env=True,
        env=_worker_env(spec.to_env(), metrics_dir),
        hooks=reap_hooks(metrics_dir, preforked=preforked),
        stop_signal=15,
        graceful_timeout=graceful_timeout + (1 if preforked else 0),
        max_retry=-1,
        priority=10,
    )


def _runner_spec(
    target: str,
    working_dir: str,
    runner: RunnerPlan,
    config: BentoMLConfig,
    grace_seconds: float,
    state_dir: str | None,
    tls: dict[str, str | None] | None,
    backlog: int,
) -> WorkerSpec:
    runner_config = config.runner(runner.name)
    return WorkerSpec(
        target=target,
        working_dir=working_dir,
        runner=runner.name,
        worker_envs=runner.worker_envs,
        grace_seconds=grace_seconds,
        batch_policies=runner.batch_policies,
        scheduling_policy=runner_config.scheduling_policy,
        heap=runner_config.heap.model_dump(),
        state_dir=state_dir,
        stuck_after_s=runner_config.timeout + STUCK_GRACE_S,
        tls=dict(tls or {}),
        backlog=backlog,
        metrics=runner_config.metrics.model_dump(),
    )


def shared_runner(
    target: str,
    working_dir: str,
    runner: RunnerPlan,
    config: BentoMLConfig,
    sockets: list[CircusSocket],
    *,
    state_dir: str | None = None,
) -> tuple[SharedRunner, dict[str, str]] | None:
    """A runner whose workers the API watcher's preforker forks (``shared_runners.py``), and
    the environment that hands them their spec; None: it keeps a watcher of its own."""
    api = config.api_server
    runner_config = config.runner(runner.name)
    mode = preload_mode(api.preload, api.preload_libraries)
    if not (
        mode is not None
        # a runner that asked not to run the service module before the fork gets a watcher
        and preload_mode(runner_config.preload, runner_config.preload_libraries) == mode
        and shares_api_environment(runner.worker_envs, API_THREAD_ENV)
    ):
        return None
    grace_seconds = config.grace_seconds
    spec = _runner_spec(target, working_dir, runner, config, grace_seconds, state_dir, None, 2048)
    spec_env = f"{SHARED_SPEC_ENV_PREFIX}{runner.index}"
    shared = SharedRunner(
        name=runner.name,
        spec_env=spec_env,
        fds=",".join(f"$(circus.sockets.{sock.name})" for sock in sockets),
        workers=len(sockets),
        # as a runner watcher's: they still serve the API workers' last calls
        grace_seconds=grace_seconds + 5 - 0.5,
    )
    return shared, {spec_env: spec.to_env()[SPEC_ENV]}


def api_watcher(
    target: str,
    working_dir: str,
    socket_name: str,
    runner_map: dict[str, list[str]],
    config: BentoMLConfig,
    *,
    workers: int,
    development: bool,
    tls: dict[str, str | None] | None = None,
    http_tls: HttpTls | None = None,
    metrics_dir: str | None = None,
    runner_metrics_elsewhere: bool = False,
    service_map: dict[str, list[str]] | None = None,
    shared_runners: tuple[tuple[SharedRunner, dict[str, str]], ...] = (),
    env: dict[str, str] | None = None,
    libraries: list[str] | None = None,
) -> Watcher:
    """Watcher for the API workers, and for ``shared_runners``' workers (preforked: forked by
    the same parent, ``shared_runners.py``); ``libraries``: what the service module imports
    that its preforker may import (``library_preload.py``; None: not known, so no library
    preload, only ``api_server.preload``). ``config`` (arguments already written over it)
    travels in their spec; ``tls``: the files for calling ``tcps://`` runners; ``http_tls``:
    HTTPS on the public socket; ``metrics_dir``: where the workers write their metrics;
    ``runner_metrics_elsewhere``: the runners are servers started on their own, asked for
    their metrics by ``/metrics``."""
    from circus.watcher import Watcher

    grace_seconds = config.grace_seconds
    spec = WorkerSpec(
        target=target,
        working_dir=working_dir,
        development=development,
        runner_map=runner_map,
        service_map=dict(service_map or {}),
        grace_seconds=grace_seconds,
        scheduling_policy=config.api_server.scheduling_policy,
        heap=config.api_server.heap.model_dump(),
        tls=dict(tls or {}),
        config=as_settings(config),
        http_tls=http_tls.to_spec() if http_tls else {},
        runner_metrics_elsewhere=runner_metrics_elsewhere,
    )
    fd = f"$(circus.sockets.{socket_name})"
    graceful_timeout = grace_seconds + 1
    mode = preload_mode(
        config.api_server.preload, config.api_server.preload_libraries and libraries is not None
    )
    preforked = mode is not None
    runner_specs = {k: v for _, env in shared_runners for k, v in env.items()} if preforked else {}
    if mode == "libraries":
        runner_specs[LIBRARIES_ENV] = ",".join(libraries or ())
    if preforked:
        cmd, args = _python(
            "bentoml_classic.serving.prefork", "api", "--workers", str(workers),
            "--fd", fd, "--grace", str(graceful_timeout - 0.5), "--name", "api_server",
            "--preload", str(mode),
        )  # fmt: skip
        for runner, _ in shared_runners:
            args += ["--runner", runner.to_arg()]
        # the runners drain after the API workers, within the same watcher's timeout
        graceful_timeout += max((r.grace_seconds + 0.5 for r, _ in shared_runners), default=0)
    else:
        cmd, args = _python(
            "bentoml_classic.serving.api_worker", "--fd", fd, "--wid", "$(circus.wid)"
        )
    return Watcher(
        name="api_server",
        cmd=cmd,
        args=args,
        numprocesses=1 if preforked else workers,
        use_sockets=True,
        copy_env=True,
        env=_worker_env(
            {**spec.to_env(), **API_THREAD_ENV, **runner_specs, **(env or {})}, metrics_dir
        ),
        hooks=reap_hooks(metrics_dir, preforked=preforked),
        stop_signal=15,
        graceful_timeout=graceful_timeout + (1 if preforked else 0),
        max_retry=-1,
        priority=1,
    )


def service_watcher(
    target: str,
    working_dir: str,
    service: str,
    config: BentoMLConfig,
    sockets: list[CircusSocket],
    *,
    runner_map: dict[str, list[str]],
    service_map: dict[str, list[str]],
    state_dir: str | None = None,
    foreign_sockets: tuple[str, ...] = (),
    metrics_dir: str | None = None,
    position: int = 0,
    numprocesses: int | None = None,
    tls: dict[str, str | None] | None = None,
    env: dict[str, str] | None = None,
) -> Watcher:
    """Watcher for a dependency's workers (``service_worker.py``); worker ``wid`` serves on
    ``sockets[(wid - 1) % n]``, one socket per worker as for runners (``numprocesses``
    defaults to that; workers may also share one TCP socket).

    Circus stops watchers from the lowest priority up: the API workers (1), then the
    dependencies by their depth in the graph (``position``: a caller is shallower than what
    it calls; ``ServiceGraph.depth``), then the runners (10), so that each drains while what
    it calls still serves."""
    from circus.watcher import Watcher

    grace_seconds = config.grace_seconds
    spec = WorkerSpec(
        target=target,
        working_dir=working_dir,
        service=service,
        runner_map=runner_map,
        service_map=service_map,
        grace_seconds=grace_seconds,
        # a relay between callers and runners, woken per frame as a runner is: not SCHED_BATCH
        scheduling_policy="inherit",
        heap=config.api_server.heap.model_dump(),
        state_dir=state_dir,
        config=as_settings(config),
        tls=tls or {},
    )
    fds = ",".join(f"$(circus.sockets.{sock.name})" for sock in sockets)
    cmd, args = _python(
        "bentoml_classic.serving.service_worker", "--fds", fds, "--wid", "$(circus.wid)"
    )
    if foreign_sockets:
        args += ["--close-fds", ",".join(f"$(circus.sockets.{n})" for n in foreign_sockets)]
    return Watcher(
        name=f"service_{service}",
        cmd=cmd,
        args=args,
        numprocesses=numprocesses or len(sockets),
        use_sockets=True,
        copy_env=True,
        env=_worker_env({**spec.to_env(), **thread_env(1), **(env or {})}, metrics_dir),
        hooks=reap_hooks(metrics_dir, preforked=False),
        stop_signal=15,
        graceful_timeout=grace_seconds + 3,
        max_retry=-1,
        priority=min(2 + position, 9),
    )


def service_sockets(
    plan: DeploymentPlan, config: BentoMLConfig, socket_dir: str
) -> dict[str, list[CircusSocket]]:
    """One Unix socket per worker of each dependency service of the plan's graph."""
    sockets: dict[str, list[CircusSocket]] = {}
    for index, node in enumerate(plan.dependencies):
        workers = config.service(node.name).workers or 1
        sockets[node.name] = [
            unix_socket(f"service{index}_{k}", os.path.join(socket_dir, f"s{index}-{k}.sock"))
            for k in range(1, workers + 1)
        ]
    return sockets


def runner_sockets(runners: list[RunnerPlan], socket_dir: str) -> dict[str, list[CircusSocket]]:
    """One Unix socket per worker of each runner that does not run embedded in API workers."""
    plan: dict[str, list[CircusSocket]] = {}
    for runner in runners:
        index = runner.index
        plan[runner.name] = [
            unix_socket(f"runner{index}_{k}", os.path.join(socket_dir, f"r{index}-{k}.sock"))
            for k in range(1, len(runner.worker_envs) + 1)
        ]
    return plan
