"""What cutting a large call into ``max_batch_size`` pieces costs, against running it whole.

    python tests/benchmarks/bench_splitting.py [--repeat 200] [--sizes 100,1000,10000]

In one process, with nothing else running in it: a call of 1,000 and of 10,000 rows goes through
the runner worker's batching (``BatchQueue.put``, ``take`` until empty, ``run_batch``,
``finish_call``: what ``InlineBatcher`` does, without the event loop) with ``max_batch_size``
set to each of ``--sizes``, and once whole (a ``max_batch_size`` as large as the call). The
model is a batchable Runnable's method that sums each row: of a DataFrame of 8 float columns,
and of an ndarray of 8 float columns. Prints the median time per call of each and its ratio to
the whole call; the figures go into docs/benchmarks.md by hand, with the date and the load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: bentoml_classic is found from the repository

from bentoml_classic.batching.batch_queue import (  # noqa: E402
    BatchQueue,
    Call,
    finish_call,
    run_batch,
)
from bentoml_classic.batching.policy import BatchPolicy  # noqa: E402
from bentoml_classic.runner import Runnable  # noqa: E402

COLUMNS = [f"f{i}" for i in range(8)]


class RowSums(Runnable):
    SUPPORTED_RESOURCES = ("cpu",)
    SUPPORTS_CPU_MULTI_THREADING = False

    @Runnable.method(batchable=True)
    def frame(self, df: pd.DataFrame) -> pd.Series:
        return df.sum(axis=1)

    @Runnable.method(batchable=True)
    def array(self, x: np.ndarray) -> np.ndarray:
        return x.sum(axis=1)


def through_queue(func: Callable[[Any], Any], value: Any, max_batch_size: int) -> Any:
    """One call through the batching a runner worker applies, as ``InlineBatcher`` drives it."""
    policy = BatchPolicy(max_batch_size=max_batch_size)
    queue = BatchQueue(policy)
    call = Call((value,), {}, 0)
    queue.put(call)
    done: list[Call] = []
    while queue:
        batch, _ = queue.take()
        done.extend(run_batch(func, batch, policy))
    assert done == [call]
    result, error = finish_call(call, 0)
    assert error is None
    return result


def median_ms(work: Callable[[], Any], repeat: int) -> float:
    work()  # warm: first-call costs (imports, caches) are not what is compared
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--sizes", default="100,1000,10000")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    model = RowSums()
    rng = np.random.default_rng(0)
    print(f"{'input':<24}{'max_batch_size':>16}{'pieces':>8}{'ms/call':>10}{'vs whole':>10}")
    for rows in (1000, 10_000):
        array = rng.random((rows, 8))
        inputs: list[tuple[str, Callable[[Any], Any], Any]] = [
            (f"DataFrame {rows}x8", model.frame, pd.DataFrame(array, columns=COLUMNS)),
            (f"ndarray {rows}x8", model.array, array),
        ]
        for label, func, value in inputs:
            whole = median_ms(
                lambda f=func, v=value, n=rows: through_queue(f, v, n), options.repeat
            )
            print(f"{label:<24}{'whole':>16}{1:>8}{whole:>10.3f}{1.0:>9.2f}x")
            for size in sizes:
                if size >= rows:
                    continue
                cut = median_ms(
                    lambda f=func, v=value, s=size: through_queue(f, v, s), options.repeat
                )
                pieces = -(-rows // size)
                print(f"{label:<24}{size:>16}{pieces:>8}{cut:>10.3f}{cut / whole:>9.2f}x")


if __name__ == "__main__":
    main()
