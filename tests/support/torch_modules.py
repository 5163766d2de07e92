"""Small torch modules for the PyTorch adapter's tests: a module that the runner worker (or
``torch.load``) must find by name, so not defined in a test file run as ``__main__``."""

from __future__ import annotations

import torch
from torch import nn


class TinyMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TokenEmbedding(nn.Module):
    """Token ids in, vectors out: refuses float ids, as nn.Embedding does."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(16, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)


class Inspect(nn.Module):
    """Answers with what it was given: the input's dtype name, and whether inference mode was on
    and autograd off."""

    def forward(self, x: torch.Tensor) -> dict[str, object]:
        return {
            "dtype": str(x.dtype).removeprefix("torch."),
            "inference_mode": torch.is_inference_mode_enabled(),
            "grad_enabled": torch.is_grad_enabled(),
            "same": x,
        }
