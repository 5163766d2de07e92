"""What every worker process does first: die with its arbiter, and know its thread budget.

A worker must never outlive the arbiter, even one killed with SIGKILL (it then cannot stop us).
Linux delivers PR_SET_PDEATHSIG's signal when the parent dies; a daemon thread that polls the
parent pid covers the race where the parent died before prctl ran, and other platforms.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import sys
import threading
import time

logger = logging.getLogger(__name__)

ARBITER_PID_ENV = "BENTOML_ARBITER_PID"
_PR_SET_PDEATHSIG = 1
#: seconds a worker may spend draining after its arbiter vanished before it is forced out
ORPHAN_GRACE_SECONDS = 5.0


def die_with_parent() -> None:
    """Arrange to stop when the arbiter (our parent) goes away, however it goes."""
    expected = int(os.environ.get(ARBITER_PID_ENV) or os.getppid())
    set_parent_death_signal()
    if os.getppid() != expected:
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(
        target=_watch_parent, args=(expected,), name="parent-watch", daemon=True
    ).start()


def set_parent_death_signal() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (a fork clears it)."""
    if sys.platform.startswith("linux"):
        libc_name = ctypes.util.find_library("c")
        if libc_name:
            libc = ctypes.CDLL(libc_name, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _watch_parent(expected: int) -> None:
    while os.getppid() == expected:
        time.sleep(0.5)
    logger.warning("arbiter %d is gone: stopping worker %d", expected, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_SECONDS)
    os._exit(1)


def freeze_startup_objects() -> None:
    """Exempt everything alive once a worker has started (modules, the model) from collection.

    A full garbage collection otherwise walks every object of the frameworks and the model,
    hundreds of thousands of them, and stalls whichever request triggered it by tens of
    milliseconds; objects made per request are still collected as usual.
    """
    gc.collect()
    gc.freeze()
