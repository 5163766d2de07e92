"""A service whose module imports pandas and whose on_deployment hook sets the environment.

The supervisor must import neither (a child process plans the deployment), and what the hook
set must still reach every worker.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

import bentoml_classic as bentoml
from bentoml_classic.io import JSON

HOOK_VARIABLE = "DEPLOYMENT_HOOK_WAS_HERE"


class Reporter(bentoml.Runnable):
    @bentoml.Runnable.method
    def environment(self, _: object) -> dict[str, Any]:
        return {"pid": os.getpid(), "hook": os.environ.get(HOOK_VARIABLE)}


runner = bentoml.Runner(Reporter, name="reporter")
svc = bentoml.Service("deployment_service", runners=[runner])


@svc.on_deployment
def mark_the_environment() -> None:
    os.environ[HOOK_VARIABLE] = f"set in process {os.getpid()}, pandas {pd.__version__}"


@svc.api(input=JSON(), output=JSON())
def environment(payload: object) -> dict[str, Any]:
    return {
        "api": {"pid": os.getpid(), "hook": os.environ.get(HOOK_VARIABLE)},
        "runner": runner.environment.run(None),
    }
