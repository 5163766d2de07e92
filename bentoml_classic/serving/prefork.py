"""A preforking process: imports what a watcher's workers need once, then forks them.

Each worker that imports pandas, the HTTP stack or a framework on its own holds its own copy of
their Python objects. Forked from a parent that imported them, the workers share those pages
until they write to them; ``gc.freeze()`` before the fork keeps the collector from writing to
every object it visits (docs/architecture.md, "Memory: what each process imports").

Circus starts one of these per preforked watcher and sees only it. It does for its workers what
Circus did for them: starts ``--workers`` of them, numbered 1..N as ``circus.wid`` numbered
them; starts a new one, with the same number, as soon as one exits (a runner worker that failed
to load waits before exiting, as it did under Circus: ``restart_backoff.py``); on SIGTERM (and
SIGINT for API workers, which uvicorn stops on too) relays SIGTERM and exits once they have
drained, killing any still there after ``--grace`` seconds; drops the live gauges of each worker
it reaps, as Circus's ``after_reap`` hook did. It dies with the arbiter (``PR_SET_PDEATHSIG``,
and a check of its parent on every wake-up), and its workers die with it the same way.

The API watcher's preforker also forks the workers of the runners that share the API workers'
environment (``--runner``, ``shared_runners.py``): the pages of the libraries both import
(pandas, pyarrow, numpy: what the service module imports) are then held once for the whole tree
instead of once per preforker. Its workers form groups, stopped in order: the API workers
first, then, once they have drained (they still call the runners while they do), each runner's.

Forking is safe here because this process runs no thread but its main one and no event loop:
each worker makes its own (uvloop's included) after the fork.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType

from ..log_format import configure_server_logging
from .worker_process import ARBITER_PID_ENV, set_parent_death_signal

logger = logging.getLogger("bentoml_classic.prefork")

#: seconds between two looks at the parent when nothing else wakes the preforker
_POLL_S = 0.5


@dataclass
class WorkerGroup:
    """``count`` workers, each ``start_worker(wid)`` in a forked child, which drain for at
    most ``grace_seconds`` once told to stop; ``close_on_stop``: sockets this process closes
    when it stops them (the public one: new clients must then be refused at once)."""

    name: str
    count: int
    start_worker: Callable[[int], None]
    grace_seconds: float
    close_on_stop: tuple[int, ...] = ()


class Preforker:
    """Keeps every worker of ``groups`` alive; stops the groups one after the other, in the
    order given, each once the one before has exited."""

    def __init__(
        self,
        groups: list[WorkerGroup],
        *,
        stop_on_sigint: bool,
        metrics_dir: str | None = None,
    ) -> None:
        self.groups = groups
        self.stop_on_sigint = stop_on_sigint
        self.metrics_dir = metrics_dir
        self.children: dict[int, tuple[int, int]] = {}  # pid -> (group index, wid)
        #: the group being stopped (len(groups): none yet), and since when
        self.stopping_group = len(groups)
        self.stopping_since: float | None = None
        self.parent = os.getppid()
        self._wake_read, self._wake_write = os.pipe()

    def run(self) -> int:
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wake_write)
        signal.signal(signal.SIGCHLD, _ignore)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(
            signal.SIGINT, self._on_stop_signal if self.stop_on_sigint else signal.SIG_IGN
        )
        # the workers learn who their parent is from here (worker_process.die_with_parent)
        os.environ[ARBITER_PID_ENV] = str(os.getpid())
        # the last group stopped (the runners) starts first, so that the first is served
        for index in reversed(range(len(self.groups))):
            for wid in range(1, self.groups[index].count + 1):
                self._spawn(index, wid)
        while self.children:
            select.select([self._wake_read], [], [], _POLL_S)
            _drain(self._wake_read)
            if self.stopping_since is None and os.getppid() != self.parent:
                logger.warning("the supervisor is gone: stopping the workers")
                self.stop()
            self._reap()
            if self.stopping_since is not None:
                self._stop_next_group_when_drained()
        return 0

    def stop(self) -> None:
        if self.stopping_since is not None:
            return
        self._stop_group(0)

    def _stop_group(self, index: int) -> None:
        self.stopping_group = index
        self.stopping_since = time.monotonic()
        if index >= len(self.groups):
            return
        for fd in self.groups[index].close_on_stop:
            # the public socket: once the workers close theirs, new clients must be refused
            # at once, not wait in a backlog that nobody accepts from
            _close_quietly(fd)
        for pid, (group, _) in list(self.children.items()):
            if group == index:
                _signal_quietly(pid, signal.SIGTERM)

    def _stop_next_group_when_drained(self) -> None:
        assert self.stopping_since is not None
        index = self.stopping_group
        if index < len(self.groups) and any(g == index for g, _ in self.children.values()):
            if time.monotonic() - self.stopping_since > self.groups[index].grace_seconds:
                for pid, (group, _) in list(self.children.items()):
                    if group == index:
                        _signal_quietly(pid, signal.SIGKILL)
            return
        if index + 1 < len(self.groups):
            self._stop_group(index + 1)
        elif self.children:  # workers of groups already stopped that outlived their grace
            self._kill_the_rest()

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()

    def _spawn(self, index: int, wid: int) -> None:
        pid = os.fork()
        if pid == 0:
            self._become_worker(self.groups[index], wid)  # never returns
        self.children[pid] = (index, wid)

    def _become_worker(self, group: WorkerGroup, wid: int) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            os.close(self._wake_read)
            os.close(self._wake_write)
            group.start_worker(wid)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            found = self.children.pop(pid, None)
            if found is None:
                continue
            self._forget(pid)
            index, wid = found
            # a group not yet told to stop still serves the groups that drain before it
            if index > self.stopping_group or self.stopping_since is None:
                logger.warning(
                    "%s worker %d exited (%s): starting it again",
                    self.groups[index].name,
                    wid,
                    _how_it_ended(status),
                )
                self._spawn(index, wid)

    def _forget(self, pid: int) -> None:
        if not self.metrics_dir:
            return
        from ..metrics.registry import forget_live_gauges

        try:
            forget_live_gauges(pid, self.metrics_dir)
        except OSError as exc:
            logger.warning("could not drop the live gauges of worker %d: %s", pid, exc)

    def _kill_the_rest(self) -> None:
        for pid in list(self.children):
            _signal_quietly(pid, signal.SIGKILL)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGCHLD's handler: its only job is to wake the loop through the wake-up fd."""


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 512):
            pass


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _signal_quietly(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _how_it_ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"code {os.waitstatus_to_exitcode(status)}"


def freeze_before_fork() -> None:
    """Everything imported so far, out of the collector's sight: a forked worker then shares
    those pages with its siblings instead of copying each one the collector writes to."""
    gc.collect()
    gc.freeze()
    extra = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if extra:
        logger.warning("threads started before the fork, absent in the workers: %s", extra)
    python_threads = {t.native_id for t in threading.enumerate()}
    unhandled = [
        name
        for thread_id, name in native_threads().items()
        if thread_id not in python_threads and name not in FORK_AWARE_THREADS
    ]
    if unhandled:
        logger.warning("threads of a library started before the fork: %s", unhandled)


#: native threads that libraries start at import and that their own fork handlers account for:
#: pyarrow's jemalloc purges memory in a background thread, and a forked child's jemalloc turns
#: that off and purges as it allocates instead
FORK_AWARE_THREADS = frozenset({"jemalloc_bg_thd"})


def native_threads() -> dict[int, str]:
    """This process's threads by id, with their names, the libraries' own included (Python
    lists only those it started)."""
    names = {}
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):
                names[int(task)] = Path(f"/proc/self/task/{task}/comm").read_text().strip()
    return names


def _api_main(args: argparse.Namespace) -> int:
    from .api_worker import preload_api_worker, preload_http_stack, serve_api_worker
    from .runner_worker import preload_runner_modules
    from .shared_runners import SharedRunner, become_runner_worker

    runners = [SharedRunner.from_arg(arg) for arg in args.runner]
    if args.preload == "libraries":
        from .library_preload import libraries_from_env, preload_libraries

        # the service module is left to each worker, as when they are not forked
        preload_http_stack()
        preload_libraries(libraries_from_env())
    else:
        preload_api_worker()
    if runners:
        preload_runner_modules(metrics=True)
    freeze_before_fork()
    groups = [
        WorkerGroup(
            "API",
            args.workers,
            lambda wid: serve_api_worker(args.fd, wid),
            args.grace,
            close_on_stop=(args.fd,),
        )
    ]
    for runner in runners:
        groups.append(
            WorkerGroup(
                f"runner {runner.name}",
                runner.workers,
                partial(become_runner_worker, runner, args.fd),
                runner.grace_seconds,
            )
        )
    return Preforker(groups, stop_on_sigint=True, metrics_dir=args.metrics_dir).run()


def _runner_main(args: argparse.Namespace) -> int:
    from .runner_worker import preload_runner_worker, serve_runner_worker

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the arbiter decides when runners stop
    for fd in filter(None, args.close_fds.split(",")):
        os.close(int(fd))  # the public socket: it must close with the API workers' copies
    fds = [int(fd) for fd in args.fds.split(",")]
    preload_runner_worker()
    freeze_before_fork()
    group = WorkerGroup(
        f"runner {args.name}", args.workers, lambda wid: serve_runner_worker(fds, wid), args.grace
    )
    return Preforker([group], stop_on_sigint=False, metrics_dir=args.metrics_dir).run()


def main() -> None:
    parser = argparse.ArgumentParser(description="bentoml_classic preforking worker parent")
    parser.add_argument("role", choices=("api", "runner"))
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--fd", type=int, help="API workers: the listening socket")
    parser.add_argument("--fds", default="", help="runner workers: their sockets, by wid")
    parser.add_argument("--close-fds", default="", help="inherited sockets to close")
    parser.add_argument("--grace", type=float, required=True, help="seconds workers drain")
    parser.add_argument("--name", default="", help="what the log lines say this is")
    parser.add_argument(
        "--runner", action="append", default=[], help="API: a runner whose workers it forks too"
    )
    parser.add_argument(
        "--preload",
        choices=("service", "libraries"),
        default="service",
        help="API: import the service module before the fork, or only its libraries",
    )
    args = parser.parse_args()
    args.metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    configure_server_logging(f"{args.name or args.role}:prefork")
    set_parent_death_signal()
    if os.getppid() != int(os.environ.get(ARBITER_PID_ENV) or os.getppid()):
        sys.exit(1)  # the arbiter died before we could ask to die with it
    sys.exit(_api_main(args) if args.role == "api" else _runner_main(args))


if __name__ == "__main__":
    main()
