"""How much memory this process may count on, and so how many bytes a batching queue may hold.

A queue bounded in rows sheds calls for the wrong reason: sixteen clients sending 1,000-row
frames overflowed a bound of 32 batches of 100 rows while the runner worked normally. What a
queue must not do is hold more inputs than the process can keep in memory, so by default it is
bounded in bytes, by a share of the memory of the machine or of the cgroup (container) the
process runs in, whichever is smaller.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

#: each batching queue (one per batchable method, in each API and runner worker) may hold
#: inputs up to this share of the memory: a deployment has a few such queues, and the inputs
#: waiting are only part of what its processes hold
QUEUE_MEMORY_SHARE = 1 / 32

#: cgroup v2, then v1: a container's memory limit ("max" or a huge number: none)
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
#: what is assumed where neither the machine nor a cgroup says (no sysconf)
_UNKNOWN_MEMORY = 4 * 1024**3


def _cgroup_limit(paths: tuple[Path, ...] = _CGROUP_LIMITS) -> int | None:
    for path in paths:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def memory_limit(cgroup_paths: tuple[Path, ...] = _CGROUP_LIMITS) -> int:
    """The memory this process may use: the machine's, or its cgroup's limit if smaller."""
    known = [size for size in (_physical_memory(), _cgroup_limit(cgroup_paths)) if size]
    return min(known) if known else _UNKNOWN_MEMORY


@cache
def default_queue_bytes() -> int:
    """The bytes of inputs a batching queue may hold unless configured otherwise."""
    return int(memory_limit() * QUEUE_MEMORY_SHARE)
