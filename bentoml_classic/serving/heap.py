"""Request memory kept in a worker's heap while it serves, handed back to the system at rest.

A bulk request allocates a few large buffers and frees them when it is answered: the body, the
columns a parser builds, the frame sent to the runner, the answer's text. glibc serves each
allocation over its mmap threshold (128 KiB at first, raised as large blocks are freed) with a
fresh mapping, and hands back the free memory at the top of its heap beyond its trim threshold
(twice the mmap threshold). Under a steady load of such requests the same memory leaves the
process and comes back on every request: the kernel zeroes each page again and takes a fault
on its first touch. On the CSV workload of bench_bulk.py that was about a fifth of the CPU of
the whole serving tree (docs/benchmarks.md, "The workers' heap").

A serving process knows better what it will need next: about what its last requests needed. So
each worker, once started, takes blocks of up to ``heap.retain_mb`` (32 MiB at most: glibc's
cap) from its heap (``M_MMAP_THRESHOLD``) and keeps up to ``heap.retain_mb`` of free memory at
the heap's top (``M_TRIM_THRESHOLD``), where the next requests reuse it without a fault. The
cost is memory held while the worker is busy. A worker that then rests (its threads use under
1 % of a CPU for ``heap.idle_trim_s``) collects the requests' cyclic garbage and hands back
every free page of its heaps (``malloc_trim(0)``), so an idle server holds about what it held
before the burst.

pyarrow allocates from its own pool (mimalloc by default), outside glibc's heap: its arenas kept
their pages after a burst, 27-42 MiB in one API worker after the bulk benchmark's workloads, and
``malloc_trim`` cannot reach them. So under the policy pyarrow's default pool becomes the system
allocator (at once where pyarrow is loaded already, else through ``ARROW_DEFAULT_MEMORY_POOL``
in the worker's environment), and pyarrow's buffers follow the same policy as the rest of the
request. ``ARROW_DEFAULT_MEMORY_POOL`` set by the user (pyarrow's own setting) is kept, as is
every pool with ``retain_mb: 0``.

Only glibc has these knobs: elsewhere (musl, macOS) the worker keeps its C library's policy.
Python's own small-object allocator is not changed.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_PR_SET_NAME = 15
#: the largest mmap threshold glibc accepts on a 64-bit system (HEAP_MAX_SIZE / 2)
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
#: a worker is resting when its CPU time grew by less than this share of the wall time
IDLE_CPU_SHARE = 0.01
#: CPU seconds a worker must have spent since its last trim for another to be worth making
BUSY_CPU_S = 0.05


@dataclass(frozen=True)
class HeapPolicy:
    """``api_server.heap`` / ``runners.heap``, as a worker receives them in its spec."""

    retain_mb: int = 32
    idle_trim_s: float = 2.0

    @classmethod
    def from_spec(cls, fields: dict[str, Any]) -> HeapPolicy:
        return cls(**fields) if fields else cls()


def _glibc() -> Any | None:
    """The process's C library, where it is glibc (the only one with these knobs)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (a lookup: glibc has it, others do not)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def _name_this_thread(libc: Any, name: bytes) -> None:
    """The name ``top -H`` and /proc/<pid>/task/<tid>/comm show for the calling thread (Python
    3.11 names none)."""
    libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name[:15]), 0, 0, 0)


def apply_heap_policy(policy: HeapPolicy) -> bool:
    """Keep up to ``policy.retain_mb`` of freed memory in this process, and start its idle
    trimmer; False where the C library is not glibc or the policy keeps glibc's own."""
    if policy.retain_mb <= 0:
        return False
    libc = _glibc()
    if libc is None:
        logger.debug("not glibc: the heap keeps the C library's own policy")
        return False
    retain = policy.retain_mb * 1024 * 1024
    # C int bounds: 2 GiB - 1 is more than any threshold glibc acts on differently
    trim_ok = libc.mallopt(_M_TRIM_THRESHOLD, min(retain, 2**31 - 1))
    mmap_ok = libc.mallopt(_M_MMAP_THRESHOLD, min(retain, MMAP_THRESHOLD_MAX))
    if not (trim_ok and mmap_ok):
        logger.warning("glibc refused the heap settings; the worker keeps its defaults")
        return False
    _arrow_into_the_heap()
    if policy.idle_trim_s > 0:
        IdleTrimmer(libc, policy.idle_trim_s).start()
    return True


def _arrow_into_the_heap() -> None:
    """pyarrow's default pool pointed at the system allocator, unless the environment names a
    pool: at once where pyarrow is loaded (buffers allocated before stay with the pool they came
    from), else through ``ARROW_DEFAULT_MEMORY_POOL``, which pyarrow reads when it first
    allocates (a worker that loads the service after its policy, pandas with it)."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is None:
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
        return
    try:
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    except Exception:  # a pyarrow too old, or built without it: its own pool stays
        logger.debug("pyarrow's memory pool left as it is", exc_info=True)


class IdleTrimmer:
    """Hands the heaps' free pages back once the worker has rested for ``idle_s`` seconds.

    A daemon thread that wakes once per ``idle_s``: it reads the process's CPU time (all
    threads), so it needs no hook in the request path and works the same in API, runner and
    service workers. It trims once per rest, and only after the worker did some work.
    """

    def __init__(self, libc: Any, idle_s: float) -> None:
        self._libc = libc
        self._idle_s = idle_s
        self.trims = 0

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._watch, name="heap-trim", daemon=True)
        thread.start()
        return thread

    def _watch(self) -> None:
        _name_this_thread(self._libc, b"heap-trim")
        last_cpu = since_trim = time.process_time()
        while True:
            time.sleep(self._idle_s)
            cpu = time.process_time()
            resting = cpu - last_cpu < self._idle_s * IDLE_CPU_SHARE
            last_cpu = cpu
            if resting and cpu - since_trim >= BUSY_CPU_S:
                self.trim()
                since_trim = time.process_time()

    def trim(self) -> None:
        # At rest nothing allocates, so the collector would not run: the last requests' cyclic
        # garbage (a traceback and its frames, say) would hold their buffers until the next burst.
        gc.collect()
        self._libc.malloc_trim(0)
        self.trims += 1
