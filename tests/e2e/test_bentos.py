"""Bentos end to end, as a user runs them: ``bentoml build`` the iris example and delete its
model from the store, export the bento and import it on a "new machine" (an empty
BENTOML_HOME) and serve it from inside its folder, run the containerize context's entrypoint,
and run the Kubernetes manifests' commands as local processes (the runner server in the
production topology, its worker finding the bento's own model). docs/guide/bentos.md serves a
bento by tag."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.servers import (
    IRIS,
    bentoml_command,
    free_port,
    serve_subprocess,
    stop_process_group,
    wait_until_ready,
)

TAG = "iris_classifier:e2e"
ROW = [[5.9, 3.0, 5.1, 1.8]]


def bentoml(*args: str, env: dict[str, str], cwd: Path | str = ".", check: bool = True):
    result = subprocess.run(
        [*bentoml_command(), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"bentoml {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


@pytest.fixture(scope="module")
def built(iris_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A BENTOML_HOME of its own (the iris model copied in) with the iris bento built in it,
    then the model deleted from the model store: only the bento's own copy is left."""
    home = tmp_path_factory.mktemp("bentos_home")
    shutil.copytree(Path(iris_env["BENTOML_HOME"]) / "models", home / "models")
    env = {"BENTOML_HOME": str(home)}
    out = bentoml("build", str(IRIS), "--version", "e2e", env=env).stdout
    assert f'Bento(tag="{TAG}")' in out
    bentoml("models", "delete", "iris_clf", "-y", env=env)
    return env


def classify(url: str) -> object:
    return httpx.post(f"{url}/classify", json=ROW, timeout=30).json()


def test_export_import_and_serve_inside_the_bento_folder(
    built: dict[str, str], tmp_path: Path
) -> None:
    assert TAG in bentoml("list", env=built).stdout.splitlines()[1]
    assert "no models saved" in bentoml("models", "list", env=built).stdout
    archive = tmp_path / "iris.bento"
    bentoml("export", TAG, str(archive), env=built)
    new_machine = {"BENTOML_HOME": str(tmp_path / "new_home")}
    bentoml("import", str(archive), env=new_machine)
    again = bentoml("import", str(archive), env=new_machine, check=False)
    assert again.returncode == 1 and f"bento {TAG} already exists" in again.stderr
    assert "iris_clf:" in bentoml("models", "list", env=new_machine).stdout
    folder = bentoml("get", TAG, "-o", "path", env=new_machine).stdout.strip()
    with serve_subprocess(["--development"], cwd=folder, env=new_machine) as (url, _):
        assert classify(url) == [2]


@contextmanager
def process(
    command: list[str], env: dict[str, str], cwd: Path | str, ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    log = open(Path(cwd, f".log-{free_port()}"), "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        try:
            if ready_url:  # else another process's readiness says (an API tier's runners)
                wait_until_ready(ready_url, timeout=60, is_alive=lambda: proc.poll() is None)
        except (RuntimeError, TimeoutError) as exc:
            stop_process_group(proc)
            raise AssertionError(f"{exc}:\n{Path(log.name).read_text()}") from exc
        yield proc
    finally:
        stop_process_group(proc)
        log.close()


def local_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """What a container has: PATH with bentoml on it, a BENTOML_HOME of its own (empty)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "BENTOML_HOME": str(home), **(extra or {})}


def test_containerize_writes_a_context_whose_entrypoint_serves(
    built: dict[str, str], tmp_path: Path
) -> None:
    context = tmp_path / "context"
    # the wheel of bentoml_classic it adds by default is shown in docs/guide/bentos.md
    result = bentoml(
        "containerize", TAG, "--output-dir", str(context), "--no-framework-wheel", env=built
    )
    dockerfile = context / "env" / "docker" / "Dockerfile"
    command = f"build -f {dockerfile} -t {TAG} {context}"
    assert f"Build context for {TAG}: {context}" in result.stdout
    assert command in result.stdout + result.stderr
    lines = dockerfile.read_text().splitlines()
    assert lines[1] == f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    assert "RUN bash ./env/python/install.sh" in lines and "EXPOSE 3000" in lines
    assert lines[-2:] == ["EXPOSE 3000", 'ENTRYPOINT ["./env/docker/entrypoint.sh"]']
    assert any(line.startswith("USER 1034") for line in lines)
    assert (context / "models" / "iris_clf" / "latest").is_file()
    asked = bentoml(
        "containerize",
        TAG,
        "--build",
        "--no-framework-wheel",
        "--output-dir",
        str(tmp_path / "c2"),
        env=built,
        check=False,
    )
    if "Not building" in asked.stderr:  # no engine here: a build was asked for, so it fails
        assert asked.returncode == 1 and "docker build -f" in asked.stderr
    port = free_port()
    entrypoint = ["./env/docker/entrypoint.sh", "--port", str(port), "--development"]
    env = local_env(tmp_path / "container_home")
    with process(entrypoint, env, context, f"http://127.0.0.1:{port}/readyz"):
        assert classify(f"http://127.0.0.1:{port}") == [2]


KUBERNETES_MODELS = {
    "Deployment": "V1Deployment",
    "Service": "V1Service",
    "Secret": "V1Secret",
    "HorizontalPodAutoscaler": "V2HorizontalPodAutoscaler",
}


def test_kubernetes_manifests_load_and_their_commands_serve_together(
    built: dict[str, str], tmp_path: Path
) -> None:
    from kubernetes.client import ApiClient

    out = tmp_path / "k8s"
    bentoml("generate", "kubernetes", TAG, "-o", str(out), "--autoscale", "1:3", env=built)
    api = ApiClient()
    manifests = {}
    for file in sorted(out.iterdir()):
        document = yaml.safe_load(file.read_text())
        model = api._ApiClient__deserialize(document, KUBERNETES_MODELS[document["kind"]])
        # a key the client's models do not know would be dropped on the way back
        assert api.sanitize_for_serialization(model) == document, file.name
        manifests[(document["kind"], document["metadata"]["name"])] = document
    assert sorted(kind for kind, _ in manifests) == [
        "Deployment",
        "Deployment",
        "HorizontalPodAutoscaler",
        "HorizontalPodAutoscaler",
        "Secret",
        "Service",
        "Service",
    ]
    token = manifests[("Secret", "iris-classifier-runner-token")]["stringData"]
    runner = manifests[("Deployment", "iris-classifier-runner-iris-clf")]
    api_tier = manifests[("Deployment", "iris-classifier-api")]
    api_container = api_tier["spec"]["template"]["spec"]["containers"][0]
    assert api_container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api_container["livenessProbe"]["httpGet"]["path"] == "/livez"

    bento_path = bentoml("get", TAG, "-o", "path", env=built).stdout.strip()
    runner_port, api_port = free_port(), free_port()
    ports = {"3001": str(runner_port), "3000": str(api_port)}

    def local(container: dict) -> tuple[list[str], dict[str, str]]:
        """The container's command and env on this machine: the bento where the image holds
        it, loopback instead of 0.0.0.0 and the Services' names, free ports."""
        command = [
            bento_path if arg == "/home/bentoml/bento" else ports.get(arg, arg)
            for arg in container["command"]
        ]
        command = ["127.0.0.1" if arg == "0.0.0.0" else arg for arg in command]
        env = {}
        for item in container["env"]:
            if "valueFrom" in item:
                env[item["name"]] = token[item["valueFrom"]["secretKeyRef"]["key"]]
            else:
                value = item["value"].replace("iris-classifier-runner-iris-clf:3001", "")
                env[item["name"]] = value.replace("tcp://", f"tcp://127.0.0.1:{runner_port}")
        return command, env

    runner_command, runner_env = local(runner["spec"]["template"]["spec"]["containers"][0])
    api_command, api_env = local(api_container)
    assert json.loads(api_env["BENTOML_RUNNER_MAP"]) == {
        "iris_clf": f"tcp://127.0.0.1:{runner_port}"
    }
    home = tmp_path / "pod_home"
    cwd = tmp_path
    with process(runner_command, local_env(home, runner_env), cwd, ""):
        api_url = f"http://127.0.0.1:{api_port}"
        with process(api_command, local_env(home, api_env), cwd, f"{api_url}/readyz"):
            assert classify(api_url) == [2]
