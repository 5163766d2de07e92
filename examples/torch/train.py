"""Train the MLP on synthetic data (nothing is downloaded) and save it as ``torch_mlp``.

The feature means and spreads, which the service's pre-processing runner needs, are saved with
the model as a custom object.
"""

import argparse

import numpy as np
import torch
from model import CLASSES, FEATURES, HIDDEN, MLP

import bentoml_classic as bentoml

ROWS = 512
SEED = 21


def synthetic_data() -> tuple[np.ndarray, np.ndarray]:
    """Features on scales from 1 to 1000 (hence the standardising), classes from a fixed rule."""
    rng = np.random.default_rng(SEED)
    scales = np.logspace(0, 3, FEATURES)
    x = rng.normal(size=(ROWS, FEATURES)) * scales + 10 * scales
    rule = rng.normal(size=(FEATURES, CLASSES))
    y = ((x - 10 * scales) / scales @ rule).argmax(axis=1)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hidden", type=int, default=HIDDEN, help="width of the hidden layers")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    x, y = synthetic_data()
    mean, std = x.mean(axis=0), x.std(axis=0)
    inputs = torch.from_numpy((x - mean) / std).float()
    targets = torch.from_numpy(y)
    model = MLP(args.hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(8):  # full batches: a few seconds on a laptop's CPU
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        optimiser.step()
    accuracy = float((model.predict(inputs) == targets).float().mean())
    saved = bentoml.pytorch.save_model(
        "torch_mlp",
        model,
        # batchable: concurrent requests are answered by one predict() call on all their rows;
        # float64 rows from JSON become float32, the weights' dtype (ints would too, strings not)
        signatures={
            "predict": {
                "batchable": True,
                "batch_dim": 0,
                "input_spec": {"dtype": "float32", "shape": [-1, FEATURES]},
            }
        },
        metadata={"training_accuracy": accuracy},
        custom_objects={"feature_stats": {"mean": mean, "std": std}},
    )
    print(f"Model saved: {saved.tag} (training accuracy {accuracy:.2f})")


if __name__ == "__main__":
    main()
