"""Small models trained in the test itself: nothing is downloaded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression


def tiny_classifier(features: int = 2, seed: int = 0) -> LogisticRegression:
    """A logistic regression on ``features`` normal columns whose label is the last one's sign."""
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(seed).normal(size=(24, features))
    return LogisticRegression().fit(x, (x[:, -1] > 0).astype(int))
