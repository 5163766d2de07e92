"""The private socket directory of `bentoml serve`, and the sweep of directories left behind by
arbiters that were killed (SIGKILL leaves them no chance to clean up)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bentoml_classic.serving.sockets import (
    SOCKET_DIR_PREFIX,
    private_socket_dir,
    sweep_stale_socket_dirs,
)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_directory_is_private_names_its_arbiter_and_goes_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with private_socket_dir() as path:
        assert os.path.basename(path).startswith(f"{SOCKET_DIR_PREFIX}{os.getpid()}-")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        Path(path, "r0-1.sock").touch()
    assert not os.path.exists(path)


def test_sweep_removes_only_directories_of_arbiters_that_are_gone(tmp_path: Path) -> None:
    stale = tmp_path / f"{SOCKET_DIR_PREFIX}{dead_pid()}-abc"
    stale.mkdir()
    (stale / "circus-control.sock").touch()
    alive = tmp_path / f"{SOCKET_DIR_PREFIX}{os.getpid()}-def"
    alive.mkdir()
    others = [
        tmp_path / f"{SOCKET_DIR_PREFIX}{dead_pid()}",  # not a name we make
        tmp_path / f"{SOCKET_DIR_PREFIX}notapid-x",
        tmp_path / f"bentoml-{dead_pid()}-x",  # another prefix
        tmp_path / "unrelated",
    ]
    for path in others:
        path.mkdir()
    a_file = tmp_path / f"{SOCKET_DIR_PREFIX}{dead_pid()}-file"
    a_file.write_text("not a directory")

    removed = sweep_stale_socket_dirs(str(tmp_path))

    assert removed == [str(stale)]
    assert not stale.exists()
    assert alive.is_dir() and a_file.is_file()
    assert all(path.is_dir() for path in others)


def test_sweep_of_a_missing_parent_is_a_no_op(tmp_path: Path) -> None:
    assert sweep_stale_socket_dirs(str(tmp_path / "nowhere")) == []


def test_a_new_directory_sweeps_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"{SOCKET_DIR_PREFIX}{dead_pid()}-old"
    stale.mkdir()
    with private_socket_dir():
        assert not stale.exists()
