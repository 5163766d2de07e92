"""A service whose runner can sleep, fail and report its environment: for the process tests."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import bentoml_classic as bentoml
from bentoml_classic.io import JSON


class Sleeper(bentoml.Runnable):
    SUPPORTS_CPU_MULTI_THREADING = False

    def __init__(self) -> None:
        time.sleep(float(os.environ.get("SLOW_INIT_SECONDS", "0")))
        # INIT_GATE: a file whose existence the runner waits for (at most a minute), so that a
        # test decides when the runner becomes ready, whatever the machine's load
        gate = os.environ.get("INIT_GATE")
        deadline = time.monotonic() + 60
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.05)

    @bentoml.Runnable.method
    def sleep(self, seconds: float) -> dict[str, Any]:
        marker = os.environ.get("SLEEP_MARKER")  # tells a test that a call is in the runner
        if marker and seconds:
            with open(marker, "a") as file:
                file.write(f"{os.getpid()}\n")
        time.sleep(seconds)
        return {"pid": os.getpid(), "slept": seconds}

    @bentoml.Runnable.method
    def fail(self, message: str) -> None:
        raise ValueError(message)

    @bentoml.Runnable.method
    def environment(self, _: object) -> dict[str, Any]:
        names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
        return {"pid": os.getpid(), **{name: os.environ.get(name) for name in names}}


runner = bentoml.Runner(Sleeper, name="sleeper")
svc = bentoml.Service("runner_service", runners=[runner])


@svc.api(input=JSON(), output=JSON())
def sleep(payload: dict[str, float]) -> dict[str, Any]:
    return runner.sleep.run(payload["seconds"])


@svc.api(input=JSON(), output=JSON())
async def async_sleep(payload: dict[str, float]) -> dict[str, Any]:
    return await runner.sleep.async_run(payload["seconds"])


@svc.api(input=JSON(), output=JSON())
def fail(payload: dict[str, str]) -> None:
    runner.fail.run(payload["message"])


@svc.api(input=JSON(), output=JSON())
def environment(payload: object) -> dict[str, Any]:
    return runner.environment.run(None)


@svc.api(input=JSON(), output=JSON())
def where(payload: object) -> dict[str, Any]:
    """The API worker thread that ran this sync function, which calls the runner as iris does."""
    runner.sleep.run(0)
    return {"thread": threading.current_thread().name}


@svc.api(input=JSON(), output=JSON())
def sleep_where(payload: dict[str, float]) -> dict[str, Any]:
    """``sleep``, and the API worker thread that ran it (the loop's, once it runs inline)."""
    return {**runner.sleep.run(payload["seconds"]), "thread": threading.current_thread().name}
