"""The Linux scheduling policy of a worker's threads: ``SCHED_BATCH`` for API workers by default.

Under load, the threads of a worker keep waking one another: an API worker's event loop hands a
request to a pool thread, a batch leader wakes the callers whose answers came back, each caller
hands its result back to the loop. Under the default policy a woken thread preempts the thread
that woke it if that one has run for a while, and that one usually still holds the GIL (it woke
the other from Python). The woken thread then runs only to find the GIL taken, and sleeps again.
Over a ``wrk -c64`` run, the pool threads of a sync API worker switched about seven times
per request, most of them at the GIL.

``SCHED_BATCH`` threads do not preempt on wake-up: a woken thread runs once a CPU is free, or
at the next scheduler tick. By then the waker has usually released the GIL. The policy does not
change a thread's share of the CPU (the nice value still sets that), only when a woken thread
gets to run. An idle CPU still runs it at once, so a request on an idle server waits no longer.
Measured side by side, it serves more requests under load and leaves the p50 at concurrency 1
alone (figures: docs/benchmarks.md); the single-threaded in-process baseline gains nothing.

Runner workers keep the policy they were started with unless ``runners.scheduling_policy`` says
``batch``. The iris runner runs its model on its loop thread, so its threads do not hand work to
one another, and under ``SCHED_BATCH`` it served no more (docs/architecture.md).

A worker started under another policy (``chrt``, a container's settings) keeps it, whatever
the configuration says: the operator chose that one.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

#: ``batch``: SCHED_BATCH for every thread; ``inherit``: leave the policy the worker was started
#: with
POLICIES: tuple[str, ...] = ("batch", "inherit")


def _thread_ids() -> list[int]:
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:  # no procfs: the calling thread, whose policy new threads inherit
        return [0]


def apply_scheduling_policy(policy: str) -> bool:
    """Give every thread of this process ``policy``; True if a thread's policy was changed.

    Called early in a worker, before it starts its own threads: those inherit the policy of the
    thread that starts them. Threads that exist already (a parent watch, a BLAS pool started by
    an import) are changed one by one.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown scheduling policy {policy!r}; expected one of {POLICIES}")
    batch = getattr(os, "SCHED_BATCH", None)
    if policy == "inherit" or batch is None:  # batch is None: not Linux
        return False
    changed = False
    for tid in _thread_ids():
        try:
            if os.sched_getscheduler(tid) != os.SCHED_OTHER:
                continue  # started under a policy of the operator's choosing
            os.sched_setscheduler(tid, batch, os.sched_param(0))
            changed = True
        except OSError as exc:  # the thread has ended, or a sandbox forbids the call
            logger.debug("scheduling policy of thread %d left as it was: %s", tid, exc)
    return changed
