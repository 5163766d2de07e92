"""The classic HTTP surface against `bentoml serve`, in the production topology and with
--development: Context, streamed answers, mounted apps, middlewares, CORS from configuration."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import (
    E2E_SERVICES,
    bentoml_command,
    free_port,
    output_of,
    serve_subprocess,
)
from tests.support.waiting import WAIT, wait_for

SERVICE = "http_features_service:svc"
ORIGIN = "http://page.example"
CORS = " ".join(
    [
        "api_server.http.cors.enabled=true",
        f"api_server.http.cors.access_control_allow_origins={ORIGIN}",
        "api_server.http.cors.access_control_allow_methods=[POST]",
    ]
)

Served = tuple[str, "subprocess.Popen[bytes]"]


@pytest.fixture(scope="module", params=["production", "development"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("home")
    args = [SERVICE] + (["--development"] if request.param == "development" else [])
    env = {"BENTOML_HOME": str(home), "BENTOML_CONFIG_OPTIONS": CORS}
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (url, process):
        yield url, process


def test_context_headers_cookies_status_and_hook_state(served: Served) -> None:
    url, _ = served
    response = httpx.post(
        f"{url}/context?a=1", json={}, headers={"x-client": "e2e"}, cookies={"seen": "yes"}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["query"] == {"a": "1"}
    assert body["header"] == "e2e"
    assert body["cookies"] == {"seen": "yes"}
    assert body["started_by_hook"] is True
    assert "no request is being served" in body["hook_request_error"]
    assert response.headers.get_list("x-custom-header") == ["value", "again"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("session=abc")
    assert {"path=/context", "secure", "httponly", "samesite=none"} <= {
        part.strip().lower() for part in cookie.split(";")
    }


def test_a_stream_s_first_chunk_arrives_before_its_last_is_made(
    served: Served, tmp_path: Path
) -> None:
    url, _ = served
    signal = tmp_path / "go"
    with httpx.stream("POST", f"{url}/stream", content=str(signal), timeout=WAIT) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        lines = response.iter_lines()
        assert next(lines) == "first"
        # the generator is now waiting for this file: nothing was buffered up to its end
        signal.touch()
        assert list(lines) == ["second"]


def test_a_broken_stream_is_cut_logged_with_its_request_id_and_the_worker_serves_on(
    served: Served,
) -> None:
    url, process = served
    received: list[str] = []
    with httpx.stream("POST", f"{url}/broken_stream", content="purpose") as response:
        request_id = response.headers["x-request-id"]
        with pytest.raises(httpx.RemoteProtocolError):
            received.extend(response.iter_text())
    assert received == ["partial\n"]
    assert wait_for(
        lambda: any(
            request_id in line and "RuntimeError" in line
            for line in output_of(process).splitlines()
        )
    ), output_of(process)
    assert httpx.post(f"{url}/context", json={}).status_code == 202


def test_mounted_apps_and_the_middleware(served: Served) -> None:
    url, _ = served
    page = httpx.get(f"{url}/ui/page")
    assert page.text == "ui /ui/page"
    assert page.headers["x-served-by"].isdigit()
    assert httpx.get(f"{url}/legacy/old").text == "wsgi /old"
    assert httpx.get(f"{url}/readyz").headers["x-served-by"].isdigit()
    assert httpx.post(f"{url}/context", json={}).headers["x-served-by"].isdigit()
    # outside every mount: our 404 envelope
    missing = httpx.get(f"{url}/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"


def test_cors_from_the_configuration(served: Served) -> None:
    url, _ = served
    headers = {"origin": ORIGIN, "access-control-request-method": "POST"}
    allowed = httpx.options(f"{url}/context", headers=headers)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    refused = httpx.options(f"{url}/context", headers={**headers, "origin": "http://other.example"})
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "BadInput"
    simple = httpx.post(f"{url}/context", json={}, headers={"origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize(
    ("option", "key"),
    [
        (
            "api_server.http.cors.access_control_allow_origin_regex=(unclosed",
            "access_control_allow_origin_regex",
        ),
        ("api_server.http.cors.access_control_max_age=soon", "access_control_max_age"),
    ],
)
def test_a_bad_cors_setting_stops_start_up_naming_the_key(
    tmp_path: Path, option: str, key: str
) -> None:
    result = subprocess.run(
        [*bentoml_command(), "serve", SERVICE, "--port", str(free_port())],
        cwd=E2E_SERVICES,
        env={
            **os.environ,
            "BENTOML_HOME": str(tmp_path),
            "BENTOML_CONFIG_OPTIONS": option,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"api_server.http.cors.{key}" in result.stderr
