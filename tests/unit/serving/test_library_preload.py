"""Library preload (``serving/library_preload.py``): which libraries are preloaded, which
topology each setting gives, and what a forked child gets of the parent's random state."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import bentoml_classic as bentoml
from bentoml_classic.serving.deployment_plan import runner_plan
from bentoml_classic.serving.library_preload import (
    LIBRARIES_ENV,
    libraries_loaded,
    libraries_to_preload,
    preload_libraries,
    preload_mode,
)
from bentoml_classic.serving.watchers import api_watcher, shared_runner
from tests.support.configs import config_of


class SingleThreaded(bentoml.Runnable):
    SUPPORTS_CPU_MULTI_THREADING = False

    @bentoml.Runnable.method(batchable=True)
    def predict(self, x: np.ndarray) -> np.ndarray:
        return x


def test_only_listed_libraries_the_service_imported_are_preloaded_in_import_order() -> None:
    loaded = {"os", "pandas", "torch", "sklearn", "scipy", "pyarrow", "numpy", "service"}
    assert libraries_loaded(loaded) == ["numpy", "pyarrow", "pandas"]
    assert libraries_loaded({"numpy", "numpy.random", "torch"}) == ["numpy"]
    # a framework is never imported before the fork, even when asked for
    assert preload_libraries(["torch", "sklearn"]) == []


def test_a_service_that_sets_thread_counts_at_import_loads_its_libraries_after_it() -> None:
    """numpy reads OMP_NUM_THREADS when it loads: loaded in the preforker, it would ignore what
    the service module sets before importing it, so nothing is preloaded then."""
    assert libraries_to_preload(["numpy"], {"MY_SETTING": "1"}) == ["numpy"]
    assert libraries_to_preload(["numpy"], {"OMP_NUM_THREADS": "4"}) is None
    assert libraries_to_preload(["numpy"], {"OPENBLAS_NUM_THREADS": "2"}) is None


def test_preload_keeps_its_meaning_and_library_preload_is_the_default() -> None:
    assert preload_mode(service=True, libraries=True) == "service"
    assert preload_mode(service=True, libraries=False) == "service"
    assert preload_mode(service=False, libraries=True) == "libraries"
    assert preload_mode(service=False, libraries=False) is None
    config = config_of()
    assert (config.api_server.preload, config.api_server.preload_libraries) == (False, True)
    assert (config.runner("any").preload, config.runner("any").preload_libraries) == (False, True)


def _shares(options: str) -> bool:
    config = config_of(options)
    runner = bentoml.Runner(SingleThreaded, name="model")
    plan = runner_plan(runner, 0, config)
    return shared_runner("service:svc", "/srv", plan, config, []) is not None


def test_a_single_threaded_runner_is_forked_beside_the_api_workers_by_default() -> None:
    assert _shares("")
    # either side off, or one side that runs the service module before the fork and one
    # that does not: the runner keeps a watcher of its own
    assert not _shares("runners.preload_libraries=false")
    assert not _shares("runners.model.preload_libraries=false")
    assert not _shares("api_server.preload_libraries=false")
    assert not _shares("runners.preload=true")
    assert not _shares("api_server.preload=true")
    assert _shares("api_server.preload=true runners.preload=true")


def _api_args(options: str, libraries: list[str] | None) -> tuple[list[str], dict[str, str]]:
    watcher = api_watcher(
        "service:svc", "/srv", "api", {}, config_of(options), workers=2, development=False,
        libraries=libraries,
    )  # fmt: skip
    return list(watcher.args), dict(watcher.env)


def test_the_api_watcher_hands_the_preforker_the_plans_libraries() -> None:
    args, env = _api_args("", ["numpy", "pandas"])
    assert args[:2] == ["-m", "bentoml_classic.serving.prefork"]
    assert args[args.index("--preload") + 1] == "libraries"
    assert env[LIBRARIES_ENV] == "numpy,pandas"
    # the whole module with preload, as before
    args, env = _api_args("api_server.preload=true", ["numpy"])
    assert args[args.index("--preload") + 1] == "service"
    assert LIBRARIES_ENV not in env
    # off, or no plan to read the libraries from (start-http-server): unforked, as before
    for options, libraries in (("api_server.preload_libraries=false", ["numpy"]), ("", None)):
        args, env = _api_args(options, libraries)
        assert args[:2] == ["-m", "bentoml_classic.serving.api_worker"]
        assert LIBRARIES_ENV not in env


#: forks two children before and two after preload_libraries, each reporting numpy's first
#: draw and the sum of a frame read back from parquet
_FORKED_DRAWS = """
import io, json, os, sys
import pandas as pd
import numpy.random
from bentoml_classic.serving.library_preload import preload_libraries

body = io.BytesIO()
pd.DataFrame({"a": [1.5, 2.5]}).to_parquet(body, engine="pyarrow")

def children():
    found = []
    for _ in range(2):
        read, write = os.pipe()
        if os.fork() == 0:
            frame = pd.read_parquet(io.BytesIO(body.getvalue()))
            os.write(write, json.dumps([int(numpy.random.randint(0, 2**62)),
                                        float(frame["a"].sum())]).encode())
            os._exit(0)
        os.close(write)
        found.append(json.loads(os.read(read, 200)))
        os.wait()
    return found

before = children()
imported = preload_libraries(["numpy", "pyarrow", "pandas"])
print(json.dumps({"before": before, "after": children(), "imported": imported,
                  "torch": "torch" in sys.modules}))
"""


def test_children_forked_after_a_library_preload_draw_their_own_random_numbers() -> None:
    """Forked without the reseed, two children draw the same numbers; with it they differ,
    and each reads parquet into a frame (pyarrow's allocator had a thread in the parent)."""
    out = subprocess.run(
        [sys.executable, "-c", _FORKED_DRAWS], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["imported"] == ["numpy", "pyarrow", "pandas"]
    assert report["torch"] is False
    (draw_1, sum_1), (draw_2, sum_2) = report["before"]
    assert draw_1 == draw_2  # the hazard: one state, seeded once in the parent
    (draw_3, sum_3), (draw_4, sum_4) = report["after"]
    assert draw_3 != draw_4
    assert sum_1 == sum_2 == sum_3 == sum_4 == 4.0
