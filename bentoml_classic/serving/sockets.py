"""The sockets an arbiter binds before it starts its workers, and the private folder they live in.

Every socket is bound here, in the arbiter, before Circus starts: a taken port is then a one-line
error instead of a failure deep inside the arbiter's event loop, and a socket stays bound while
the worker behind it restarts, so callers wait in the backlog instead of being refused.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..exceptions import BentoMLException

if TYPE_CHECKING:
    from circus.sockets import CircusSocket

SOCKET_DIR_PREFIX = "bentoml-sockets-"


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


def sweep_stale_socket_dirs(parent: str | None = None) -> list[str]:
    """Remove our socket directories whose arbiter no longer runs; returns what was removed.

    Only directories of this user with our prefix and a pid that names no process are touched
    (a reused pid keeps its directory, which is harmless: it only holds sockets).
    """
    parent = parent or tempfile.gettempdir()
    removed: list[str] = []
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


def _bound(sock: CircusSocket) -> CircusSocket:
    """Bind now; circus's own later bind_and_listen() then does nothing."""
    try:
        sock.bind_and_listen()
    except OSError as exc:
        sock.close()
        raise BentoMLException(f"cannot listen on {sock.location}: {exc.strerror or exc}") from exc
    sock.bind_and_listen = lambda: None
    return sock


def tcp_socket(name: str, host: str, port: int, backlog: int = 2048) -> CircusSocket:
    """``port`` 0: one the kernel picks (``.port`` then says which)."""
    from circus.sockets import CircusSocket

    sock = CircusSocket(name=name, host=host, port=port, backlog=backlog)
    # Accepted connections inherit TCP_NODELAY on Linux: without it every small response waits
    # for the client's delayed ACK (~40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _bound(sock)


def unix_socket(name: str, path: str) -> CircusSocket:
    from circus.sockets import CircusSocket

    return _bound(CircusSocket(name=name, path=path, backlog=2048))
