"""Run a service: the production topology under a Circus arbiter, or one process for development.

Production: the arbiter (this process, in the foreground) binds the public TCP socket and one
Unix socket per runner worker in a private temporary directory, then supervises

- ``api_server.workers`` API workers (``server/api_worker.py``), sharing the public socket;
- for each non-embedded runner, its worker processes (``server/runner_worker.py``), each on its
  own Unix socket, so that an API worker can spread calls over all of them.

The sockets stay bound in the arbiter while a worker restarts, so callers queue in the backlog
instead of being refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .service import Service

if TYPE_CHECKING:
    from circus.arbiter import Arbiter
    from circus.sockets import CircusSocket
    from circus.watcher import Watcher

    from .config import BentoMLConfig
    from .runner.runner import Runner

logger = logging.getLogger("bentoml_classic.serve")

#: environment through which the reloading server's child processes learn what to serve
_TARGET_ENV = "BENTOML_SERVE_TARGET"
_WORKING_DIR_ENV = "BENTOML_SERVE_WORKING_DIR"
_DEVELOPMENT_ENV = "BENTOML_SERVE_DEVELOPMENT"


def run_deployment_hooks(svc: Service) -> None:
    for hook in svc.deployment_hooks:
        result = hook()
        if inspect.isawaitable(result):
            asyncio.run(_await(result))


async def _await(awaitable: Any) -> Any:
    return await awaitable


# -- development: one process ----------------------------------------------------------------


def _uvicorn_options(host: str, port: int) -> dict[str, Any]:
    from .server.http_protocol import http_protocol

    return {
        "http": http_protocol(),
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
) -> None:
    """Serve API and runners in this one process; with ``reload``, restart on code changes."""
    import uvicorn

    working_dir = os.path.abspath(working_dir)
    if reload:
        os.environ[_TARGET_ENV] = target
        os.environ[_WORKING_DIR_ENV] = working_dir
        os.environ[_DEVELOPMENT_ENV] = "1" if development else ""
        uvicorn.run(
            "bentoml_classic.serving:create_app_from_env",
            factory=True,
            reload=True,
            reload_dirs=[working_dir],
            **_uvicorn_options(host, port),
        )
        return
    from .loader import import_service
    from .server.http_app import build_app

    svc = import_service(target, working_dir)
    run_deployment_hooks(svc)
    uvicorn.run(build_app(svc, development=development), **_uvicorn_options(host, port))


def create_app_from_env() -> Any:
    """uvicorn's factory in each reloaded process: every reload is a fresh deployment."""
    from .loader import import_service
    from .server.http_app import build_app

    svc = import_service(os.environ[_TARGET_ENV], os.environ[_WORKING_DIR_ENV])
    run_deployment_hooks(svc)
    return build_app(svc, development=bool(os.environ.get(_DEVELOPMENT_ENV)))


# -- production: a Circus arbiter -------------------------------------------------------------


@contextmanager
def private_socket_dir() -> Iterator[str]:
    """A 0700 directory for Unix sockets and Circus endpoints, removed on the way out.

    An arbiter killed with SIGKILL cannot remove its directory; its name carries the arbiter's
    pid, so the next start removes the directories of arbiters that are gone.
    """
    sweep_stale_socket_dirs()
    path = tempfile.mkdtemp(prefix=f"{SOCKET_DIR_PREFIX}{os.getpid()}-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


SOCKET_DIR_PREFIX = "bentoml-sockets-"


def sweep_stale_socket_dirs(parent: str | None = None) -> list[str]:
    """Remove our socket directories whose arbiter no longer runs; returns what was removed.

    Only directories of this user with our prefix and a pid that names no process are touched
    (a reused pid keeps its directory, which is harmless: it only holds sockets).
    """
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        pid_text, _, rest = entry.name.removeprefix(SOCKET_DIR_PREFIX).partition("-")
        if not entry.name.startswith(SOCKET_DIR_PREFIX) or not pid_text.isdigit() or not rest:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if _process_exists(int(pid_text)):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _python(module: str, *args: str) -> tuple[str, list[str]]:
    return sys.executable, ["-m", module, *args]


def _worker_env(spec_env: dict[str, str]) -> dict[str, str]:
    from .server.worker_process import ARBITER_PID_ENV

    return {**spec_env, ARBITER_PID_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"}


def runner_watcher(
    target: str,
    working_dir: str,
    runner: Runner,
    config: BentoMLConfig,
    sockets: list[CircusSocket],
    *,
    grace_seconds: float,
    numprocesses: int | None = None,
) -> Watcher:
    """Watcher for a runner's workers; worker ``wid`` serves on ``sockets[(wid - 1) % n]``.

    ``numprocesses`` defaults to one worker per socket; workers may also share one (TCP).
    """
    from circus.watcher import Watcher

    from .runner.batching import resolve_policies
    from .runner.resources import worker_envs
    from .server.worker_spec import WorkerSpec

    runner_config = config.runner(runner.name)
    policies = {
        name: dataclasses.asdict(policy)
        for name, policy in resolve_policies(runner, runner_config).items()
    }
    spec = WorkerSpec(
        target=target,
        working_dir=working_dir,
        runner=runner.name,
        worker_envs=worker_envs(runner.runnable_class, runner_config),
        grace_seconds=grace_seconds,
        batch_policies=policies,
        scheduling_policy=runner_config.scheduling_policy,
    )
    fds = ",".join(f"$(circus.sockets.{sock.name})" for sock in sockets)
    cmd, args = _python(
        "bentoml_classic.server.runner_worker", "--fds", fds, "--wid", "$(circus.wid)"
    )
    return Watcher(
        name=f"runner_{runner.name}",
        cmd=cmd,
        args=args,
        numprocesses=numprocesses or len(sockets),
        use_sockets=True,
        copy_env=True,
        env=_worker_env(spec.to_env()),
        stop_signal=15,
        # longer than the API workers' grace: they still call us while they drain
        graceful_timeout=grace_seconds + 5,
        max_retry=-1,
        priority=10,
    )


def api_watcher(
    target: str,
    working_dir: str,
    socket_name: str,
    runner_map: dict[str, list[str]],
    *,
    workers: int,
    development: bool,
    grace_seconds: float,
    scheduling_policy: str,
) -> Watcher:
    from circus.watcher import Watcher

    from .runner.resources import thread_env
    from .server.worker_spec import WorkerSpec

    spec = WorkerSpec(
        target=target,
        working_dir=working_dir,
        development=development,
        runner_map=runner_map,
        grace_seconds=grace_seconds,
        scheduling_policy=scheduling_policy,
    )
    cmd, args = _python(
        "bentoml_classic.server.api_worker", "--fd", f"$(circus.sockets.{socket_name})"
    )
    return Watcher(
        name="api_server",
        cmd=cmd,
        args=args,
        numprocesses=workers,
        use_sockets=True,
        copy_env=True,
        env=_worker_env({**spec.to_env(), **thread_env(1)}),
        stop_signal=15,
        graceful_timeout=grace_seconds + 1,
        max_retry=-1,
        priority=1,
    )


def _bound(sock: CircusSocket) -> CircusSocket:
    """Bind now, so that a taken port is a plain exception here and not a failure deep inside
    the arbiter's event loop; circus's own later bind_and_listen() then does nothing."""
    try:
        sock.bind_and_listen()
    except OSError as exc:
        sock.close()
        from .exceptions import BentoMLException

        raise BentoMLException(f"cannot listen on {sock.location}: {exc.strerror or exc}") from exc
    sock.bind_and_listen = lambda: None  # type: ignore[method-assign]
    return sock


def tcp_socket(name: str, host: str, port: int) -> CircusSocket:
    from circus.sockets import CircusSocket

    sock = CircusSocket(name=name, host=host, port=port, backlog=2048)
    # Accepted connections inherit TCP_NODELAY on Linux: without it every small response waits
    # for the client's delayed ACK (~40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _bound(sock)


def unix_socket(name: str, path: str) -> CircusSocket:
    from circus.sockets import CircusSocket

    return _bound(CircusSocket(name=name, path=path, backlog=2048))


def make_arbiter(watchers: list[Watcher], sockets: list[CircusSocket], socket_dir: str) -> Arbiter:
    """An arbiter whose control endpoints are Unix sockets in ``socket_dir``: nothing on the
    network, no multicast discovery (circus's default would join a multicast group)."""
    return _arbiter_class()(
        watchers,
        endpoint=f"ipc://{socket_dir}/circus-control.sock",
        pubsub_endpoint=f"ipc://{socket_dir}/circus-events.sock",
        multicast_endpoint=None,
        check_delay=0.5,
        sockets=sockets,
        loglevel="WARNING",
    )


def _arbiter_class() -> type[Arbiter]:
    from circus.arbiter import Arbiter

    class QuietStopArbiter(Arbiter):  # type: ignore[misc]
        """Circus checks its watchers on a timer (``check_delay``), and that check takes the
        same lock as a stop: when a stop took longer than one period (workers draining), each
        tick raised a ConflictError that tornado logged with a traceback, on every Ctrl-C.
        While another arbiter command runs, the tick is skipped; the next one does the check.
        """

        def manage_watchers(self) -> Any:
            if self._exclusive_running_command is not None or self._restarting:
                return None
            return super().manage_watchers()

    return QuietStopArbiter


def runner_sockets(
    svc: Service, config: BentoMLConfig, socket_dir: str
) -> dict[str, list[CircusSocket]]:
    """One Unix socket per worker of each runner that does not run embedded in API workers."""
    from .runner.resources import worker_envs

    plan: dict[str, list[CircusSocket]] = {}
    for index, runner in enumerate(svc.runners):
        if runner.embedded:
            continue
        count = len(worker_envs(runner.runnable_class, config.runner(runner.name)))
        plan[runner.name] = [
            unix_socket(f"runner{index}_{k}", os.path.join(socket_dir, f"r{index}-{k}.sock"))
            for k in range(1, count + 1)
        ]
    return plan


def serve_production(
    target: str,
    *,
    working_dir: str = ".",
    host: str | None = None,
    port: int | None = None,
    api_workers: int | None = None,
    development: bool = False,
) -> None:
    """``bentoml serve``: run the arbiter in the foreground until SIGINT/SIGTERM."""
    from .config import load_config
    from .loader import import_service
    from .runner.resources import available_cpus

    working_dir = os.path.abspath(working_dir)
    config = load_config()
    host = host or config.api_server.http.host
    port = config.api_server.http.port if port is None else port
    workers = api_workers or config.api_server.workers or available_cpus()
    grace = config.api_server.graceful_shutdown_timeout
    svc = import_service(target, working_dir)
    run_deployment_hooks(svc)
    _quiet_circus()
    with private_socket_dir() as socket_dir:
        by_runner = runner_sockets(svc, config, socket_dir)
        watchers = [
            runner_watcher(
                target, working_dir, runner, config, by_runner[runner.name], grace_seconds=grace
            )
            for runner in svc.runners
            if runner.name in by_runner
        ]
        runner_map = {
            name: [f"file://{sock.path}" for sock in socks] for name, socks in by_runner.items()
        }
        public = tcp_socket("api", host, port)
        watchers.append(
            api_watcher(
                target,
                working_dir,
                "api",
                runner_map,
                workers=workers,
                development=development,
                grace_seconds=grace,
                scheduling_policy=config.api_server.scheduling_policy,
            )
        )
        sockets = [public, *(sock for socks in by_runner.values() for sock in socks)]
        arbiter = make_arbiter(watchers, sockets, socket_dir)
        shown_host = f"[{host}]" if ":" in host else host
        print(
            f"Serving {svc.name} on http://{shown_host}:{port} with {workers} API worker(s) and "
            f"{sum(len(s) for s in by_runner.values())} runner worker(s) (Press CTRL+C to quit)",
            flush=True,
        )
        arbiter.start()


def _quiet_circus() -> None:
    import warnings

    logging.getLogger("circus").setLevel(logging.WARNING)
    # tornado 6.6 deprecates the call circus makes from its signal handler; harmless
    warnings.filterwarnings("ignore", message="add_callback_from_signal is deprecated")
