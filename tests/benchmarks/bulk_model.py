"""The "model" of the bulk benchmark, shared by its bentoml service and its raw apps.

Both sides must compute exactly the same thing, so that the benchmark compares serving and not
arithmetic: a frame's row sums, and an ndarray of 784 features per row projected onto 10
outputs by a fixed, seeded weight matrix (an MNIST-sized linear layer).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = 784
WEIGHTS = np.random.default_rng(784).random((FEATURES, 10), dtype=np.float32)


def row_sums(frame: pd.DataFrame) -> np.ndarray:
    return frame.sum(axis=1).to_numpy()


def project(rows: np.ndarray) -> np.ndarray:
    return rows @ WEIGHTS
