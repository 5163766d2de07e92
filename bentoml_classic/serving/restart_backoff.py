"""How long a runner worker that failed to start waits before it exits.

Circus restarts a worker the moment it exits. A model that cannot load (a missing file, a GPU
that is gone) would then be reloaded in a tight loop, each attempt importing the frameworks and
burning a CPU. So a worker that failed to start waits before exiting: ``RESTART_BACKOFF_S``
after the first failure, twice as long after each further one, at most ``RESTART_BACKOFF_CAP_S``.
The consecutive failures are counted in a file in the deployment's private directory, which
outlives the processes; a start that succeeds removes it. Meanwhile the runner answers no ping,
so every API worker's ``/readyz`` says 503 and names it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

#: seconds the first failed start waits before its worker exits
RESTART_BACKOFF_S = 0.5
#: the longest wait, however often the start failed
RESTART_BACKOFF_CAP_S = 30.0


class StartFailures:
    """The consecutive failed starts of one runner, kept in ``state_dir`` (None: not kept)."""

    def __init__(self, state_dir: str | None, runner: str) -> None:
        self._path = None if state_dir is None else os.path.join(state_dir, f"failed-{runner}")

    def failed(self) -> float:
        """Count one more failed start; returns the seconds to wait before exiting."""
        count = self._read() + 1
        if self._path is not None:
            with contextlib.suppress(OSError), open(self._path, "w") as file:
                file.write(str(count))
        return float(min(RESTART_BACKOFF_S * 2.0 ** (count - 1), RESTART_BACKOFF_CAP_S))

    @contextlib.contextmanager
    def starting(self, what: str, logger: logging.Logger) -> Iterator[None]:
        """Run a worker's start inside: when it raises, log it naming ``what`` (``runner x``),
        wait the backoff, and let it propagate (the worker exits, Circus restarts it); when it
        returns, the count starts again."""
        try:
            yield
        except BaseException as exc:
            delay = self.failed()
            logger.error(
                "%s failed to start (%s): exiting in %.1f s, then the supervisor restarts it",
                what,
                type(exc).__name__,
                delay,
                exc_info=exc,
            )
            time.sleep(delay)
            raise
        self.started()

    def started(self) -> None:
        if self._path is not None:
            with contextlib.suppress(OSError):
                os.remove(self._path)

    def _read(self) -> int:
        if self._path is None:
            return 0
        try:
            with open(self._path) as file:
                return int(file.read().strip() or 0)
        except (OSError, ValueError):
            return 0
