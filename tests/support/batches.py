"""Values for batching tests whose rows say which call they came from."""

from __future__ import annotations

from typing import Any

import numpy as np

from bentoml_classic.batching.policy import BatchPolicy


def tagged(tag: int, rows: int, dtype: Any = np.int64) -> np.ndarray:
    """``rows`` values that name their call: tag 3 with 2 rows is [300, 301]."""
    return (tag * 100 + np.arange(rows)).astype(dtype)


def segments(batch: np.ndarray) -> list[tuple[int, int]]:
    """A joined batch of tagged arrays as (tag, rows) per run of equal tags."""
    result: list[tuple[int, int]] = []
    for value in batch.tolist():
        tag = int(value) // 100
        if result and result[-1][0] == tag:
            result[-1] = (tag, result[-1][1] + 1)
        else:
            result.append((tag, 1))
    return result


def policy(max_batch_size: int = 4, **options: Any) -> BatchPolicy:
    return BatchPolicy(max_batch_size=max_batch_size, **options)
