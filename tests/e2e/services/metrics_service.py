"""A service that counts in its API and observes in its runnable: for the metrics tests."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import bentoml_classic as bentoml
from bentoml_classic.io import JSON
from bentoml_classic.metrics import Counter, Histogram

# made at import, in every process that imports the service (the arbiter too)
greetings = Counter("greetings", "Greetings made, by language", labelnames=["language"])
name_lengths = Histogram("name_lengths", "Letters per greeted name", buckets=(2, 4, 8))


class Greeter(bentoml.Runnable):
    SUPPORTS_CPU_MULTI_THREADING = False  # one worker per CPU of runners.resources.cpu

    @bentoml.Runnable.method
    def greet(self, name: str) -> dict[str, Any]:
        name_lengths.observe(len(name))
        return {"greeting": f"hello {name}", "runner_pid": os.getpid()}


runner = bentoml.Runner(Greeter, name="greeter")
svc = bentoml.Service("metrics_service", runners=[runner])


@svc.api(input=JSON(), output=JSON())
def greet(payload: dict[str, str]) -> dict[str, Any]:
    greetings.labels(language="en").inc()
    return {**runner.greet.run(payload["name"]), "api_pid": os.getpid()}


@svc.api(input=JSON(), output=JSON())
def hold(payload: dict[str, float]) -> dict[str, Any]:
    """Holds its API worker for a while, having written the worker's pid where the test
    reads it (``HOLD_PID_FILE``)."""
    Path(os.environ["HOLD_PID_FILE"]).write_text(str(os.getpid()))
    time.sleep(payload["seconds"])
    return {}
