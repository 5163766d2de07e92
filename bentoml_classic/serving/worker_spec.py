"""How the arbiter tells a worker process what to serve: one JSON document in the environment.

The environment (not argv) keeps runner maps and per-worker settings out of `ps` listings and
away from shell quoting, and Circus copies it to every process of a watcher unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

SPEC_ENV = "BENTOML_WORKER_SPEC"
TOKEN_ENV = "BENTOML_RUNNER_TOKEN"


@dataclass
class WorkerSpec:
    target: str
    working_dir: str
    development: bool = False
    #: API workers: runner name -> addresses of its workers (file:///x.sock or tcp://h:p)
    runner_map: dict[str, list[str]] = field(default_factory=dict)
    #: the dependencies of a composed service: service name -> addresses of its workers
    service_map: dict[str, list[str]] = field(default_factory=dict)
    #: a dependency's workers: which service of the target's graph they serve (None: the entry)
    service: str | None = None
    #: runner workers: which runner, and the environment of worker number i (1-based wid)
    runner: str | None = None
    worker_envs: list[dict[str, str]] = field(default_factory=list)
    #: runner workers: method name -> its BatchPolicy's fields, for the batchable methods.
    #: Resolved by the arbiter, so that a runner worker (the slowest process to start) need not
    #: load the configuration, and with it pydantic, a visible part of its start-up
    batch_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    grace_seconds: float = 20.0
    #: runner workers: the listening socket's backlog (the worker listens on it again)
    backlog: int = 2048
    #: the Linux scheduling policy of the worker's threads (scheduling.py)
    scheduling_policy: str = "inherit"
    #: how the worker's C heap keeps freed memory (``api_server.heap`` / ``runners.heap``,
    #: heap.py); empty: the defaults
    heap: dict[str, Any] = field(default_factory=dict)
    #: runner workers: the deployment's private directory, where failed starts are counted
    #: for the restart backoff (restart_backoff.py)
    state_dir: str | None = None
    #: runner workers: seconds one model call may run before the worker replaces itself
    #: (``runners.timeout`` plus a grace, stuck_model.py); None: never
    stuck_after_s: float | None = None
    #: TLS files (certfile, keyfile, ca_certs): a runner worker's for serving, an API worker's
    #: for calling ``tcps://`` runners (protocol/tls.py); empty: no TLS settings
    tls: dict[str, str | None] = field(default_factory=dict)
    #: API workers: the configuration the arbiter resolved, arguments included (``config.
    #: as_settings``); empty: the worker loads its own (BENTOML_CONFIG, ...)
    config: dict[str, Any] = field(default_factory=dict)
    #: API workers: HTTPS on the public socket (``http_tls.HttpTls``); empty: plain HTTP
    http_tls: dict[str, Any] = field(default_factory=dict)
    #: runner workers: their ``runners.metrics`` section (``enabled``, ``namespace``)
    metrics: dict[str, Any] = field(default_factory=dict)
    #: API workers: the runners are servers started on their own, which write their metrics
    #: elsewhere; ``/metrics`` asks them over the runner protocol
    runner_metrics_elsewhere: bool = False
    #: gRPC API workers: TLS on the gRPC port (certfile, keyfile, ca_certs); empty: plaintext
    grpc_tls: dict[str, str | None] = field(default_factory=dict)

    def to_env(self) -> dict[str, str]:
        return {SPEC_ENV: json.dumps(asdict(self))}

    @classmethod
    def from_env(cls) -> WorkerSpec:
        raw: dict[str, Any] = json.loads(os.environ[SPEC_ENV])
        return cls(**raw)


def runner_token() -> bytes | None:
    token = os.environ.get(TOKEN_ENV)
    return token.encode() if token else None
