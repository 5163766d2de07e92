"""bentoml_classic: serve scikit-learn, PyTorch and any Python model with the classic BentoML API.

    import bentoml_classic as bentoml
    runner = bentoml.sklearn.get("iris_clf:latest").to_runner()
    svc = bentoml.Service("iris_classifier", runners=[runner])

Framework adapters, IO descriptors, the model store, user metrics (``metrics``) and the Python
client (``client``) load on first use, so that importing the package stays cheap for API workers
that never touch them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import exceptions
from .classic_service import Service
from .composition import depends
from .context import Context, Cookie
from .runner import Runnable, Runner
from .service_classes import api, service
from .tag import Tag

if TYPE_CHECKING:
    from . import bentos, client, io, metrics, models
    from .frameworks import picklable_model, pytorch, sklearn

__version__ = "0.1.0"

_LAZY_MODULES = {
    "bentos": "bentoml_classic.bentos",
    "client": "bentoml_classic.client",
    "io": "bentoml_classic.io",
    "metrics": "bentoml_classic.metrics",
    "models": "bentoml_classic.models",
    "sklearn": "bentoml_classic.frameworks.sklearn",
    "picklable_model": "bentoml_classic.frameworks.picklable_model",
    "pytorch": "bentoml_classic.frameworks.pytorch",
    "triton": "bentoml_classic.triton",
}

__all__ = [
    "Context",
    "Cookie",
    "Runnable",
    "Runner",
    "Service",
    "Tag",
    "__version__",
    "api",
    "bentos",
    "client",
    "depends",
    "exceptions",
    "io",
    "metrics",
    "models",
    "picklable_model",
    "pytorch",
    "service",
    "sklearn",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY_MODULES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bentoml_classic' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    globals()[name] = module
    return module
