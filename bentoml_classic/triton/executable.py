"""Which ``tritonserver`` a Triton runner starts.

In this order: ``runners.<name>.triton.executable`` (one runner's own), ``BENTOML_TRITONSERVER``
(every runner's), ``tritonserver`` on PATH. A name without a slash is looked up on PATH; a
missing one stops start-up with a message that names the runner and says how to get Triton.
"""

from __future__ import annotations

import os
import shutil

from ..config import RunnerConfig
from ..exceptions import BentoMLException

TRITONSERVER_ENV = "BENTOML_TRITONSERVER"

HOW_TO_INSTALL = (
    "install Triton Inference Server (NVIDIA's tritonserver container or release), or use the "
    "server inside the nvidia-pytriton wheel: `pip install --no-deps --target ./pytriton "
    "nvidia-pytriton==0.7.0`, then `python examples/triton/tritonserver_from_pytriton.py "
    "./pytriton ./triton-bin` writes ./triton-bin/tritonserver; then put tritonserver on PATH, "
    f"set {TRITONSERVER_ENV}, or set runners.<name>.triton.executable"
)


def find_tritonserver(runner_name: str, config: RunnerConfig) -> str:
    """The absolute path of the ``tritonserver`` to start for ``runner_name``."""
    configured = config.triton.executable
    named, source = (
        (configured, f"runners.{runner_name}.triton.executable")
        if configured
        else (os.environ.get(TRITONSERVER_ENV) or "", TRITONSERVER_ENV)
    )
    if not named:
        named, source = "tritonserver", "PATH"
    found = shutil.which(named)
    if found is None:
        raise BentoMLException(
            f"Triton runner {runner_name!r}: no tritonserver found ({source} names "
            f"{named!r}, which is not an executable file): {HOW_TO_INSTALL}"
        )
    return os.path.abspath(found)
