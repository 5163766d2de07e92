"""The names the Triton runner, its handles and its forwarder agree on."""

from __future__ import annotations

#: what a handle's method name starts with when it asks for a management call rather than an
#: inference (a model directory's name cannot contain it)
MANAGE = "/"

#: the management calls of classic's guide, each an async method of the runner
MANAGEMENT_CALLS = (
    "load_model",
    "unload_model",
    "is_model_ready",
    "get_model_config",
    "get_model_metadata",
    "get_model_repository_index",
    "is_server_ready",
    "is_server_live",
)

#: where a forwarder finds its runner's ``tritonserver`` (``host:port``), set by the supervisor
TRITON_ADDRESS_ENV = "BENTOML_TRITON_ADDRESS"
