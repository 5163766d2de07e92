"""Real servers for tests: free ports, readiness polling, a threaded uvicorn, ``bentoml``
subprocesses and how to stop them. Imports nothing of pytest, so the benchmarks can use it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "examples" / "iris"
E2E_SERVICES = REPO / "tests" / "e2e" / "services"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(
    url: str, timeout: float = 60.0, is_alive: Callable[[], bool] | None = None
) -> None:
    """Poll ``url`` until it answers 200; ``is_alive()`` False aborts early (the server died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_alive is not None and not is_alive():
            raise RuntimeError(f"server died before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s")


@contextmanager
def live_server(app: object, **uvicorn_options: Any) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn on 127.0.0.1:<free port> in a thread; the app must
    answer GET /livez. ``uvicorn_options`` go to ``uvicorn.Config`` (``http=``, say)."""
    import uvicorn

    port = free_port()
    options = {"lifespan": "on", "log_level": "warning", **uvicorn_options}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **options)
    server = uvicorn.Server(config)

    def run() -> None:
        # uvicorn answers a failed lifespan startup with sys.exit(); in a thread that just ends it.
        with contextlib.suppress(SystemExit):
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base_url}/livez", timeout=30, is_alive=thread.is_alive)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def bentoml_command() -> list[str]:
    """The installed ``bentoml`` console script of the interpreter running the tests."""
    return [str(Path(sys.executable).with_name("bentoml"))]


@contextmanager
def serve_subprocess(
    args: list[str],
    *,
    cwd: str | Path,
    env: dict[str, str],
    ready_timeout: float = 60.0,
    ready_path: str = "/readyz",
    command: str = "serve",
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``bentoml COMMAND ARGS --port <free>`` in its own session; stop it and its children.

    Yields once ``ready_path`` answers 200 (pass ``ready_path=""`` to yield at once).
    """
    port = port or free_port()
    # A file, not a pipe: nobody reads the server's output while it runs, and a full pipe would
    # block its logging (and so the server).
    output = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        [*bentoml_command(), command, *args, "--port", str(port)],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            if ready_path:
                wait_until_ready(
                    f"{base_url}{ready_path}",
                    timeout=ready_timeout,
                    is_alive=lambda: process.poll() is None,
                )
        except (RuntimeError, TimeoutError) as exc:
            stop_process_group(process)
            text = read_output(output)
            raise RuntimeError(f"{exc}; server output:\n{text}") from exc
        _OUTPUTS[process.pid] = output
        yield base_url, process
    finally:
        _OUTPUTS.pop(process.pid, None)
        stop_process_group(process)
        output.close()


_OUTPUTS: dict[int, IO[bytes]] = {}


def output_of(process: subprocess.Popen[bytes]) -> str:
    """What a server started by ``serve_subprocess`` has printed so far (stdout and stderr)."""
    return read_output(_OUTPUTS[process.pid])


def read_output(output: IO[bytes]) -> str:
    """What a running process has written into ``output``, the file it was given as stdout.

    Read with ``pread``: the process writes through the same open file, so its offset is
    shared, and a ``seek(0)`` here made the process's next write land at the start of the file,
    over what it had printed before (a docs test failed on a start-up line overwritten so)."""
    fd = output.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after ``timeout``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)
