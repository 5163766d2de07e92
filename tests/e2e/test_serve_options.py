"""`bentoml serve` and the start commands with classic's options, as real processes.

HTTPS with certificates the test makes (trustme), in the production topology and the development
server; options that become configuration (`--config`, `--timeout`, `--backlog`,
`--timeout-keep-alive`, `--api-workers`), `serve .` reading bentofile.yaml; the documented
two-tier example on one host with no token configured; and start-ups that must stop with a
message naming what to fix: a bad TLS setting, a runner elsewhere without a token, a service
module that raises while it is imported.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from tests.support.process_roles import workers_by_role
from tests.support.servers import (
    E2E_SERVICES,
    IRIS,
    bentoml_command,
    free_port,
    output_of,
    serve_subprocess,
)
from tests.support.waiting import wait_for

PASSWORD = "correct horse"


class Certificates:
    """A CA, a server certificate for 127.0.0.1 and its key: plain, encrypted, and both in one
    file with the certificate."""

    def __init__(self, directory: Path) -> None:
        ca = trustme.CA()
        issued = ca.issue_cert("127.0.0.1")
        self.ca = directory / "ca.pem"
        self.cert = directory / "cert.pem"
        self.combined = directory / "server.pem"
        self.encrypted_key = directory / "key-encrypted.pem"
        ca.cert_pem.write_to_path(str(self.ca))
        issued.cert_chain_pems[0].write_to_path(str(self.cert))
        issued.private_key_and_cert_chain_pem.write_to_path(str(self.combined))
        key = serialization.load_pem_private_key(issued.private_key_pem.bytes(), None)
        self.encrypted_key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(PASSWORD.encode()),
            )
        )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def home_env(tmp_path: Path) -> dict[str, str]:
    return {"BENTOML_HOME": str(tmp_path / "home")}


def trusting(ca: Path) -> ssl.SSLContext:
    """A client context that trusts the test's CA (and nothing else)."""
    return ssl.create_default_context(cafile=str(ca))


def wait_until_https_ready(url: str, ca: Path, process: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"server exited:\n{output_of(process)}")
        try:
            return httpx.get(f"{url}/readyz", verify=trusting(ca), timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    assert wait_for(ready, 60, interval=0.1), output_of(process)


def listen_backlog(port: int) -> int:
    """The backlog the kernel holds for the socket listening on ``port`` (ss's Send-Q)."""
    line = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(line[2])


def seconds_until_an_idle_connection_is_closed(port: int, ca: Path) -> float:
    """Send one request on a kept-alive TLS connection, then time how long the server keeps
    the idle connection open."""
    context = trusting(ca)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += tls.recv(4096)
        assert received.startswith(b"HTTP/1.1 200"), received
        answered = time.monotonic()
        try:
            while tls.recv(4096):  # the rest of the body, then the server's close
                pass
        except (ssl.SSLError, ConnectionResetError):
            pass  # closed without a TLS close_notify: closed all the same
        return time.monotonic() - answered


needs_ss = pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")


@needs_ss
def test_serve_over_https_in_the_production_topology(
    certs: Certificates, home_env: dict[str, str]
) -> None:
    args = [
        *("runner_service:svc", "--host", "127.0.0.1", "--api-workers", "1"),
        *("--ssl-certfile", str(certs.cert), "--ssl-keyfile", str(certs.encrypted_key)),
        *("--timeout-keep-alive", "1", "--backlog", "77"),
    ]
    env = {**home_env, "BENTOML_SSL_KEYFILE_PASSWORD": PASSWORD}  # stays out of `ps`
    port = free_port()
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env, ready_path="", port=port) as (
        _,
        process,
    ):
        url = f"https://127.0.0.1:{port}"
        wait_until_https_ready(url, certs.ca, process)
        answer = httpx.post(f"{url}/sleep", json={"seconds": 0}, verify=trusting(certs.ca))
        assert answer.status_code == 200 and answer.json()["slept"] == 0
        assert f"on {url} with 1 API worker(s)" in output_of(process)
        # no plain HTTP on that port, and a client that does not trust the CA gets nothing
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/livez")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/livez")
        # --timeout-keep-alive 1 reaches uvicorn: the default would keep it open 5 s
        assert seconds_until_an_idle_connection_is_closed(port, certs.ca) < 4
        # --backlog reaches the socket, after the API worker has listened on it again
        assert listen_backlog(port) == 77


def test_the_development_server_serves_https(certs: Certificates, home_env: dict[str, str]) -> None:
    args = ["runner_service:svc", "--development", "--ssl-certfile", str(certs.combined)]
    port = free_port()
    with serve_subprocess(args, cwd=E2E_SERVICES, env=home_env, ready_path="", port=port) as (
        _,
        process,
    ):
        url = f"https://127.0.0.1:{port}"
        wait_until_https_ready(url, certs.ca, process)
        answer = httpx.post(f"{url}/sleep", json={"seconds": 0}, verify=trusting(certs.ca))
        assert answer.status_code == 200


def run_command(
    args: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*bentoml_command(), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


HTTP_COMMANDS = {
    "serve": ["serve", "runner_service:svc"],
    "start-http-server": [
        "start-http-server",
        "runner_service:svc",
        "--runner-map",
        '{"sleeper": "tcp://127.0.0.1:1"}',
    ],
}


@pytest.mark.parametrize("command", list(HTTP_COMMANDS))
def test_a_wrong_key_password_stops_start_up_naming_option_and_file(
    command: str, certs: Certificates, home_env: dict[str, str]
) -> None:
    args = [
        *HTTP_COMMANDS[command],
        *("--ssl-certfile", str(certs.cert), "--ssl-keyfile", str(certs.encrypted_key)),
        *("--ssl-keyfile-password", "guess"),
    ]
    result = run_command(args, E2E_SERVICES, home_env)
    assert result.returncode == 1, result.stderr
    assert "wrong --ssl-keyfile-password" in result.stderr
    assert str(certs.encrypted_key) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", list(HTTP_COMMANDS))
def test_a_missing_certificate_in_the_config_file_names_the_key_and_file(
    command: str, tmp_path: Path, home_env: dict[str, str]
) -> None:
    missing = tmp_path / "nowhere" / "cert.pem"
    config = tmp_path / "bentoml_configuration.yaml"
    config.write_text(f"api_server:\n  ssl:\n    certfile: {missing}\n")
    result = run_command([*HTTP_COMMANDS[command], "--config", str(config)], E2E_SERVICES, home_env)
    assert result.returncode == 1, result.stderr
    assert "api_server.ssl.certfile" in result.stderr and str(missing) in result.stderr


def test_serve_dot_with_config_and_options(tmp_path: Path, home_env: dict[str, str]) -> None:
    """`serve .` serves bentofile.yaml's service from --working-dir; --config is read like
    BENTOML_CONFIG (a 100-byte request limit), --timeout is the traffic timeout (504 after 1 s)
    and --api-workers the number of API worker processes."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(E2E_SERVICES / "runner_service.py", project)
    (project / "bentofile.yaml").write_text('service: "runner_service:svc"\n')
    config = tmp_path / "bentoml_configuration.yaml"
    config.write_text("api_server:\n  max_request_size: 100\n")
    args = [
        *(".", "--working-dir", str(project), "--config", str(config)),
        *("--timeout", "1", "--api-workers", "1"),
    ]
    with serve_subprocess(args, cwd=tmp_path, env=home_env) as (url, process):
        assert httpx.post(f"{url}/sleep", json={"seconds": 0}).status_code == 200
        too_large = httpx.post(f"{url}/sleep", json={"seconds": 0, "pad": "x" * 200})
        assert too_large.status_code == 413
        late = httpx.post(f"{url}/sleep", json={"seconds": 3}, timeout=30)
        assert late.status_code == 504
        api_workers = workers_by_role(process.pid)["api"]
        assert len(api_workers) == 1


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@needs_ss
def test_the_two_tier_example_on_one_host_needs_no_token(
    iris_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """README's two-tier commands, both tiers on this host, nothing set: the runner server
    writes a token to $BENTOML_HOME, the HTTP server reads it. No target: the example's
    bentofile.yaml names the service."""
    monkeypatch.delenv("BENTOML_RUNNER_TOKEN", raising=False)
    token_file = Path(iris_env["BENTOML_HOME"], "runner_token")
    runner_port = free_port()
    runner_args = ["--runner-name", "iris_clf", "--backlog", "33"]
    with serve_subprocess(
        runner_args,
        cwd=IRIS,
        env=iris_env,
        command="start-runner-server",
        ready_path="",
        port=runner_port,
    ) as (_, runner):
        assert wait_for(lambda: accepts(runner_port), 60), output_of(runner)
        assert wait_for(lambda: "token from" in output_of(runner), 30), output_of(runner)
        assert f"(token from {token_file})" in output_of(runner)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        runner_map = f'{{"iris_clf": "tcp://127.0.0.1:{runner_port}"}}'
        with serve_subprocess(
            ["--runner-map", runner_map, "--api-workers", "1"],
            cwd=IRIS,
            env=iris_env,
            command="start-http-server",
        ) as (url, _):
            assert httpx.post(f"{url}/classify", json=[[5.9, 3, 5.1, 1.8]]).json() == [2]
        assert listen_backlog(runner_port) == 33  # the runner worker listened again with it


def test_a_runner_on_another_host_without_a_token_says_what_to_set(
    iris_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENTOML_RUNNER_TOKEN", raising=False)
    runner_map = '{"iris_clf": "tcp://10.255.0.1:3001"}'
    result = run_command(["start-http-server", "--runner-map", runner_map], IRIS, iris_env)
    assert result.returncode == 1
    assert "BENTOML_RUNNER_TOKEN" in result.stderr and "10.255.0.1:3001" in result.stderr
    assert "Traceback" not in result.stderr


BROKEN_HELPER = """
def load_weights():
    raise RuntimeError("weights.bin is corrupt")
"""
BROKEN_SERVICE = """
import broken_helper

weights = broken_helper.load_weights()
"""

START_COMMANDS = {
    "serve": ["serve", "broken_service:svc"],
    "start-runner-server": ["start-runner-server", "broken_service:svc", "--runner-name", "r"],
    "start-http-server": ["start-http-server", "broken_service:svc", "--runner-map", "{}"],
}


@pytest.mark.parametrize("command", list(START_COMMANDS))
def test_a_service_that_raises_on_import_stops_with_the_users_own_traceback(
    command: str, tmp_path: Path, home_env: dict[str, str]
) -> None:
    (tmp_path / "broken_helper.py").write_text(textwrap.dedent(BROKEN_HELPER))
    (tmp_path / "broken_service.py").write_text(textwrap.dedent(BROKEN_SERVICE))
    result = run_command(START_COMMANDS[command], tmp_path, home_env)
    assert result.returncode == 1, result.stderr
    stderr = result.stderr
    assert "cannot import service 'broken_service:svc'" in stderr
    assert "Traceback (most recent call last)" in stderr
    assert 'broken_service.py", line 4, in <module>' in stderr
    assert 'broken_helper.py", line 3, in load_weights' in stderr
    assert stderr.rstrip().endswith("RuntimeError: weights.bin is corrupt")
    for internal in ("click", "bentoml_classic", "importlib"):
        assert internal not in stderr, internal
