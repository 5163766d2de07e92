"""Runners whose workers are forked by the API workers' preforker, not by one of their own.

With ``api_server.preload`` and ``runners.preload``, each watcher's preforking parent imports
what its workers need and forks them (``prefork.py``). An API preforker and a runner preforker
of the same service both import its module, and with it pandas, pyarrow, numpy: each holds its
own copy of their objects, which its workers share, but the two copies are not shared. Forking
the runner's workers from the API preforker holds them once for the whole tree.

Library preload (``library_preload.py``, the default) forks them the same way, after importing
only the libraries: a runner joins when its own mode (``preload``, ``preload_libraries``) is
the API workers'. Only a runner whose workers all run in the API workers' environment joins
(one environment for all, and the same thread counts: libraries read them when they load, in
the shared parent), and only where no dependency service sits between the API workers and the
runners (Circus stops those after the API watcher, and they still call the runners while they
drain). Any other runner keeps a watcher of its own. Variables only a runner worker sets
(``CUDA_VISIBLE_DEVICES``, read when CUDA initialises, not when a framework is imported) are
set in the forked worker.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from .worker_spec import SPEC_ENV

#: the variable that holds the worker spec of the shared runner number ``i``, in the API
#: watcher's environment (the API workers' own spec is in ``SPEC_ENV``)
SHARED_SPEC_ENV_PREFIX = "BENTOML_WORKER_SPEC_RUNNER_"


@dataclass(frozen=True)
class SharedRunner:
    """One runner whose workers the API preforker forks: where its spec is, its sockets
    (``fds``: comma-separated, by wid; Circus's ``$(circus.sockets.x)`` until it starts us),
    how many workers, and how long they drain once the API workers have drained."""

    name: str
    spec_env: str
    fds: str
    workers: int
    grace_seconds: float

    def to_arg(self) -> str:
        return f"{self.spec_env}:{self.fds}:{self.workers}:{self.grace_seconds}:{self.name}"

    @classmethod
    def from_arg(cls, arg: str) -> SharedRunner:
        spec_env, fds, workers, grace, name = arg.split(":", 4)
        return cls(name, spec_env, fds, int(workers), float(grace))

    def fd_list(self) -> list[int]:
        return [int(fd) for fd in self.fds.split(",")]


def shares_api_environment(worker_envs: list[dict[str, str]], api_env: dict[str, str]) -> bool:
    """Whether a runner's workers may be forked from the API preforker: one environment for
    all of them, which sets every variable the API workers' sets (thread counts) to the same
    value."""
    if len({str(sorted(env.items())) for env in worker_envs}) > 1:
        return False
    env = worker_envs[0] if worker_envs else {}
    return all(env.get(name) == value for name, value in api_env.items())


def become_runner_worker(runner: SharedRunner, public_fd: int | None, wid: int) -> None:
    """In a worker forked from the API preforker: serve ``runner`` as its worker ``wid``."""
    from .runner_worker import serve_runner_worker

    if public_fd is not None:
        # the public socket: it must close with the API workers' copies (already closed when
        # this worker replaces one that exited while the API workers drain)
        with contextlib.suppress(OSError):
            os.close(public_fd)
    os.environ[SPEC_ENV] = os.environ[runner.spec_env]
    serve_runner_worker(runner.fd_list(), wid)
