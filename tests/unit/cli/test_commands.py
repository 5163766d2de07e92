"""The commands' surface: options as classic spells them, help that reads, and what an option
does before anything is served (``--config``, refusals). Serving itself: tests/e2e."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bentoml_classic.cli import cli
from bentoml_classic.cli.options import use_config_file

HTTPS_OPTIONS = [
    "--ssl-certfile",
    "--ssl-keyfile",
    "--ssl-keyfile-password",
    "--ssl-version",
    "--ssl-cert-reqs",
    "--ssl-ca-certs",
    "--ssl-ciphers",
]
HTTP_OPTIONS = ["--backlog", "--timeout", "--timeout-keep-alive", "--timeout-graceful-shutdown"]


@pytest.mark.parametrize("command", ["serve", "start-http-server"])
def test_http_commands_take_classics_options(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    for option in [*HTTPS_OPTIONS, *HTTP_OPTIONS, "--config", "--working-dir", "--api-workers"]:
        assert option in result.output, option


def test_serve_help_reads_well() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"], prog_name="bentoml")
    assert result.exit_code == 0
    text = result.output
    assert text.startswith("Usage: bentoml serve [OPTIONS] [TARGET]")
    assert "bentofile.yaml" in text  # what no TARGET means
    for option in ["--host", "--port", "--development", "--reload"]:
        assert option in text
    # every line fits a 100-column terminal, and each default names its configuration key
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "api_server.traffic.timeout" in text and "api_server.http.port" in text


def test_start_runner_server_takes_classics_options() -> None:
    result = CliRunner().invoke(cli, ["start-runner-server", "--help"])
    assert result.exit_code == 0
    for option in ["--runner-name", "--port", "--host", "--backlog", "--timeout", "--config"]:
        assert option in result.output


@pytest.mark.parametrize("command", ["serve", "start-http-server", "start-runner-server"])
def test_a_missing_tls_file_is_refused_naming_option_and_file(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    result = CliRunner().invoke(
        cli,
        [command, "service:svc", "--runner-name", "r", "--ssl-certfile", str(missing)]
        if command == "start-runner-server"
        else [command, "service:svc", "--ssl-certfile", str(missing)],
    )
    assert result.exit_code != 0
    assert "--ssl-certfile" in result.output and "missing.pem" in result.output


def test_a_missing_config_file_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "service:svc", "--config", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--config" in result.output


def test_config_is_the_same_as_setting_bentoml_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # set, then removed: monkeypatch then restores the variable's absence after the test, also
    # undoing what use_config_file writes to os.environ
    monkeypatch.setenv("BENTOML_CONFIG", "placeholder")
    monkeypatch.delenv("BENTOML_CONFIG")
    use_config_file(None)
    assert "BENTOML_CONFIG" not in os.environ
    use_config_file(str(tmp_path / "bentoml_configuration.yaml"))
    assert os.environ["BENTOML_CONFIG"] == str(tmp_path / "bentoml_configuration.yaml")
