"""Each process of the production tree imports only what it needs (issue 17).

pandas 3 imports pyarrow whenever it is installed, and torch weighs hundreds of MiB: a process
that imports either without using it costs every deployment that much memory per process. The
API worker and the runner worker of a numpy-only service report the modules they have loaded;
the supervisor, which cannot be asked, is read from the shared libraries it has mapped.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psutil

from tests.support.process_roles import workers_by_role
from tests.support.servers import E2E_SERVICES, serve_subprocess

#: shared libraries that show a library was imported: pandas' and pyarrow's, torch's, sklearn's
LIBRARY_FILES = ("/pandas/_libs/", "/pyarrow/", "/torch/", "/sklearn/")


def mapped_libraries(pid: int) -> set[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {library for library in LIBRARY_FILES if library in maps}


def test_every_process_of_a_numpy_service_imports_only_what_it_needs(tmp_path: Path) -> None:
    env = {"BENTOML_HOME": str(tmp_path / "home")}
    with serve_subprocess(
        ["imports_service:svc", "--api-workers", "1"], cwd=E2E_SERVICES, env=env
    ) as (url, process):
        response = httpx.post(f"{url}/modules", json=[1.0, 2.0], timeout=30)
        assert response.status_code == 200, response.text
        loaded = json.loads(response.text)
        workers = psutil.Process(process.pid).children(recursive=True)
        roles = workers_by_role(process.pid)
        supervisor_libraries = mapped_libraries(process.pid)
        worker_libraries = {worker.pid: mapped_libraries(worker.pid) for worker in workers}

    # the API worker: the HTTP stack and the numpy descriptor, nothing of pandas, pyarrow, torch,
    # nor the descriptors and clients this service does not use, nor the supervisor's tools
    assert set(loaded["api"]) == {
        "starlette",
        "uvicorn",
        "httptools",
        "bentoml_classic.http",
        "pydantic",
        "bentoml_classic.config",
    }, loaded["api"]
    # the runner worker: the service and its model's libraries, no HTTP stack, no configuration
    assert loaded["runner"] == [], loaded["runner"]
    assert supervisor_libraries == set(), supervisor_libraries
    # the API worker, the runner's worker (multi-threaded: started by Circus), and the
    # preforker that forked the API worker after importing numpy (library preload): none maps
    # pandas, pyarrow, torch or sklearn
    assert (len(roles["api"]), len(roles["runner"]), len(worker_libraries)) == (1, 1, 3)
    assert all(libraries == set() for libraries in worker_libraries.values()), worker_libraries


def test_the_supervisor_imports_no_service_and_the_deployment_hooks_env_reaches_workers(
    tmp_path: Path,
) -> None:
    """The service module imports pandas: its workers map pandas, the supervisor does not
    (a short-lived child imported the service and ran its on_deployment hook), and the
    variable the hook set is in every worker's environment."""
    env = {"BENTOML_HOME": str(tmp_path / "home")}
    with serve_subprocess(
        ["deployment_service:svc", "--api-workers", "1"], cwd=E2E_SERVICES, env=env
    ) as (url, process):
        response = httpx.post(f"{url}/environment", json={}, timeout=30)
        assert response.status_code == 200, response.text
        seen = json.loads(response.text)
        workers = psutil.Process(process.pid).children(recursive=True)
        supervisor_libraries = mapped_libraries(process.pid)
        worker_libraries = [mapped_libraries(worker.pid) for worker in workers]

    hook_value = seen["api"]["hook"]
    assert hook_value and hook_value.startswith("set in process "), seen
    # it ran once, in a process that is neither the supervisor nor a worker
    hook_pid = int(hook_value.split()[3].rstrip(","))
    assert hook_pid not in {process.pid, seen["api"]["pid"], seen["runner"]["pid"]}
    assert seen["runner"]["hook"] == hook_value, seen
    assert "/pandas/_libs/" not in supervisor_libraries, supervisor_libraries
    assert len(worker_libraries) >= 2  # an API worker and the runner's (one per CPU)
    assert all("/pandas/_libs/" in libraries for libraries in worker_libraries), worker_libraries
