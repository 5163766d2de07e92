"""Which batching each method of a runner gets, from its options and the configuration.

Precedence (DESIGN §4): ``method_configs`` > ``to_runner()`` arguments (both already folded into
``RunnerMethod.max_batch_size``/``max_latency_ms``) > ``runners.<name>`` > ``runners`` (folded
into the ``RunnerConfig`` by the configuration loader). Batching itself only sees the result.

A call larger than ``max_batch_size`` is cut into pieces only where a ``max_batch_size`` was
given (configuration, ``to_runner()`` or ``method_configs``): that is how a model says it cannot
take more rows at once. Under the default (classic's 100 rows) such a call runs whole, alone in
its batch: it is in memory whole already, and cutting a DataFrame costs many times what the
model does with it (docs/benchmarks.md, "Cutting large calls").

A queue is bounded by time (``max_latency_ms``) and by the bytes of inputs waiting in it
(``runners.batching.max_queue_bytes``, by default a share of the memory: ``batching/memory.py``),
not by rows, unless ``runners.batching.max_queue_size`` sets a bound in rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..batching.memory import default_queue_bytes
from ..batching.policy import BatchPolicy
from ..config import RunnerConfig

if TYPE_CHECKING:
    from .runner import RunnerMethod

#: rows in a batch when no max_batch_size is given anywhere (classic BentoML's default)
DEFAULT_MAX_BATCH_SIZE = 100


def resolve_policy(method: RunnerMethod, config: RunnerConfig) -> BatchPolicy | None:
    """The batching a method gets, or None when its calls run one by one."""
    if not method.config.batchable or not config.batching.enabled:
        return None
    batching = config.batching
    given = method.max_batch_size if method.max_batch_size is not None else batching.max_batch_size
    max_batch_size = given if given is not None else DEFAULT_MAX_BATCH_SIZE
    max_latency_ms = (
        method.max_latency_ms if method.max_latency_ms is not None else batching.max_latency_ms
    )
    queue_rows = batching.max_queue_size
    queue_bytes = batching.max_queue_bytes
    return BatchPolicy(
        max_batch_size=max_batch_size,
        max_latency_s=max_latency_ms / 1000,
        max_queue_rows=None if queue_rows is None else max(queue_rows, max_batch_size),
        max_queue_bytes=default_queue_bytes() if queue_bytes is None else queue_bytes,
        split_oversized=given is not None,
        input_dim=method.config.input_batch_dim,
        output_dim=method.config.output_batch_dim,
    )


def resolve_policies(
    methods: dict[str, RunnerMethod], config: RunnerConfig
) -> dict[str, BatchPolicy]:
    """The policy of each method that is batched; the others are left out."""
    return {
        name: policy
        for name, method in methods.items()
        if (policy := resolve_policy(method, config)) is not None
    }
