"""How a batchable method's calls are batched: the settings every queue and batcher reads.

Which policy a runner method gets (from its options and the configuration) is decided with the
runner (``runner/policies.py``); batching only ever sees the result.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchPolicy:
    max_batch_size: int
    #: how long a call may wait in the queue; None: as long as it takes
    max_latency_s: float | None = None
    #: rows that may wait at once; None: no bound in rows (``runners.batching.max_queue_size``
    #: sets one; by default a queue is bounded by time and memory, not rows)
    max_queue_rows: int | None = None
    #: bytes of inputs that may wait at once (``containers.nbytes``); None: no bound in bytes
    max_queue_bytes: int | None = None
    #: cut a call larger than max_batch_size into pieces (else it runs alone, whole)
    split_oversized: bool = True
    input_dim: int = 0
    output_dim: int = 0
