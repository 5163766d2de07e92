"""What a real ``bentoml serve`` prints: every log line says when, how bad and which process
(supervisor, API worker N, runner NAME worker N, the development server), and each request is
one access line, unless ``--no-access-log``."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.servers import E2E_SERVICES, output_of, serve_subprocess
from tests.support.waiting import wait_for

RUNNER_SERVICE = ["runner_service:svc"]
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \[(?P<level>[A-Z]+)\] \[(?P<component>[^\]]+)\] "
    r"(?P<message>.*)$"
)
ACCESS = re.compile(
    r"^127\.0\.0\.1:\d+ \(scheme=http,method=(?P<method>\w+),path=(?P<path>\S+?),type=[^,]*,"
    r"length=\d*\) \(status=(?P<status>\d+),type=[^,]*,length=\d+\) \d+\.\d{3}ms "
    r"\(request_id=(?P<request_id>\w+)\)$"
)


@pytest.fixture
def home_env(tmp_path: Path) -> dict[str, str]:
    return {"BENTOML_HOME": str(tmp_path / "home")}


def log_lines(printed: str) -> list[re.Match[str]]:
    return [m for m in map(LOG_LINE.match, printed.splitlines()) if m]


def logged(printed: str, component: str, message: str) -> bool:
    """Whether ``component`` logged a line whose message matches ``message`` (a regex)."""
    return any(
        m["component"] == component and re.fullmatch(message, m["message"])
        for m in log_lines(printed)
    )


def access_line(printed: str, request_id: str) -> re.Match[str] | None:
    for line in log_lines(printed):
        access = ACCESS.match(line["message"])
        if access and access["request_id"] == request_id:
            assert line["level"] == "INFO" and line["component"].startswith("api_server:")
            return access
    return None


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    return output_of(process)


def test_production_lines_name_their_process(home_env: dict[str, str]) -> None:
    args = [*RUNNER_SERVICE, "--api-workers", "2"]
    env = {**home_env, "BENTOML_CONFIG_OPTIONS": "runners.resources.cpu=1"}  # one runner worker
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, process):
        for component in ("api_server:1", "api_server:2"):
            assert wait_for(
                lambda c=component: logged(output_of(process), c, "ready: serving runner_service")
            ), output_of(process)
        assert logged(output_of(process), "runner:sleeper:1", r"ready \(process \d+\)")

        ok = httpx.post(f"{url}/sleep", json={"seconds": 0})
        assert ok.status_code == 200
        assert wait_for(lambda: access_line(output_of(process), ok.headers["x-request-id"]))
        access = access_line(output_of(process), ok.headers["x-request-id"])
        assert access and (access["method"], access["path"], access["status"]) == (
            "POST",
            "/sleep",
            "200",
        )

        failed = httpx.post(f"{url}/fail", json={"message": "the model disliked it"})
        request_id = failed.headers["x-request-id"]
        assert failed.status_code == 500

        def error_logged() -> bool:
            return any(
                m["level"] == "ERROR"
                and m["component"].startswith("api_server:")
                and request_id in m["message"]
                for m in log_lines(output_of(process))
            )

        assert wait_for(error_logged), output_of(process)
        printed = stop(process)
    first, *rest = printed.splitlines()
    assert first.startswith("Serving runner_service on http://127.0.0.1:")  # the banner, as is
    # the runner's worker is forked beside the API workers (library preload, the default): the
    # API watcher's preforker stops it once they have drained, and the supervisor has one
    # watcher to stop
    assert logged(printed, "supervisor", "stopping api_server")
    assert access_line(printed, request_id)["status"] == "500"  # type: ignore[index]
    components = {m["component"] for m in log_lines(printed)}
    assert components == {"supervisor", "api_server:1", "api_server:2", "runner:sleeper:1"}
    # every line that starts with a time is a whole log line (the others continue one: a
    # traceback)
    stamped = [line for line in rest if re.match(r"\d{4}-\d\d-\d\dT", line)]
    assert stamped and all(LOG_LINE.match(line) for line in stamped)


def test_no_access_log_leaves_requests_out(home_env: dict[str, str]) -> None:
    args = [*RUNNER_SERVICE, "--api-workers", "1", "--no-access-log"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=home_env) as (url, process):
        response = httpx.post(f"{url}/sleep", json={"seconds": 0})
        assert response.status_code == 200
        printed = stop(process)  # an API worker writes what it has before it exits
    assert logged(printed, "api_server:1", "ready: serving runner_service")
    assert response.headers["x-request-id"] not in printed
    assert "method=POST" not in printed


def test_the_development_server_logs_as_dev_server(home_env: dict[str, str]) -> None:
    args = [*RUNNER_SERVICE, "--development"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=home_env) as (url, process):
        response = httpx.post(f"{url}/sleep", json={"seconds": 0})
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]

        def access_logged() -> bool:
            return any(
                m["component"] == "dev_server" and f"(request_id={request_id})" in m["message"]
                for m in log_lines(output_of(process))
            )

        assert wait_for(access_logged), output_of(process)
        printed = stop(process)
    assert logged(printed, "dev_server", r"Uvicorn running on http://127\.0\.0\.1:\d+ .*")
    assert {m["component"] for m in log_lines(printed)} == {"dev_server"}
