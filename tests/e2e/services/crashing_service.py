"""A runner that fails to load while a flag file exists (``CRASH_FLAG``), and logs each attempt
to ``CRASH_LOG``: for the restart-backoff test."""

from __future__ import annotations

import os
from typing import Any

import bentoml_classic as bentoml
from bentoml_classic.io import JSON


class Flaky(bentoml.Runnable):
    def __init__(self) -> None:
        with open(os.environ["CRASH_LOG"], "a") as log:
            log.write("start\n")
        if os.path.exists(os.environ["CRASH_FLAG"]):
            raise RuntimeError("the model file is missing")

    @bentoml.Runnable.method
    def echo(self, value: Any) -> Any:
        return value


runner = bentoml.Runner(Flaky, name="flaky")
svc = bentoml.Service("crashing", runners=[runner])


@svc.api(input=JSON(), output=JSON())
def echo(value: Any) -> Any:
    return runner.echo.run(value)
