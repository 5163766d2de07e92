"""Starting ``tritonserver`` for a Triton runner: its command line, and a start that waits.

Triton binds its gRPC (or HTTP) port only once it has loaded the repository's models, and
exits when it cannot (a repository that does not exist, a model that fails to load, an option it
does not know). So a start waits until either the port accepts a connection (it serves) or the
process has exited (it refused), and in that case the error carries the runner's name and
Triton's own last lines, which say why.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import BentoMLException

#: lines of Triton's output kept to explain a failed start
_KEPT_LINES = 40
#: what the lines that say why Triton stopped contain (its usage text, printed after an
#: unknown option, is long and says nothing)
_WHY = re.compile(r"(?i)error|unrecognized|invalid|failed|unknown|cannot|not found")
#: lines that match but are there on every start without a GPU
_HARMLESS = re.compile(r"CudaDriverHelper|NVML|CUDA driver")
_PR_SET_PDEATHSIG = 1
#: seconds a start may take to load the repository, at least (``runners.timeout`` if longer)
_START_TIMEOUT = 120.0


def start_timeout(runner_timeout: float) -> float:
    """How long a start may take: loading a repository can take longer than a call."""
    return max(_START_TIMEOUT, runner_timeout)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now, for a server that cannot take an inherited socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class TritonLaunch:
    """What starting a Triton runner's ``tritonserver`` takes, apart from the executable: plain
    data, so that the supervisor gets it from the process that imported the service."""

    runner_name: str
    #: absolute (a relative one is from the service's working directory)
    repository: str
    #: "grpc" or "http": the one endpoint Triton opens
    protocol: str
    cli_args: list[str] = field(default_factory=list)

    def args(self, host: str, port: int) -> list[str]:
        """The arguments this package gives ``tritonserver``, then the runner's ``cli_args``:
        the repository, and only the endpoint the runner talks to, on ``host:port``."""
        if self.protocol == "grpc":
            endpoint = [f"--grpc-address={host}", f"--grpc-port={port}", "--allow-http=false"]
        else:
            endpoint = [f"--http-address={host}", f"--http-port={port}", "--allow-grpc=false"]
        return [
            f"--model-repository={self.repository}",
            *endpoint,
            "--allow-metrics=false",
            *self.cli_args,
        ]

    def check_repository(self) -> None:
        """Refuse a model directory without ``config.pbtxt`` before Triton starts: the runner
        passes positional inputs in the order of a model's configuration, and Triton itself
        would start such a python-backend model with a configuration it made up."""
        root = Path(self.repository)
        if not root.is_dir():
            return  # Triton's own message says so ("failed to stat file ...")
        models = [entry for entry in root.iterdir() if entry.is_dir() and entry.name[0] != "."]
        missing = sorted(entry.name for entry in models if not (entry / "config.pbtxt").is_file())
        if missing:
            raise BentoMLException(
                f"Triton runner {self.runner_name!r}: model directories {missing} in "
                f"{self.repository!r} have no config.pbtxt"
            )


class TritonProcess:
    """One ``tritonserver`` child of this process; its output goes to this process's stderr
    and its last lines are kept.

    It runs in a process group of its own, with the Python backend's stubs it starts: a server
    that had to be killed (it did not stop within the grace, or died at start-up) leaves its
    stubs running, reparented to init, and the group is how they are found and stopped."""

    def __init__(self, runner_name: str, command: list[str], *, die_with_us: bool) -> None:
        self.runner_name = runner_name
        self._lines: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)
        self._why: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES // 4)
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_parent_death_signal() if die_with_us else None,
        )
        self._reader = threading.Thread(
            target=self._read, name=f"tritonserver-{runner_name}-output", daemon=True
        )
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace")
            self._lines.append(line.rstrip("\n"))
            # indented lines are its usage text
            if line[:1] not in (" ", "\t") and _WHY.search(line) and not _HARMLESS.search(line):
                self._why.append(line.strip())
            sys.stderr.write(line)

    def wait_serving(self, host: str, port: int, timeout: float) -> None:
        """Until ``host:port`` accepts a connection; an exit first (or ``timeout``) is an error
        naming the runner, with Triton's own message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(timeout=2)
                self._stop_group()
                raise BentoMLException(
                    f"Triton runner {self.runner_name!r}: tritonserver exited with code "
                    f"{self.process.returncode} at start-up: {self.triton_message()}"
                )
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise BentoMLException(
            f"Triton runner {self.runner_name!r}: tritonserver did not serve within "
            f"{timeout:g} s: {self.triton_message()}"
        )

    def triton_message(self) -> str:
        """The lines where Triton said what went wrong (its last lines when none does)."""
        lines = list(self._why) or [line for line in self._lines if line.strip()][-5:]
        return " / ".join(lines) or "(no output)"

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stop_group()
        self._reader.join(timeout=2)

    def _stop_group(self) -> None:
        """SIGKILL whatever is left of the server's process group (its stubs), once it is gone."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _parent_death_signal() -> Callable[[], None] | None:
    """What a child runs before exec so that it gets SIGTERM when the process that started it
    dies (Linux), so a ``tritonserver`` started by ``init_local()`` never outlives the notebook
    or server. libc is looked up here, in the parent: the child may only call into it."""
    libc_name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if not libc_name:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl

    def set_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return set_signal


def preflight(launch: TritonLaunch, executable: str, timeout: float) -> None:
    """Start ``tritonserver`` once as the supervisor would, and stop it: a repository Triton
    refuses, a model that fails to load or an option it does not know stops start-up here,
    with Triton's message and the runner's name, instead of a watcher restarting it forever."""
    launch.check_repository()
    port = free_port()
    process = TritonProcess(
        launch.runner_name, [executable, *launch.args("127.0.0.1", port)], die_with_us=True
    )
    try:
        process.wait_serving("127.0.0.1", port, timeout)
    finally:
        process.stop()
