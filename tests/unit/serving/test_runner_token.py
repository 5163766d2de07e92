"""The two-tier token: given (``--token``, ``BENTOML_RUNNER_TOKEN``), else generated once per
host under ``$BENTOML_HOME``, readable by its owner only; runners on other hosts need it set."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.serving.runner_token import (
    host_token,
    http_server_token,
    runner_server_token,
    token_path,
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENTOML_RUNNER_TOKEN", raising=False)
    return tmp_path / "home"


def test_the_first_tier_creates_the_token_readable_by_its_owner_only(home: Path) -> None:
    token, source = runner_server_token(None)
    path = home / "runner_token"
    assert source == str(path) == token_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 40  # 32 random bytes, url-safe base64
    assert path.read_text().strip() == token
    # the other tier on this host reads the same
    assert http_server_token(None, ["tcp://127.0.0.1:3001"]) == token
    assert host_token() == token
    assert os.listdir(home) == ["runner_token"]  # no temporary file left behind


def test_tiers_starting_at_once_agree_on_one_token(home: Path) -> None:
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def start() -> None:
        barrier.wait()
        tokens.append(host_token())

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert os.listdir(home) == ["runner_token"]


def test_a_given_token_wins_and_no_file_is_written(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner_server_token("from-flag") == ("from-flag", "--token")
    monkeypatch.setenv("BENTOML_RUNNER_TOKEN", "from-env")
    assert runner_server_token(None) == ("from-env", "BENTOML_RUNNER_TOKEN")
    assert http_server_token(None, ["tcp://10.0.0.5:3001"]) == "from-env"
    assert http_server_token("from-flag", ["tcp://10.0.0.5:3001"]) == "from-flag"
    assert not home.exists()


def test_unix_socket_runners_need_no_token(home: Path) -> None:
    assert http_server_token(None, ["file:///tmp/r.sock"]) is None
    assert not home.exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "localhost", "[::1]"])
def test_loopback_runners_share_the_hosts_token(host: str) -> None:
    assert http_server_token(None, [f"tcp://{host}:3001"]) == host_token()


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:3001", "tcps://runner.internal:3001"])
def test_a_runner_on_another_host_needs_the_token_set(home: Path, address: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        http_server_token(None, ["tcp://127.0.0.1:3001", address])
    message = info.value.message
    assert address in message and "BENTOML_RUNNER_TOKEN" in message and "--token" in message
    assert "127.0.0.1" not in message  # only the runner that is elsewhere
    assert not home.exists()


def test_a_token_file_others_can_read_is_refused(home: Path) -> None:
    token = host_token()
    os.chmod(token_path(), 0o644)
    with pytest.raises(InvalidArgument, match="chmod 600") as info:
        host_token()
    assert token not in info.value.message
    os.chmod(token_path(), 0o600)
    assert host_token() == token


def test_an_empty_token_file_is_refused(home: Path) -> None:
    home.mkdir()
    descriptor = os.open(home / "runner_token", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(descriptor)
    with pytest.raises(InvalidArgument, match="empty"):
        host_token()


def test_a_home_where_no_token_can_be_written_says_to_set_one(home: Path) -> None:
    home.parent.joinpath("home").write_text("a file where a directory should be")
    with pytest.raises(InvalidArgument, match="BENTOML_RUNNER_TOKEN") as info:
        host_token()
    assert str(home / "runner_token") in info.value.message
