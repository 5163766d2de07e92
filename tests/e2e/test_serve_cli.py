"""`bentoml serve` as a process: reload, stop on SIGTERM, clear errors when it cannot start."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import bentoml_command, serve_subprocess

SERVICE_TEMPLATE = textwrap.dedent(
    """
    import bentoml_classic as bentoml
    from bentoml_classic.io import Text

    svc = bentoml.Service("reloading")

    @svc.api(input=Text(), output=Text())
    def hello(name: str) -> str:
        return "{greeting} " + name
    """
)


#: the same service written as a class (issue 19): --reload must work for it as for the above
CLASS_SERVICE_TEMPLATE = textwrap.dedent(
    """
    import bentoml_classic as bentoml

    @bentoml.service
    class Reloading:
        @bentoml.api
        def hello(self, name: str) -> str:
            return "{greeting} " + name
    """
)


def write_service(directory: Path, greeting: str, template: str = SERVICE_TEMPLATE) -> None:
    (directory / "reload_service.py").write_text(template.format(greeting=greeting))


@pytest.mark.parametrize(
    ("template", "target", "body"),
    [
        (SERVICE_TEMPLATE, "reload_service:svc", {"content": "ada"}),
        (CLASS_SERVICE_TEMPLATE, "reload_service:Reloading", {"json": {"name": "ada"}}),
    ],
    ids=["classic", "class"],
)
def test_reload_picks_up_a_code_change(
    tmp_path: Path, template: str, target: str, body: dict[str, Any]
) -> None:
    write_service(tmp_path, "hello", template)
    env = {"BENTOML_HOME": str(tmp_path / "home")}
    with serve_subprocess([target, "--reload"], cwd=tmp_path, env=env) as (url, _):
        assert httpx.post(f"{url}/hello", **body).text == "hello ada"
        write_service(tmp_path, "bonjour", template)
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.post(f"{url}/hello", timeout=5, **body).text
            except httpx.TransportError:
                answer = None  # between the old worker stopping and the new one listening
            if answer == "bonjour ada":
                break
            time.sleep(0.2)
        assert answer == "bonjour ada"


def test_sigterm_stops_the_server(tmp_path: Path) -> None:
    write_service(tmp_path, "hi")
    env = {"BENTOML_HOME": str(tmp_path / "home")}
    with serve_subprocess(["reload_service:svc"], cwd=tmp_path, env=env) as (url, process):
        assert httpx.post(f"{url}/hello", content="x").status_code == 200
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert process.returncode is not None


def run_serve(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*bentoml_command(), "serve", *args],
        cwd=cwd,
        env={**os.environ, "BENTOML_HOME": str(cwd / "home")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_module_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    result = run_serve(["no_such_module:svc"], tmp_path)
    assert result.returncode != 0
    assert "no_such_module" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_attribute_names_it(tmp_path: Path) -> None:
    write_service(tmp_path, "hi")
    result = run_serve(["reload_service:nope"], tmp_path)
    assert result.returncode == 1
    assert "'reload_service:nope'" in result.stderr  # the target as given
    assert "'nope'" in result.stderr and "['svc']" in result.stderr  # what the module has
    assert "Traceback" not in result.stderr


def test_no_target_without_bentofile_explains_usage(tmp_path: Path) -> None:
    result = run_serve([], tmp_path)
    assert result.returncode != 0
    assert "MODULE:SVC" in result.stderr


def test_target_from_bentofile(tmp_path: Path) -> None:
    write_service(tmp_path, "howdy")
    (tmp_path / "bentofile.yaml").write_text('service: "reload_service:svc"\n')
    env = {"BENTOML_HOME": str(tmp_path / "home")}
    with serve_subprocess([], cwd=tmp_path, env=env) as (url, _):
        assert httpx.post(f"{url}/hello", content="ada").text == "howdy ada"
