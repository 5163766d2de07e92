"""Which batching each method of a runner gets, from its options and the configuration.

Precedence (DESIGN §4): ``method_configs`` > ``to_runner()`` arguments (both already folded into
``RunnerMethod.max_batch_size``/``max_latency_ms``) > ``runners.<name>`` > ``runners`` (folded
into the ``RunnerConfig`` by the configuration loader). Batching itself only sees the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..batching.policy import DEFAULT_QUEUE_BATCHES, BatchPolicy
from ..config import RunnerConfig

if TYPE_CHECKING:
    from .runner import RunnerMethod


def resolve_policy(method: RunnerMethod, config: RunnerConfig) -> BatchPolicy | None:
    """The batching a method gets, or None when its calls run one by one."""
    if not method.config.batchable or not config.batching.enabled:
        return None
    batching = config.batching
    max_batch_size = (
        method.max_batch_size if method.max_batch_size is not None else batching.max_batch_size
    )
    max_latency_ms = (
        method.max_latency_ms if method.max_latency_ms is not None else batching.max_latency_ms
    )
    queue_rows = batching.max_queue_size or max_batch_size * DEFAULT_QUEUE_BATCHES
    return BatchPolicy(
        max_batch_size=max_batch_size,
        max_latency_s=max_latency_ms / 1000,
        max_queue_rows=max(queue_rows, max_batch_size),
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
