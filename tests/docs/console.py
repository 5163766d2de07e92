"""The commands of the guide's ``console`` blocks, run as a reader would run them.

A block is a transcript: ``$ command`` lines, each followed by what it prints. Commands run in
the page's working directory, with the page's environment:

- ``export NAME=VALUE`` and ``NAME=VALUE command`` set environment variables;
- ``python ...`` runs the interpreter of the test (the project's ``.venv/bin/python``),
  ``bentoml ...`` the console script installed beside it, ``cat FILE`` shows a file, ``curl`` is
  emulated (``curl.py``);
- ``bentoml serve``, ``start-http-server`` and ``start-runner-server`` keep running, as in a
  terminal of their own: the next command runs once the server is ready (``/readyz`` answers
  200, over HTTPS when the server says it listens on ``https://``; for a runner server, its
  port accepts connections), and what the page shows under the command must be how the
  server's output begins. If it exits before it is ready, its whole output must be what the
  page shows (a page may show a server refusing to start);
- ``python SCRIPT`` is such a server too when what the page shows under it begins with a
  server's start-up line (``Serving NAME on http://HOST:PORT``, ``Runner NAME listening on
  tcp://HOST:PORT``): a script that calls ``bentoml_classic.start``'s functions;
- ``^C`` is Ctrl+C in the terminal of the last server still running: SIGINT to its process
  group, then the lines below must be what it prints until it exits.

Every other command is an error, so that a page never shows something the test skipped. Ports
3000 to 3099 (``:3000``, ``--port 3000``, ``port=3000``, ``port: 3000``) stand for free ports,
the same one on the whole page, in commands, files and shown output alike; a server command
without ``--port`` is given its default's stand-in.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.docs.curl import run_curl
from tests.docs.markdown_blocks import Block
from tests.docs.output_match import matches, mismatch, normalise, starts_like
from tests.support.servers import bentoml_command, free_port, read_output, stop_process_group

#: a server that is not ready after this long has failed (a loaded 2-core machine is slow)
READY_TIMEOUT = 90.0
#: a command (or a server stopping) that takes longer than this has failed
COMMAND_TIMEOUT = 120.0
#: the server commands that keep running, and the port each listens on by default
SERVER_DEFAULT_PORTS = {
    "serve": 3000,
    "start-http-server": 3000,
    "start-runner-server": 3001,
    "serve-grpc": 3000,
}
#: servers that speak no HTTP: ready once their port accepts connections
_PORT_ONLY = ("start-runner-server", "serve-grpc")

_PORT = re.compile(r"(?P<before>:|--port[ =]|port=|port: )(?P<port>30\d\d)\b")
#: the line a server started from Python prints first (``bentoml_classic.start``)
_STARTUP_LINE = re.compile(
    r"^(?:Serving \S+ on|Runner \S+ listening on) (?P<scheme>https?|tcps?)://\S+?:(?P<port>\d+)\b"
)


class GuideError(AssertionError):
    """A guide example did not do what its page says; the message names the page and line."""


@dataclass
class PortMap:
    """Ports 3000-3099 of the page, each mapped to a free port when first seen."""

    ports: dict[int, int] = field(default_factory=dict)

    def port(self, shown: int) -> int:
        if shown not in self.ports:
            self.ports[shown] = free_port()
        return self.ports[shown]

    def apply(self, text: str) -> str:
        return _PORT.sub(lambda m: m["before"] + str(self.port(int(m["port"]))), text)


@dataclass(frozen=True)
class ServerCommand:
    """A command that keeps running: what runs, and how to tell it is ready: a runner server
    when ``port`` accepts connections, any other when its ``/readyz`` answers 200."""

    argv: list[str]
    port: int
    is_runner: bool


@dataclass
class Server:
    """A server command left running; its output goes to a file, read back by position."""

    command: str
    process: subprocess.Popen[bytes]
    output: IO[bytes]

    def printed(self) -> str:
        return read_output(self.output)

    def stop(self) -> None:
        stop_process_group(self.process)
        self.output.close()


def _wait_for_port(port: int, is_alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and is_alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.05)
    if is_alive():
        raise TimeoutError(f"nothing listens on port {port} after {READY_TIMEOUT}s")


def _wait_until_ready(port: int, is_alive: Callable[[], bool], printed: Callable[[], str]) -> None:
    """``/readyz`` on ``port`` answers 200, asked once the server has printed the address it
    listens on, over what that address says: HTTP, or HTTPS (then with no certificate check:
    the probe only waits, what the page shows is the page's own ``curl``)."""
    address = re.compile(rf"(https?)://\S+?:{port}\b")
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not is_alive():
            raise RuntimeError(f"the server on port {port} exited before it was ready")
        said = address.search(printed())
        if said:
            url = f"{said[1]}://127.0.0.1:{port}/readyz"
            try:
                if httpx.get(url, timeout=2, verify=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    raise TimeoutError(f"/readyz on port {port} did not answer 200 after {READY_TIMEOUT}s")


@dataclass
class Transcript:
    """One ``$`` command of a block, the line it is on, and the lines shown under it."""

    line: int
    command: str
    shown: str


def split_transcript(block: Block) -> list[Transcript]:
    """``$ cmd`` lines (a trailing backslash continues one) and the lines up to the next."""
    steps: list[Transcript] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        text = lines[index]
        if not (text.startswith("$ ") or text == "^C"):
            if steps:
                steps[-1].shown += text + "\n"
            elif text.strip():
                raise GuideError(f"{block.path.name}:{block.line + index}: output before any `$`")
            index += 1
            continue
        line = block.line + index
        command = text[2:] if text.startswith("$ ") else text
        while command.endswith("\\") and index + 1 < len(lines):
            index += 1
            command = command[:-1] + " " + lines[index].strip()
        steps.append(Transcript(line, command.strip(), ""))
        index += 1
    return steps


class ConsoleSession:
    """The terminal(s) of one page: environment, working directory, servers left running."""

    def __init__(self, cwd: Path, env: dict[str, str], ports: PortMap) -> None:
        self.cwd = cwd
        self.env = env
        self.ports = ports
        self.servers: list[Server] = []

    def run_block(self, block: Block) -> None:
        for step in split_transcript(block):
            where = f"{block.path.name}:{step.line}"
            command = self.ports.apply(step.command)
            shown = self.ports.apply(step.shown)
            if command == "^C":
                self._interrupt(where, shown)
            else:
                self._run(where, command, shown)

    def close(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    # -- one command -------------------------------------------------------------------------

    def _run(self, where: str, command: str, shown: str) -> None:
        words = shlex.split(command)
        if words[:1] == ["export"]:
            for assignment in words[1:]:
                name, _, value = assignment.partition("=")
                self.env[name] = value
            return
        env = dict(self.env)
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        program, args = words[0], words[1:]
        server = self._as_server(program, args, shown)
        if server is not None:
            self._start_server(where, command, server, env, shown)
            return
        if program == "curl":
            try:
                printed, status = run_curl(args, self.cwd), 0
            except httpx.HTTPError as exc:
                raise GuideError(f"{where}: `{command}` got no answer: {exc!r}") from exc
        elif program == "cat" and len(args) == 1:
            printed, status = (self.cwd / args[0]).read_text(), 0
        elif program in ("python", "bentoml"):
            argv = [sys.executable, *args] if program == "python" else [*bentoml_command(), *args]
            done = subprocess.run(
                argv,
                cwd=self.cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
            printed, status = done.stdout.decode(errors="replace"), done.returncode
        else:
            raise GuideError(f"{where}: the guide's test does not know the command {program!r}")
        if not matches(shown, printed):
            raise GuideError(mismatch(where, command, shown, printed))
        if status != 0 and not shown.strip():
            raise GuideError(f"{where}: `{command}` failed (exit {status}):\n{printed}")

    def _as_server(self, program: str, args: list[str], shown: str) -> ServerCommand | None:
        """What a command that keeps running runs; None for a command that runs to its end."""
        if program == "bentoml" and args[:1] and args[0] in SERVER_DEFAULT_PORTS:
            args = [piece for arg in args for piece in _split_port_option(arg)]
            if "--port" not in args:
                args = [*args, "--port", str(self.ports.port(SERVER_DEFAULT_PORTS[args[0]]))]
            port = int(args[args.index("--port") + 1])
            is_runner = args[0] in _PORT_ONLY
            return ServerCommand([*bentoml_command(), *args], port, is_runner)
        started = _STARTUP_LINE.match(normalise(shown))
        if program == "python" and started:
            is_runner = started["scheme"].startswith("tcp")
            return ServerCommand([sys.executable, *args], int(started["port"]), is_runner)
        return None

    def _start_server(
        self, where: str, command: str, started: ServerCommand, env: dict[str, str], shown: str
    ) -> None:
        output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by Server.stop)
        process = subprocess.Popen(
            started.argv,
            cwd=self.cwd,
            # a server that ignores ^C is made to show where it is stuck (``_interrupt``)
            env={**env, "PYTHONFAULTHANDLER": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Server(command, process, output)
        self.servers.append(server)

        def alive() -> bool:
            return process.poll() is None

        try:
            if started.is_runner:
                _wait_for_port(started.port, alive)
            else:
                _wait_until_ready(started.port, alive, server.printed)
        except RuntimeError:
            pass  # it exited: compared below, as a command that ran to its end
        except TimeoutError as exc:
            raise GuideError(
                f"{where}: `{command}`: {exc}; it printed:\n{server.printed()}"
            ) from exc
        if not alive():
            self.servers.remove(server)
            printed = server.printed()
            server.stop()
            if not shown.strip() or not matches(shown, printed):
                raise GuideError(mismatch(where, command, shown, printed) + "\n(the server exited)")
            return
        if not _eventually(lambda: starts_like(shown, server.printed())):
            raise GuideError(mismatch(where, command, shown + "\n...", server.printed()))

    def _interrupt(self, where: str, shown: str) -> None:
        if not self.servers:
            raise GuideError(f"{where}: ^C, but no server is running")
        server = self.servers.pop()
        before = len(server.printed())
        os.killpg(server.process.pid, signal.SIGINT)
        try:
            server.process.wait(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(server.process.pid, signal.SIGABRT)  # faulthandler prints every thread
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=10)
            raise GuideError(
                f"{where}: `{server.command}` still runs after ^C; it printed:\n"
                f"{server.printed()[before:]}"
            ) from None
        finally:
            printed = server.printed()[before:]
            server.stop()
        if shown.strip() and not matches(shown, printed):
            raise GuideError(mismatch(where, "^C", shown, printed))


def _eventually(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Output of a running server may still be on its way: poll, bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _split_port_option(arg: str) -> list[str]:
    """``--port=3000`` -> ``--port``, ``3000``: one spelling to look for."""
    return arg.split("=", 1) if arg.startswith("--port=") else [arg]
