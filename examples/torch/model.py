"""The classifier of this example: a multilayer perceptron over 8 features, 3 classes.

It lives in a module of its own, not in ``train.py``: the saved model names this class, and the
runner worker that loads it imports the service's directory, never the training script.
"""

import torch
from torch import nn

FEATURES = 8
CLASSES = 3
#: wide enough that one row at a time leaves most of the work undone: each call reads every
#: weight once, whatever the number of rows (docs/benchmarks.md, "The PyTorch example")
HIDDEN = 1024


class MLP(nn.Module):
    def __init__(self, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(FEATURES, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The class of each row (int64)."""
        return self.forward(x).argmax(dim=1)
