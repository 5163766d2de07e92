"""A runner worker whose model has been busy on one call for too long replaces itself.

A call past ``runners.timeout`` has already been answered with a 504 by the API worker that made
it, but nothing can interrupt a model that hangs, and every call sent to this worker after it
would wait behind it (a sync API at concurrency 8 fell from thousands of requests a second to
a few, half of them 504s). So a thread of the worker watches how long the model's current call
has run; past ``runners.timeout`` plus ``STUCK_GRACE_S`` it logs which call and exits at once.
The calls waiting here get a 503 (their connection is lost), the supervisor starts a new worker
on the same socket, and the runner's other workers serve meanwhile.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: how much longer than ``runners.timeout`` a call may run before its worker is replaced
STUCK_GRACE_S = 0.5
#: the exit status of a worker that replaced itself (Circus restarts it whatever the status)
STUCK_EXIT_STATUS = 75


def watch_for_a_stuck_model(
    busy_since: Callable[[], float | None], limit_s: float, interval_s: float = 0.25
) -> threading.Thread:
    """Start a daemon thread that ends this process once ``busy_since()`` is ``limit_s`` old."""

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            since = busy_since()
            if since is not None and time.monotonic() - since > limit_s:
                logger.error(
                    "the model has run one call for more than %.1f s (runners.timeout plus "
                    "%.1f s): this runner worker exits so that the supervisor replaces it",
                    limit_s,
                    STUCK_GRACE_S,
                )
                for handler in logging.getLogger().handlers:
                    handler.flush()
                os._exit(STUCK_EXIT_STATUS)

    thread = threading.Thread(target=watch, name="stuck-model-watch", daemon=True)
    thread.start()
    return thread
